/**
 * `masq sip-proxy` in path mode (RFC 3327) in front of an existing
 * registrar, Kamailio (registrar, usrloc in memory, path), both on the lab's
 * internet side (srv):
 *
 *   bob (sipp, h3 behind a kernel NAT) registers through masq: the REGISTER
 *   reaches Kamailio with a Path naming masq and bob's Contact untouched;
 *   a caller on the internet side calls bob at Kamailio, which sends the
 *   INVITE along the stored Path: back through masq, which delivers it to
 *   bob's NAT binding and relays the media both ways.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess } from './topology.js';
import { Capture, exitCodes, fixture, G711A_PCAP, sipMessages, waitListening } from './fixtures/sip-lab.js';
import { answeringPhone, callingPhone, finishLab, mediaTo as media, nftLivePorts, PROXY, proxyConfig, proxyJson, REFERENCE, registerPhone, SSRC_A, SSRC_B, startProxy, writeCallMedia } from './fixtures/sipproxy-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'kamailio', 'dumpcap', 'tshark', G711A_PCAP] });

const H3 = LAB.lan2.h3;
/** The caller: the internet router's address toward the servers (no NAT in its way). */
const CALLER = LAB.servers.router;
const PACKETS = 120;
/** See sipproxy-calls.test.ts: toward a phone behind a NAT, the first packets are lost until it sends. */
const MIN_SHARE = 0.75;

describe('masq sip-proxy: path mode in front of Kamailio as registrar', { skip: pre.skip }, () => {
  let lab: LabTopology;
  let proxy: LabProcess;
  let kamailio: LabProcess;

  before(async () => {
    pre.assert();
    lab = LabTopology.create('sph');
    writeCallMedia(lab, G711A_PCAP, PACKETS);
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelNat('gw2', 'masquerade fully-random');
    const cfg = lab.writeFile('kamailio-registrar.cfg', readFileSync(fixture('sipproxy-kamailio-registrar.cfg'), 'utf8').replaceAll('LISTEN_ADDRESS', REFERENCE));
    kamailio = lab.spawn('srv', ['kamailio', '-f', cfg, '-DD', '-E', '-Y', lab.dir], 'kamailio');
    await waitListening(lab, 'srv', 'udp', REFERENCE, 5060, 30_000);
    proxy = await startProxy(lab, proxyConfig({ extra: `mode: path\nregistrar: sip:${REFERENCE}:5060` }));
  });

  after(async () => {
    await kamailio?.stop('SIGTERM');
    await finishLab(lab, proxy);
  });

  test('bob registers through masq to Kamailio (Path added, Contact untouched); a call from Kamailio comes back through masq to his NAT binding', async () => {
    // Between masq and Kamailio (both on srv) the messages cross srv's loopback.
    const between = await Capture.start(lab, 'srv', 'path-srv-lo', { dev: 'lo' });
    const atBob = await Capture.start(lab, 'h3', 'path-h3');
    const atCaller = await Capture.start(lab, 'inet', 'path-inet', { dev: 'srv0' });
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0, 'bob registered (Kamailio\'s 200 came back through masq)');
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    const caller = callingPhone(lab, 'inet', CALLER, { to: 'bob', proxy: REFERENCE });
    const codes = await exitCodes([caller, bob], 40_000);
    for (const c of [between, atBob, atCaller]) await c.stop();
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}\nkamailio:\n${kamailio.output.slice(-2000)}`);

    const register = sipMessages(between.file).find((m) => m.method === 'REGISTER' && m.dst === REFERENCE);
    assert.ok(register, 'the REGISTER went on to Kamailio');
    assert.match(register.contact, new RegExp(`sip:bob@${H3.replace(/\./g, '\\.')}:5060`), 'Contact left as bob wrote it (his private address)');
    const path = execFileSync('tshark', ['-r', between.file, '-n', '-Y', `sip.Method == "REGISTER" && ip.dst == ${REFERENCE}`, '-T', 'fields', '-e', 'sip.Path'], { encoding: 'utf8' }).trim();
    assert.match(path, new RegExp(`^<sip:(?:[^@>]*@)?${PROXY.replace(/\./g, '\\.')}(:5060)?;(?:[^>]*;)?lr\\b`), `the Path names masq (${path})`);
    assert.equal(proxyJson(lab, '/counters').proxy.registrations, 0, 'masq stored nothing itself');

    const invite = sipMessages(between.file).find((m) => m.method === 'INVITE' && m.src === REFERENCE && m.dst === PROXY);
    assert.ok(invite, 'Kamailio sent the INVITE along the Path, to masq');
    const atPhone = sipMessages(atBob.file).find((m) => m.method === 'INVITE');
    assert.ok(atPhone, 'bob got the INVITE at his NAT binding');
    assert.equal(atPhone.sdpConnection, PROXY, 'anchored on masq\'s relay');
    const toBob = media(atBob.file, H3, 6000, SSRC_A);
    const toCaller = media(atCaller.file, CALLER, 6000, SSRC_B);
    assert.ok(toBob.length >= MIN_SHARE * PACKETS && toBob.length <= PACKETS, `bob got ${toBob.length} of ${PACKETS}`);
    assert.ok(toCaller.length >= MIN_SHARE * PACKETS && toCaller.length <= PACKETS, `the caller got ${toCaller.length} of ${PACKETS}`);
    assert.ok(toBob.every((d) => d.src === PROXY) && toCaller.every((d) => d.src === PROXY), 'media through masq\'s relay');
    assert.deepEqual(proxyJson(lab, '/calls').calls, [], 'no call left');
    assert.deepEqual(nftLivePorts(lab), [], 'no pinhole left');
  });
});

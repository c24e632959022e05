/**
 * The reference, in the same lab and run as masq's own calls: Kamailio
 * (registrar, nathelper, record-route) with its rtpengine module, phones
 * behind kernel NATs (bob on h3 behind gw2 registers, h1 behind gw1 calls
 * him), each side playing RTP counted at the phones:
 *
 *   a. the media relay is rtpengine in user-space mode (`--table=-1`);
 *   b. the same Kamailio configuration with its rtpengine module pointed at
 *      masq's ng port instead: masq's relay, driven over ng, carries the
 *      call's media, and frees its ports at the BYE.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess, type Role } from './topology.js';
import { Capture, exitCodes, fixture, G711A_PCAP, sipMessages, waitListening } from './fixtures/sip-lab.js';
import { answeringPhone, callingPhone, finishLab, mediaTo as media, NG_PORT, nftLivePorts, PROXY, proxyConfig, proxyJson, REFERENCE, registerPhone, RTPENGINE_NG_PORT, SSRC_A, SSRC_B, startProxy, writeCallMedia } from './fixtures/sipproxy-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'kamailio', 'rtpengine', 'dumpcap', 'tshark', G711A_PCAP] });

const H1 = LAB.lan1.h1;
const H3 = LAB.lan2.h3;
const PACKETS = 120;
/** See sipproxy-calls.test.ts: toward a phone behind a NAT, the first packets are lost until it sends. */
const MIN_SHARE = 0.75;

describe('Kamailio with rtpengine as the reference, and Kamailio driving masq\'s relay over ng', { skip: pre.skip }, () => {
  let lab: LabTopology;
  let proxy: LabProcess;
  let rtpengine: LabProcess;

  before(async () => {
    pre.assert();
    lab = LabTopology.create('spq');
    writeCallMedia(lab, G711A_PCAP, PACKETS);
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelNat('gw2', 'masquerade fully-random');
    rtpengine = lab.spawn(
      'srv',
      ['rtpengine', '--config-file=none', '--table=-1', '--foreground', '--log-stderr', `--interface=${REFERENCE}`, `--listen-ng=127.0.0.1:${RTPENGINE_NG_PORT}`, '--port-min=40000', '--port-max=40999', '--endpoint-learning=immediate'],
      'rtpengine',
    );
    await waitListening(lab, 'srv', 'udp', '127.0.0.1', RTPENGINE_NG_PORT, 30_000);
    proxy = await startProxy(lab, proxyConfig());
  });

  after(async () => {
    await rtpengine?.stop('SIGTERM');
    await finishLab(lab, proxy);
  });

  async function withKamailio<T>(ngPort: number, run: (k: LabProcess) => Promise<T>): Promise<T> {
    const cfg = readFileSync(fixture('sipproxy-kamailio-rtpengine.cfg'), 'utf8').replaceAll('LISTEN_ADDRESS', REFERENCE).replaceAll('NG_SOCKET', `udp:127.0.0.1:${ngPort}`);
    const file = lab.writeFile(`kamailio-ng-${ngPort}.cfg`, cfg);
    const k = lab.spawn('srv', ['kamailio', '-f', file, '-DD', '-E', '-Y', lab.dir], `kamailio (ng ${ngPort})`);
    try {
      await waitListening(lab, 'srv', 'udp', REFERENCE, 5060, 30_000);
      return await run(k);
    } finally {
      await k.stop('SIGTERM');
    }
  }

  async function captures(roles: Role[], name: string): Promise<Map<Role, Capture>> {
    const m = new Map<Role, Capture>();
    for (const r of roles) m.set(r, await Capture.start(lab, r, `${name}-${r}`));
    return m;
  }

  /** bob registers at Kamailio through his NAT, h1 calls him; media counted at both phones, sent by `relay`. */
  async function callThroughKamailio(k: LabProcess, relay: string, name: string): Promise<void> {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob', proxy: REFERENCE }), 0, 'bob registered at Kamailio');
    const caps = await captures(['h1', 'h3'], name);
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', proxy: REFERENCE });
    const codes = await exitCodes([caller, bob], 40_000);
    for (const c of caps.values()) await c.stop();
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}\nkamailio:\n${k.output.slice(-2000)}`);
    const invite = sipMessages(caps.get('h3')!.file).find((m) => m.method === 'INVITE');
    assert.ok(invite, 'bob got the INVITE');
    assert.equal(invite.sdpConnection, relay, 'the SDP bob reads names the relay');
    const toBob = media(caps.get('h3')!.file, H3, 6000, SSRC_A);
    const toCaller = media(caps.get('h1')!.file, H1, 6000, SSRC_B);
    assert.ok(toBob.length >= MIN_SHARE * PACKETS && toBob.length <= PACKETS, `bob got ${toBob.length} of ${PACKETS}`);
    assert.ok(toCaller.length >= MIN_SHARE * PACKETS && toCaller.length <= PACKETS, `the caller got ${toCaller.length} of ${PACKETS}`);
    assert.ok(toBob.every((d) => d.src === relay) && toCaller.every((d) => d.src === relay), `media comes from the relay ${relay}`);
  }

  test('a. reference: Kamailio with rtpengine (user space), phones behind kernel NATs, RTP both ways', async () => {
    await withKamailio(RTPENGINE_NG_PORT, (k) => callThroughKamailio(k, REFERENCE, 'kam-rtpengine'));
  });

  test('b. Kamailio\'s rtpengine module driving masq\'s relay over ng: the same call, media through masq', async () => {
    const before = proxyJson(lab, '/counters');
    await withKamailio(NG_PORT, (k) => callThroughKamailio(k, PROXY, 'kam-masq'));
    const after = proxyJson(lab, '/counters');
    assert.equal(after.relay.callsCreated - before.relay.callsCreated, 1, 'one call on masq\'s relay');
    assert.ok(after.relay.packets - before.relay.packets >= 2 * MIN_SHARE * PACKETS, `masq's relay forwarded ${after.relay.packets - before.relay.packets} packets`);
    const ng = (c: string) => (after.ng.byCommand[c] ?? 0) - (before.ng.byCommand[c] ?? 0);
    assert.ok(ng('offer') >= 1 && ng('answer') >= 1 && ng('delete') >= 1, `Kamailio sent offer, answer and delete over ng (${JSON.stringify(after.ng.byCommand)})`);
    assert.equal(after.ng.errors - before.ng.errors, 0, 'no ng request refused');
    assert.equal(after.proxy.received - before.proxy.received, 0, 'no SIP reached masq\'s proxy: Kamailio did the signalling');
    assert.deepEqual(proxyJson(lab, '/calls').calls, [], 'Kamailio\'s delete (at the BYE) ended the call on masq\'s relay');
    assert.deepEqual(nftLivePorts(lab), [], 'no pinhole left');
  });
});

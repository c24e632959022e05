/**
 * `masq sip-proxy` with other kinds of phone signalling, in the lab of
 * test/lab/topology.ts (phones behind kernel NATs without SIP helpers):
 *
 *   a. TLS: a sipp caller (h1 behind gw1) calls bob (sipp, h3 behind gw2)
 *      through the proxy's TLS listener, with a certificate made by openssl
 *      for this run; Debian's sipp has no TLS, so the caller's TCP goes
 *      through a bridge in its own namespace that speaks TLS to the proxy
 *      and verifies its certificate. Each side plays RTP, counted at both
 *      phones;
 *   b. baresip to baresip: bob (baresip, h3) registers through his NAT and
 *      answers on his own; alice (baresip, h1) calls him through the proxy;
 *      each plays a tone (aufile) and both receive the other's RTP through
 *      the relay, counted by captures at the phones.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess, type Role } from './topology.js';
import { Capture, exitCodes, fixture, G711A_PCAP, sipMessages, udpDatagrams, type Datagram } from './fixtures/sip-lab.js';
import { answeringPhone, callingPhone, DOMAIN, finishLab, mediaTo as media, nftLivePorts, PROXY, proxyConfig, proxyJson, registerPhone, SSRC_A, SSRC_B, startProxy, writeCallMedia } from './fixtures/sipproxy-lab.js';
import { baresipPhone } from './fixtures/sipproxy-baresip.js';
import { selfSignedCertificate } from './fixtures/sipproxy-certificate.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'baresip', 'openssl', 'dumpcap', 'tshark', G711A_PCAP] });

const H1 = LAB.lan1.h1;
const H3 = LAB.lan2.h3;
const PACKETS = 120;
/** See sipproxy-calls.test.ts: toward a phone behind a NAT, the first packets are lost until it sends. */
const MIN_SHARE = 0.75;
/** Where the caller's sipp reaches its TLS bridge. */
const BRIDGE_PORT = 5062;
/** How long alice's tone (and so the baresip call) lasts. */
const CALL_SECONDS = 5;

describe('masq sip-proxy: TLS signalling and baresip phones', { skip: pre.skip }, () => {
  let lab: LabTopology;
  let proxy: LabProcess;
  let certificate: { cert: string; key: string };

  before(async () => {
    pre.assert();
    lab = LabTopology.create('spp');
    writeCallMedia(lab, G711A_PCAP, PACKETS);
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelNat('gw2', 'masquerade fully-random');
    certificate = selfSignedCertificate(lab.dir, PROXY);
    proxy = await startProxy(lab, proxyConfig({ listen: `  - { transport: tls, address: ${PROXY}, port: 5061, certificate: ${certificate.cert}, key: ${certificate.key} }` }));
  });

  after(() => finishLab(lab, proxy));

  const flows = (ds: Datagram[]) => [...new Set(ds.map((d) => `${d.src}:${d.sport}>${d.dst}:${d.dport}`))].join(' ');

  async function captures(roles: Role[], name: string): Promise<Map<Role, Capture>> {
    const m = new Map<Role, Capture>();
    for (const r of roles) m.set(r, await Capture.start(lab, r, `${name}-${r}`));
    return m;
  }

  function assertNoLeftovers(): void {
    assert.deepEqual(proxyJson(lab, '/calls').calls, [], 'the proxy lists no call after the BYE');
    assert.deepEqual(nftLivePorts(lab), [], 'the nftables table admits none of the call\'s ports');
  }

  test('a. h1 calls bob (h3) over TLS, RTP both ways through the relay', async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0, 'bob registered');
    const bridge = lab.spawn('h1', [process.execPath, '--import', 'tsx', fixture('sipproxy-tls-bridge.ts'), H1, String(BRIDGE_PORT), PROXY, '5061', certificate.cert], 'tls bridge');
    await bridge.waitFor(/listening/, 30_000);
    const before = proxyJson(lab, '/counters').transport;
    const caps = await captures(['h1', 'h3'], 'a-tls');
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    // sipp's "remote" is the bridge; every request it sends (INVITE, ACK, BYE) goes over that one connection.
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', transport: 't1', proxy: `${H1}:${BRIDGE_PORT}` });
    const codes = await exitCodes([caller, bob], 40_000);
    for (const c of caps.values()) await c.stop();
    await bridge.stop();
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}\nbridge:\n${bridge.output}`);
    assert.match(bridge.output, /tls TLSv1\.[23] to .* verified/, 'the bridge spoke TLS to the proxy and verified its certificate');
    const atCaller = caps.get('h1')!.file;
    const atBob = caps.get('h3')!.file;
    // On the caller's wire toward the internet there is no clear-text SIP: only TLS to port 5061.
    const clearText = sipMessages(atCaller, [5061]).filter((m) => (m.dst === PROXY || m.src === PROXY) && (m.method !== '' || m.status !== null));
    assert.deepEqual(clearText, [], 'no clear-text SIP between the caller and the proxy');
    const invite = sipMessages(atBob).find((m) => m.method === 'INVITE');
    assert.ok(invite, 'bob got the INVITE');
    assert.equal(invite.sdpConnection, PROXY, 'the SDP bob reads names the relay');
    const toBob = media(atBob, H3, 6000, SSRC_A);
    const toCaller = media(atCaller, H1, 6000, SSRC_B);
    assert.ok(toBob.length >= MIN_SHARE * PACKETS && toBob.length <= PACKETS, `bob got ${toBob.length} of the caller's ${PACKETS}: ${flows(toBob)}`);
    assert.ok(toCaller.length >= MIN_SHARE * PACKETS && toCaller.length <= PACKETS, `the caller got ${toCaller.length} of bob's ${PACKETS}: ${flows(toCaller)}`);
    assert.ok(toBob.every((d) => d.src === PROXY) && toCaller.every((d) => d.src === PROXY), 'media comes from the relay');
    const after = proxyJson(lab, '/counters').transport;
    assert.equal(after.connectionsOpened - before.connectionsOpened, 1, 'one connection: the caller\'s, over TLS');
    assert.ok(after.streamMessagesIn - before.streamMessagesIn >= 3, 'INVITE, ACK and BYE came over it');
    assertNoLeftovers();
  });

  test('b. baresip to baresip: bob registers through his NAT, alice calls him, media both ways through the relay', async () => {
    const bobArgv = baresipPhone(lab.dir, { user: 'bob', domain: DOMAIN, addr: H3, proxy: PROXY, seconds: 20, rtpPort: 6000, register: 600 });
    const aliceArgv = baresipPhone(lab.dir, { user: 'alice', domain: DOMAIN, addr: H1, proxy: PROXY, seconds: CALL_SECONDS, rtpPort: 6000, register: 0 });
    const before = proxyJson(lab, '/counters');
    const caps = await captures(['h1', 'h3'], 'b-baresip');
    const bob = lab.spawn('h3', bobArgv(30), 'baresip bob');
    await bob.waitFor(/200 OK.*binding/, 20_000);
    assert.equal(proxyJson(lab, '/counters').proxy.registrations - before.proxy.registrations, 1, 'the proxy stored bob\'s binding');
    // alice hangs up when her tone ends (a BYE through the proxy), and quits a little later.
    const alice = lab.spawn('h1', aliceArgv(CALL_SECONDS + 8, `sip:bob@${DOMAIN}`), 'baresip alice');
    await alice.exited(40_000);
    await bob.stop();
    for (const c of caps.values()) await c.stop();
    assert.match(alice.output, /Call established/, `alice:\n${alice.output.slice(-3000)}`);
    assert.match(bob.output, /Call established/, `bob:\n${bob.output.slice(-3000)}`);
    assert.match(bob.output, /terminated|closed/i, 'alice\'s BYE reached bob');
    const atAlice = caps.get('h1')!.file;
    const atBob = caps.get('h3')!.file;
    const invite = sipMessages(atBob).find((m) => m.method === 'INVITE');
    assert.ok(invite, 'bob got the INVITE at his registered binding');
    assert.equal(invite.sdpConnection, PROXY, 'the SDP bob reads names the relay');
    const rtp = (file: string, to: string) => udpDatagrams(file).filter((d) => d.dst === to && d.dport === 6000 && d.ssrc !== '');
    const sentBy = (file: string, from: string) => udpDatagrams(file).filter((d) => d.src === from && d.sport === 6000 && d.ssrc !== '').length;
    const toBob = rtp(atBob, H3);
    const toAlice = rtp(atAlice, H1);
    const fromAlice = sentBy(atAlice, H1);
    const fromBob = sentBy(atBob, H3);
    // 50 packets/s each way while the call lasts.
    assert.ok(fromAlice >= 40 * (CALL_SECONDS - 2) && fromBob >= 40 * (CALL_SECONDS - 2), `both phones sent (${fromAlice}, ${fromBob})`);
    assert.ok(toBob.length >= MIN_SHARE * fromAlice && toBob.length <= fromAlice, `bob got ${toBob.length} of the ${fromAlice} alice sent: ${flows(toBob)}`);
    assert.ok(toAlice.length >= MIN_SHARE * fromBob && toAlice.length <= fromBob, `alice got ${toAlice.length} of the ${fromBob} bob sent: ${flows(toAlice)}`);
    assert.ok(toBob.every((d) => d.src === PROXY) && toAlice.every((d) => d.src === PROXY), 'media comes from the relay');
    const after = proxyJson(lab, '/counters');
    assert.ok(after.relay.packets - before.relay.packets >= toBob.length + toAlice.length, 'the relay forwarded what the phones received');
    assertNoLeftovers();
  });
});

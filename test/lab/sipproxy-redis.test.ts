/**
 * Two `masq sip-proxy` instances sharing one Redis (redis-server started by
 * the test in the lab's server namespace), phones behind kernel NATs:
 *
 *   a. bob (sipp, h3 behind gw2) registers through proxy A; a call for him
 *      arriving at proxy B (from h1 behind gw1) finds his binding in Redis
 *      and reaches him through A (the proxy holding his NAT binding), RTP
 *      both ways;
 *   b. Redis restarted under the running proxies (stopped, then started
 *      again empty: no persistence): while it is away proxy A says it is
 *      degraded (status and log) and keeps serving: a call to bob goes
 *      through, a new phone registers; when Redis is back A writes its
 *      registrations back, and a call for bob through B works again.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess, type Role } from './topology.js';
import { Capture, exitCodes, G711A_PCAP, sipMessages } from './fixtures/sip-lab.js';
import { answeringPhone, callingPhone, finishLab, mediaTo as media, nftLivePorts, PROXY, proxyConfig, proxyJson, REFERENCE, registerPhone, SSRC_A, SSRC_B, startProxy, writeCallMedia } from './fixtures/sipproxy-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'redis-server', 'redis-cli', 'dumpcap', 'tshark', G711A_PCAP] });

const H1 = LAB.lan1.h1;
const H2 = LAB.lan1.h2;
const H3 = LAB.lan2.h3;
const PACKETS = 120;
/** See sipproxy-calls.test.ts: toward a phone behind a NAT, the first packets are lost until it sends. */
const MIN_SHARE = 0.75;
const REDIS_PORT = 6390;
const STATUS_A = 5081;
const STATUS_B = 5082;
const store = `store: { redis: "redis://127.0.0.1:${REDIS_PORT}/0", prefix: "masq:sip" }`;

describe('masq sip-proxy: two proxies sharing one Redis, and Redis restarted under them', { skip: pre.skip }, () => {
  let lab: LabTopology;
  let redis: LabProcess;
  let proxyA: LabProcess;
  let proxyB: LabProcess;

  async function startRedis(): Promise<LabProcess> {
    const p = lab.spawn('srv', ['redis-server', '--bind', '127.0.0.1', '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], 'redis');
    await p.waitFor(/Ready to accept connections/, 20_000);
    return p;
  }

  before(async () => {
    pre.assert();
    lab = LabTopology.create('spr');
    writeCallMedia(lab, G711A_PCAP, PACKETS);
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelNat('gw2', 'masquerade fully-random');
    redis = await startRedis();
    proxyA = await startProxy(lab, proxyConfig({ id: 'proxy-a', ngPort: null, statusPort: STATUS_A, extra: store }), 'proxy-a');
    proxyB = await startProxy(lab, proxyConfig({ id: 'proxy-b', address: REFERENCE, ngPort: null, statusPort: STATUS_B, media: '  table: masq_sipproxy_b', extra: store }), 'proxy-b');
  });

  after(async () => {
    await proxyB?.stop();
    if (process.env.MASQ_LAB_PROXY_LOG) writeFileSync(`${process.env.MASQ_LAB_PROXY_LOG}.b`, proxyB?.output ?? '');
    await finishLab(lab, proxyA);
  });

  const counters = (port: number) => proxyJson(lab, '/counters', port);

  async function captures(roles: Role[], name: string): Promise<Map<Role, Capture>> {
    const m = new Map<Role, Capture>();
    for (const r of roles) m.set(r, await Capture.start(lab, r, `${name}-${r}`));
    return m;
  }

  /** Polls (bounded) until `ok` holds for proxy A's store health; returns it. */
  async function waitForStore(port: number, ok: (s: any) => boolean, what: string, timeoutMs = 20_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let s: any;
    while (Date.now() < deadline) {
      s = counters(port).store;
      if (ok(s)) return s;
      await sleep(200);
    }
    throw new Error(`${what}: store health still ${JSON.stringify(s)} after ${timeoutMs} ms`);
  }

  function redisBindings(user: string): string[] {
    const r = lab.exec('srv', ['redis-cli', '-p', String(REDIS_PORT), 'HKEYS', `masq:sip:aor:${user}@example.org`]);
    return r.stdout.split('\n').filter(Boolean);
  }

  /** h1 calls bob through `proxy`; bob (h3) answers; RTP both ways, counted at both phones. */
  async function callBob(proxy: string, name: string): Promise<void> {
    // A fresh REGISTER opens bob's NAT binding again (the lab's NATs forget an idle UDP binding after 30 s).
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0, 'bob registered through A');
    const caps = await captures(['h1', 'h3'], name);
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', proxy });
    const codes = await exitCodes([caller, bob], 40_000);
    for (const c of caps.values()) await c.stop();
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    const atBob = caps.get('h3')!.file;
    const atCaller = caps.get('h1')!.file;
    const invite = sipMessages(atBob).find((m) => m.method === 'INVITE');
    assert.ok(invite, 'bob got the INVITE');
    assert.equal(invite.src, PROXY, 'from proxy A, which holds his NAT binding');
    const toBob = media(atBob, H3, 6000, SSRC_A);
    const toCaller = media(atCaller, H1, 6000, SSRC_B);
    assert.ok(toBob.length >= MIN_SHARE * PACKETS && toBob.length <= PACKETS, `bob got ${toBob.length} of ${PACKETS}`);
    assert.ok(toCaller.length >= MIN_SHARE * PACKETS && toCaller.length <= PACKETS, `the caller got ${toCaller.length} of ${PACKETS}`);
    // Each proxy anchors the media on its own relay: bob hears A's, the caller the relay of the proxy it called.
    assert.ok(toBob.every((d) => d.src === PROXY), 'bob\'s media comes from A\'s relay');
    assert.ok(toCaller.every((d) => d.src === proxy), 'the caller\'s media comes from the relay of the proxy it called');
    for (const port of [STATUS_A, STATUS_B]) assert.deepEqual(proxyJson(lab, '/calls', port).calls, [], 'no call left');
    assert.deepEqual(nftLivePorts(lab), [], 'no pinhole left at A');
    assert.deepEqual(nftLivePorts(lab, 'masq_sipproxy_b'), [], 'no pinhole left at B');
  }

  test('a. bob registers through proxy A; a call for him arriving at proxy B reaches his NAT binding through A', async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0, 'bob registered through A');
    assert.equal(redisBindings('bob').length, 1, 'his binding is in Redis');
    assert.equal(counters(STATUS_A).store.state, 'ok');
    await callBob(REFERENCE, 'a-via-b');
  });

  test('b. Redis restarted: A serves degraded and says so, then writes its registrations back', async () => {
    await redis.stop('SIGTERM');
    const down = await waitForStore(STATUS_A, (s) => s.state === 'degraded', 'A noticed Redis gone');
    assert.ok(down.degradedSince > 0);
    // Still serving: a new phone registers, and a call for bob through A reaches him.
    assert.equal(await registerPhone(lab, 'h2', H2, { user: 'alice', port: 5070 }), 0, 'alice registered while Redis was away');
    await callBob(PROXY, 'b-degraded');
    assert.match(proxyA.output, /"event":"store-degraded"/, 'A logged that it is degraded');
    // Back, empty (no persistence): A writes bob and alice back.
    redis = await startRedis();
    const back = await waitForStore(STATUS_A, (s) => s.state === 'ok', 'A noticed Redis back');
    assert.ok(back.resyncedBindings >= 2, `A wrote back ${back.resyncedBindings} bindings`);
    assert.match(proxyA.output, /"event":"store-restored"/, 'A logged its return');
    assert.equal(redisBindings('bob').length, 1, 'bob\'s binding is in Redis again');
    assert.equal(redisBindings('alice').length, 1, 'and alice\'s, made while it was away');
    await waitForStore(STATUS_B, (s) => s.state === 'ok', 'B back on Redis');
    await callBob(REFERENCE, 'b-after');
  });
});

/**
 * The media relay without sockets or timers (FakeRelayNet, ManualScheduler):
 * SDP anchoring, strict latching against a sprayer, forwarding both ways,
 * hold, pinholes, the hand-over to the kernel and back, timeouts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEdits } from '../../src/alg/text/apply-edits.js';
import { MediaRelay, type MediaRelayOptions } from '../../src/sipproxy/media/relay.js';
import { FakeKernel, FakeRelayNet, ManualScheduler, rtp } from './fixtures/fake-relay-net.js';

const RELAY = '198.51.100.10';
const NAT_A = '203.0.113.1';
const NAT_B = '203.0.113.2';
const ATTACKER = '198.51.100.66';

function sdp(addr: string, port: number, extra = ''): Uint8Array {
  return new Uint8Array(Buffer.from(`v=0\r\no=- 1 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n${extra}`, 'latin1'));
}

function rewritten(body: Uint8Array, edits: Parameters<typeof applyEdits>[1]): string {
  const r = applyEdits(body, edits);
  assert.ok(r.ok);
  return Buffer.from(r.bytes).toString('latin1');
}

function setup(o: Partial<MediaRelayOptions> = {}) {
  const net = new FakeRelayNet();
  const scheduler = new ManualScheduler();
  const pinholes = { open: new Set<number>(), opened: 0 };
  let seed = 1;
  const relay = new MediaRelay({
    address: RELAY,
    ports: { min: 30000, max: 30099 },
    latch: 'signalling-address',
    removeIce: true,
    timeouts: { mediaMs: 60_000, heldMs: 600_000, offerMs: 30_000, maxCallMs: 4 * 3600_000 },
    binder: net,
    scheduler,
    random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647),
    pinholes: {
      open: (ports) => { for (const p of ports) pinholes.open.add(p); pinholes.opened++; },
      close: (ports) => { for (const p of ports) pinholes.open.delete(p); },
    },
    ...o,
  });
  return { net, scheduler, relay, pinholes };
}

/** An answered call: A (10.0.1.2:6000 behind NAT_A) calls B (10.0.2.2:7000 behind NAT_B). Returns the relay ports each side sends to. */
async function call(relay: MediaRelay, id = 'c1') {
  const offer = sdp('10.0.1.2', 6000);
  const o = await relay.offer(id, 'tagA', NAT_A, { bytes: offer, start: 0, end: offer.length });
  assert.ok(o.ok);
  const offered = rewritten(offer, o.edits);
  const answer = sdp('10.0.2.2', 7000);
  const a = await relay.answer(id, 'tagB', NAT_B, { bytes: answer, start: 0, end: answer.length }, true);
  assert.ok(a.ok);
  const answered = rewritten(answer, a.edits);
  const portOf = (s: string) => Number(/m=audio (\d+)/.exec(s)![1]);
  return { offered, answered, forB: portOf(offered), forA: portOf(answered) };
}

test('offer and answer are anchored: c=, o= and the m= port name the relay, both legs get their own even port', async () => {
  const { relay, pinholes } = setup();
  const c = await call(relay);
  assert.match(c.offered, new RegExp(`c=IN IP4 ${RELAY}\\r\\n`));
  assert.match(c.offered, new RegExp(`o=- 1 1 IN IP4 ${RELAY}\\r\\n`));
  assert.doesNotMatch(c.offered + c.answered, /10\.0\./);
  assert.ok(c.forA % 2 === 0 && c.forB % 2 === 0 && c.forA !== c.forB);
  assert.deepEqual([...pinholes.open].sort(), [c.forA, c.forA + 1, c.forB, c.forB + 1].sort(), 'pinholes for the four ports, no more');
  await relay.close();
});

test('strict latching: a sprayer neither latches a port nor gets media; the phones latch and media flows both ways', async () => {
  const { net, relay } = setup();
  const c = await call(relay);
  // The attacker sprays first (RTP Bleed): refused, and nothing is sent anywhere.
  for (let i = 0; i < 10; i++) {
    assert.ok(net.deliver(c.forA, ATTACKER, 5000 + i, rtp(i)));
    assert.ok(net.deliver(c.forB, ATTACKER, 5000 + i, rtp(i)));
  }
  assert.equal(net.sent.length, 0);
  assert.equal(relay.counters.refusedSource, 20);
  // A's NAT maps its port 6000 to 41000; B's to 42000.
  net.deliver(c.forA, NAT_A, 41000, rtp(1));
  assert.deepEqual(net.sent.at(-1)?.to, NAT_B, 'toward B (its signalling address: its SDP is private)');
  assert.equal(net.sent.at(-1)?.toPort, 7000);
  net.deliver(c.forB, NAT_B, 42000, rtp(1, 0xbbbb));
  assert.equal(net.sent.at(-1)?.to, NAT_A);
  assert.equal(net.sent.at(-1)?.toPort, 41000, 'to the latched source, not the SDP port');
  net.deliver(c.forA, NAT_A, 41000, rtp(2));
  assert.equal(net.sent.at(-1)?.toPort, 42000);
  // After latching, even the phone's own address from another port is refused, and so is the attacker.
  const before = net.sent.length;
  net.deliver(c.forA, NAT_A, 41001, rtp(3));
  net.deliver(c.forA, ATTACKER, 41000, rtp(4));
  assert.equal(net.sent.length, before);
  assert.equal(relay.counters.refusedSource, 22);
  assert.equal(relay.counters.packets, 3);
  await relay.close();
});

test('not-RTP on an RTP port is dropped and counted', async () => {
  const { net, relay } = setup();
  const c = await call(relay);
  net.deliver(c.forA, NAT_A, 41000, new Uint8Array([0x00, 1, 2]));
  assert.equal(relay.counters.notRtp, 1);
  assert.equal(net.sent.length, 0);
  await relay.close();
});

test('BYE frees ports and pinholes; a freed port no longer receives', async () => {
  const { net, relay, pinholes } = setup();
  const c = await call(relay);
  assert.equal(relay.allocator.inUse, 2);
  assert.ok(await relay.end('c1', 'bye'));
  assert.equal(relay.allocator.inUse, 0);
  assert.equal(pinholes.open.size, 0);
  assert.equal(net.deliver(c.forA, NAT_A, 41000), false, 'socket closed');
  assert.equal(relay.counters.endedBy.bye, 1);
});

test('port exhaustion: the offer is refused and counted, nothing leaks', async () => {
  const { relay, pinholes } = setup({ ports: { min: 30000, max: 30005 } }); // three pairs: one call takes two
  await call(relay, 'c1');
  const offer = sdp('10.0.1.3', 6000);
  const r = await relay.offer('c2', 'tagC', NAT_A, { bytes: offer, start: 0, end: offer.length });
  assert.deepEqual(r, { ok: false, reason: 'ports-exhausted' });
  assert.equal(relay.counters.portsExhausted, 1);
  assert.equal(relay.callCount, 1);
  assert.equal(relay.allocator.inUse, 2);
  assert.equal(pinholes.open.size, 4);
  await relay.close();
});

test('timeouts: unanswered offer, media silence, and a held call that gets the longer timeout', async () => {
  const { relay, scheduler } = setup({ timeouts: { mediaMs: 60_000, heldMs: 300_000, offerMs: 30_000, maxCallMs: 3600_000 } });
  const ended: string[] = [];
  relay.onEnded = (id, reason) => ended.push(`${id}:${reason}`);
  const offer = sdp('10.0.1.2', 6000);
  await relay.offer('lonely', 'tagA', NAT_A, { bytes: offer, start: 0, end: offer.length });
  await call(relay, 'silent');
  const held = sdp('10.0.1.4', 6000, 'a=sendonly\r\n');
  await relay.offer('held', 'tagH', NAT_A, { bytes: held, start: 0, end: held.length });
  const ans = sdp('10.0.2.4', 7000, 'a=recvonly\r\n');
  await relay.answer('held', 'tagB', NAT_B, { bytes: ans, start: 0, end: ans.length }, true);
  scheduler.advance(31_000);
  assert.deepEqual(ended, ['lonely:offer-timeout']);
  scheduler.advance(30_000);
  assert.deepEqual(ended, ['lonely:offer-timeout', 'silent:media-timeout']);
  scheduler.advance(200_000);
  assert.equal(ended.length, 2, 'the held call is still there');
  scheduler.advance(100_000);
  assert.deepEqual(ended.at(-1), 'held:media-timeout');
  assert.equal(relay.allocator.inUse, 0);
  await relay.close();
});

test('kernel forwarding: once both sides latched the pair goes to the kernel; a re-offer takes it back; counters come from the kernel', async () => {
  const kernel = new FakeKernel();
  const { net, relay, scheduler } = setup({ kernel, kernelPollMs: 1000 });
  const c = await call(relay);
  net.deliver(c.forA, NAT_A, 41000, rtp(1));
  assert.equal(kernel.installs, 0, 'one side latched is not enough');
  net.deliver(c.forB, NAT_B, 42000, rtp(1));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(kernel.installs, 1);
  const pair = kernel.installed.get(Math.min(...[...kernel.installed.keys()]))!;
  assert.deepEqual([pair.a.address, pair.a.port, pair.b.address, pair.b.port].sort(), [41000, 42000, NAT_A, NAT_B].sort());
  kernel.counts_.set(pair.a.relayPort, { aPackets: 500, aBytes: 86_000, bPackets: 400, bBytes: 68_800 });
  scheduler.advance(1000);
  await new Promise((r) => setImmediate(r));
  assert.equal(relay.counters.kernelPackets, 900);
  // Kernel traffic keeps the call alive past the media timeout.
  for (let t = 0; t < 70; t++) {
    kernel.counts_.set(pair.a.relayPort, { aPackets: 500 + t * 50, aBytes: 0, bPackets: 400 + t * 50, bBytes: 0 });
    scheduler.advance(1000);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(relay.callCount, 1);
  const reoffer = sdp('10.0.1.2', 6002);
  const r = await relay.offer('c1', 'tagA', NAT_A, { bytes: reoffer, start: 0, end: reoffer.length });
  assert.ok(r.ok);
  assert.equal(kernel.installed.size, 0, 're-INVITE: back to user space');
  assert.equal(relay.counters.kernelRemoved, 1);
  await relay.close();
});

test('pinholes first: the offer is answered only once its ports admit packets; a call ended meanwhile fails the offer', async () => {
  const gates: Array<() => void> = [];
  const { relay } = setup({
    pinholes: { open: () => new Promise<void>((resolve) => gates.push(resolve)), close: () => {} },
  });
  const offer = sdp('10.0.1.2', 6000);
  let settled = false;
  const o = relay.offer('c1', 'tagA', NAT_A, { bytes: offer, start: 0, end: offer.length }).then((r) => ((settled = true), r));
  await new Promise((r) => setImmediate(r));
  assert.equal(gates.length, 1, 'one open for the stream');
  assert.equal(settled, false, 'no SDP (no relay port named) before the pinholes are open');
  gates[0]();
  assert.ok((await o).ok);
  // A second call whose pinholes are still opening when it ends.
  const o2 = relay.offer('c2', 'tagA', NAT_A, { bytes: offer, start: 0, end: offer.length });
  await new Promise((r) => setImmediate(r));
  assert.equal(gates.length, 2);
  assert.ok(await relay.end('c2', 'cancel'));
  gates[1]();
  const r2 = await o2;
  assert.equal(r2.ok, false);
  assert.equal(relay.allocator.inUse, 2, "only c1's two port pairs are held");
  await relay.close();
});

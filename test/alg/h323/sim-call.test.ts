/**
 * An H.323 call in the simulator, with media checked for real: a caller
 * behind a masq NAT (fastStart Setup, H.245 on its own connection) and a
 * callee on the internet. Each side reads the other's addresses at the
 * offsets the oracle gave for the encoding (not with masq's decoder: the ALG
 * overwrites in place, so the layout is the oracle's), and sends RTP there.
 * Without the ALG the callee is told private addresses and nothing arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator } from '../../../src/dataplane/sim/index.js';
import type { SimTcpConnection } from '../../../src/dataplane/sim/tcp.js';
import { vector, withAddresses, type OracleVector } from './oracle-vectors.js';

const CALLER = '192.168.1.2';
const CALLEE = '198.51.100.20';

/** The addresses of a message, read at the oracle's offsets: "a.b.c.d:port". */
function read(v: OracleVector, bytes: Uint8Array): string[] {
  return v.addresses.map(({ offset: o }) => `${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}:${(bytes[o + 4] << 8) | bytes[o + 5]}`);
}

/** Collects TPKT messages from a connection. */
function messages(c: SimTcpConnection, on: (m: Uint8Array) => void): void {
  let held = new Uint8Array(0);
  c.onData((d) => {
    const b = new Uint8Array(held.length + d.length);
    b.set(held);
    b.set(d, held.length);
    let at = 0;
    while (b.length - at >= 4 && b.length - at >= ((b[at + 2] << 8) | b[at + 3])) {
      const len = (b[at + 2] << 8) | b[at + 3];
      on(b.slice(at, at + len));
      at += len;
    }
    held = b.slice(at);
  });
}

async function call(algs: string[]) {
  const sim = new Simulator({ seed: 3 });
  const internet = sim.segment('internet', { delayMs: 10 });
  const lan = sim.segment('lan', { delayMs: 1 });
  sim.nat('masq', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'], config: { mapping: 'eim', filtering: 'apdf' }, algs });
  const caller = sim.host('caller', lan, `${CALLER}/24`, '192.168.1.1');
  const callee = sim.host('callee', internet, `${CALLEE}/24`);
  const got = { caller: 0, callee: 0 };
  const toCaller: string[] = [];
  // The caller's media sockets: fastStart audio on 5000/5001, the H.245 channel on 5010/5011.
  for (const port of [5000, 5010]) caller.bindUdp({ port }).onMessage(() => got.caller++);
  const callerRtp = caller.bindUdp({ port: 5020 });
  callee.bindUdp({ port: 8000 }).onMessage(() => got.callee++);
  const calleeRtp = callee.bindUdp({ port: 8002 });
  const setupV = vector('setup-v4-faststart-tunnelled');
  const ackV = vector('h245-olc-ack');
  const olcV = vector('h245-olc-audio');
  let h245Seen = false;
  // Callee: answers the Setup, opens H.245 to the caller's announced address, opens a channel, and sends RTP to what it is told.
  callee.tcp.listen(1720, (c) => {
    messages(c, (m) => {
      const [h245, , , , fastRtp] = read(setupV, m);
      toCaller.push(fastRtp);
      const [addr, port] = h245.split(':');
      const h = callee.tcp.connect({ address: addr, port: Number(port) });
      h.onOpen(() => {
        h245Seen = true;
        h.send(withAddresses(olcV, { 0: [CALLEE, 8001] }));
      });
      messages(h, (reply) => toCaller.push(read(ackV, reply)[0]));
    });
  });
  // Caller: Setup with its own addresses; acknowledges the callee's channel on 5010; sends RTP to the callee's port 8000.
  const q931 = caller.tcp.connect({ address: CALLEE, port: 1720 });
  const h245Listener = caller.tcp.listen(6000, (h) => {
    messages(h, () => h.send(withAddresses(ackV, { 0: [CALLER, 5010], 1: [CALLER, 5011] })));
  });
  q931.onOpen(() =>
    q931.send(
      withAddresses(setupV, { 0: [CALLER, 6000], 1: [CALLEE, 1720], 2: [CALLER, 1720], 3: [CALLER, 5001], 4: [CALLER, 5000], 5: [CALLER, 5001], 6: [CALLER, 5003], 7: [CALLER, 5002], 8: [CALLER, 5003] }),
    ),
  );
  await sim.run(2_000);
  for (let i = 0; i < 20; i++) {
    for (const to of toCaller) {
      const [address, port] = to.split(':');
      calleeRtp.send(new Uint8Array(12), { address, port: Number(port) });
    }
    callerRtp.send(new Uint8Array(12), { address: CALLEE, port: 8000 });
    await sim.run(20);
  }
  await sim.run(500);
  h245Listener.close();
  return { got, toCaller, h245Seen };
}

test('sim: a caller behind masq (H.323 ALG): H.245 reaches it through the pinhole, RTP flows both ways on fastStart and H.245 channels', async () => {
  const r = await call(['h323']);
  assert.ok(r.h245Seen, 'the callee connected to the announced H.245 address');
  assert.equal(r.toCaller.length, 2);
  assert.ok(r.toCaller.every((a) => a.startsWith('203.0.113.1:')), r.toCaller.join(' '));
  assert.equal(r.got.caller, 40, 'the caller hears both media streams');
  assert.equal(r.got.callee, 20);
});

test('sim: the same call without the ALG: the callee is told the private address, no H.245, no media toward the caller', async () => {
  const r = await call([]);
  assert.equal(r.h245Seen, false);
  assert.ok(r.toCaller.every((a) => a.startsWith(`${CALLER}:`)));
  assert.equal(r.got.caller, 0);
});

/**
 * SIP calls through masq NATs in the simulator, with media checked for real:
 * each phone sends RTP to the address in the other's SDP and counts what
 * arrives. Without the ALG the same calls carry media one way at best.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator, type SimNatBox } from '../../../src/dataplane/sim/index.js';
import { SimPhone, SimProxy } from '../../../src/lab/sip-sim.js';

function network(algs: string[], natB: boolean) {
  const sim = new Simulator({ seed: 5 });
  const internet = sim.segment('internet', { delayMs: 15 });
  const lanA = sim.segment('lan-a', { delayMs: 1 });
  const natA = sim.nat('nat-a', { inside: [lanA, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'], config: { mapping: 'eim', filtering: 'apdf' }, algs });
  const a = sim.host('phone-a', lanA, '192.168.1.2/24', '192.168.1.1');
  let b;
  let nb: SimNatBox | undefined;
  if (natB) {
    const lanB = sim.segment('lan-b', { delayMs: 1 });
    nb = sim.nat('nat-b', { inside: [lanB, '192.168.2.1/24'], outside: [internet, '203.0.113.2/24'], config: { mapping: 'eim', filtering: 'apdf' }, algs });
    b = sim.host('phone-b', lanB, '192.168.2.2/24', '192.168.2.1');
  } else {
    b = sim.host('phone-b', internet, '198.51.100.20/24');
  }
  const proxyHost = sim.host('proxy', internet, '198.51.100.10/24');
  const proxy = new SimProxy(proxyHost, 'example.test');
  const p = { address: '198.51.100.10', port: 5060 };
  return { sim, natA, natB: nb, proxy, alice: new SimPhone(a, 'alice', p, 'example.test'), bob: new SimPhone(b, 'bob', p, 'example.test') };
}

/**
 * The callee starts media as it sends 200 OK; its first packet reaches the
 * caller's NAT before the answer (which goes by the proxy), while the pinhole
 * still admits only the signalling peer (as netfilter's sip_direct_media). So
 * the caller may miss exactly one packet; everything after the answer arrives.
 */
const CALLEE_FIRST_PACKET_RACE = 1;

async function callAndCount(n: ReturnType<typeof network>) {
  await n.sim.complete(n.alice.register(), 5_000);
  await n.sim.complete(n.bob.register(), 5_000);
  const r = await n.sim.complete(n.alice.call('bob'), 10_000);
  await n.sim.run(3_000);
  return { status: r.status, aliceGot: n.alice.rtpReceived, bobGot: n.bob.rtpReceived, peerMedia: r.peerMedia };
}

test('sim: a phone behind masq (SIP ALG) calls a phone on the internet; RTP flows both ways', async () => {
  const n = network(['sip'], false);
  const r = await callAndCount(n);
  assert.equal(r.status, 200);
  assert.equal(r.bobGot, 50, 'bob hears alice (her SDP named her public address and port)');
  assert.ok(r.aliceGot >= 50 - CALLEE_FIRST_PACKET_RACE, `alice hears bob (the pinhole admits his media): ${r.aliceGot}`);
  const hangup = await n.sim.complete(n.alice.hangup()!, 5_000);
  assert.match(hangup.first, /^SIP\/2.0 200/);
  assert.equal(n.natA.engine.expectations.list().filter((e) => e.group.startsWith('sip:')).length, 0, 'BYE removed the call\'s pinholes');
});

test('sim: two phones behind two masq NATs call each other through a proxy; RTP flows both ways', async () => {
  const n = network(['sip'], true);
  const r = await callAndCount(n);
  assert.equal(r.status, 200);
  assert.equal(r.peerMedia?.address, '203.0.113.2', 'alice sends to bob\'s public media address');
  assert.ok(r.bobGot >= 50 - CALLEE_FIRST_PACKET_RACE, `bob got ${r.bobGot}`);
  assert.ok(r.aliceGot >= 50 - CALLEE_FIRST_PACKET_RACE, `alice got ${r.aliceGot}`);
});

test('sim: the incoming call reaches a registered phone after its signalling flow idled out', async () => {
  const n = network(['sip'], true);
  await n.sim.complete(n.alice.register(), 5_000);
  await n.sim.complete(n.bob.register(3600), 5_000);
  await n.sim.run(400_000); // bob's NAT forgot the REGISTER flow (UDP 300 s); the registration pinhole remains
  const r = await n.sim.complete(n.alice.call('bob'), 10_000);
  await n.sim.run(3_000);
  assert.equal(r.status, 200);
  assert.equal(n.bob.incomingCalls, 1);
  assert.ok(n.bob.rtpReceived >= 50 - CALLEE_FIRST_PACKET_RACE, `bob got ${n.bob.rtpReceived}`);
  assert.ok(n.alice.rtpReceived >= 50 - CALLEE_FIRST_PACKET_RACE, `alice got ${n.alice.rtpReceived}`);
});

test('sim: without the ALG the same call has one-way media (as the kernel without its helper)', async () => {
  const n = network([], false);
  const r = await callAndCount(n);
  assert.equal(r.status, 200, 'signalling completes (answers go to the packet source)');
  assert.equal(r.bobGot, 50, 'alice reaches bob\'s public SDP address');
  assert.equal(r.aliceGot, 0, 'bob sends to 192.168.1.2 from alice\'s SDP: nowhere');
});

/**
 * Replication through a real redis-server on loopback: the active gateway's
 * records reach a standby, which holds the same flows on the same public
 * ports, pinholes and port mappings; a standby that sees traffic takes over
 * and publishes; a record is not applied by the gateway that wrote it; an
 * active gateway that loses the traffic to another returns to standby.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { prerequisites } from '../../lab/prereq.js';
import { TestRedis } from '../../rendezvous/fixtures/redis-server.js';
import { createLogger } from '../../../src/control/logging.js';
import { StateKeeper } from '../../../src/gateway/state/keeper.js';
import { RedisReplication } from '../../../src/gateway/state/replication.js';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { PROTO_UDP } from '../../../src/wire/ipv4.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { describe as show, makeEngine, udpPkt } from '../../nat/packets.js';

const pre = prerequisites({ tools: ['redis-server'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEEP = { flushMs: 50, snapshotMs: 60_000, maxBacklogBytes: 1 << 30 };
/** On the engines' manual clocks: only the test moves them. */
const STANDBY_AFTER_MS = 3000;

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (ok()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('replication through Redis', { skip: pre.skip }, () => {
  let redis: TestRedis;
  const stops: Array<() => Promise<void> | void> = [];
  before(async () => {
    pre.assert();
    redis = await TestRedis.start();
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    await redis?.stop();
  });

  async function gateway(node: string, key = 'test-pair') {
    const { engine, clock } = makeEngine({ mapping: 'apdm', ports: { allocation: 'random' } });
    const log = createLogger('silent');
    const replication = await RedisReplication.connect({ redis: redis.url, key, node, maxEntries: 1000, standbyAfterMs: STANDBY_AFTER_MS }, engine, [], log, clock);
    const keeper = new StateKeeper(engine, [], [replication], KEEP, clock, () => {});
    keeper.start();
    replication.start(() => keeper.snapshot());
    stops.push(() => keeper.stop(), () => replication.stop());
    return { engine, clock, replication, keeper };
  }

  test('a standby follows the active gateway and takes over with the same ports', async () => {
    const a = await gateway('a');
    const b = await gateway('b');
    assert.equal(a.replication.role, 'standby');
    // Traffic reaches a: it is the active one.
    const out = udpPkt('10.0.0.2:4000', '198.51.100.1:5000');
    a.engine.process(out, Side.Inside);
    await until('a active', () => a.replication.role === 'active');
    const pm = a.engine.mapPort({ proto: PROTO_UDP, insideAddr: parseIpv4('10.0.0.9'), insidePort: 41641, publicPort: 41641, lifetimeMs: 60_000, owner: 'pcp' });
    assert.ok(typeof pm === 'object');
    for (let i = 0; i < 20; i++) a.engine.process(udpPkt(`10.0.0.3:${5000 + i}`, '198.51.100.1:53'), Side.Inside);
    await until('b holds a\'s flows', () => b.engine.sizes().flows === 21 && b.engine.listPortMappings().length === 1);
    assert.equal(b.replication.role, 'standby');
    assert.deepEqual(
      b.engine.listFlows().map((f) => `${f.inside} ${f.public} ${f.remote}`).sort(),
      a.engine.listFlows().map((f) => `${f.inside} ${f.public} ${f.remote}`).sort(),
    );
    // The failover: traffic now reaches b; the flow goes on with its public port.
    const back = udpPkt('198.51.100.1:5000', show(out).split(' ')[0]);
    assert.equal(b.engine.process(back, Side.Outside), Verdict.ToInside);
    await until('b active', () => b.replication.role === 'active');
    // Publishing is a round trip to Redis after the role changed.
    await until('b published its whole state on taking over', () => b.replication.stats().published >= 1);
    // b's own records are not applied back by b; a (still running) was active and stays so while it has
    // not been quiet for standbyAfterMs (its clock does not move here): it does not follow.
    b.engine.process(udpPkt('10.0.0.4:6000', '198.51.100.1:53'), Side.Inside);
    await sleep(300);
    assert.equal(a.engine.sizes().flows, 21, 'an active gateway does not apply another\'s records');
  });

  test('an active gateway that loses the traffic to another returns to standby and follows it', async () => {
    const a = await gateway('a2', 'test-pair-back');
    const b = await gateway('b2', 'test-pair-back');
    // a is active (the primary), b follows it.
    a.engine.process(udpPkt('10.0.0.2:4000', '198.51.100.1:5000'), Side.Inside);
    await until('a active', () => a.replication.role === 'active');
    await until('b holds a\'s flow', () => b.engine.sizes().flows === 1);
    a.clock.advance(10);
    // keepalived moves the addresses to b (a missed adverts, or was restarted); b sees traffic and publishes.
    b.engine.process(udpPkt('10.0.0.5:4000', '198.51.100.1:5000'), Side.Inside);
    await until('b active', () => b.replication.role === 'active');
    await until('b published', () => b.replication.stats().published >= 1);
    // Not before a has been quiet for standbyAfterMs: a burst of lost adverts must not flap it.
    a.clock.advance(STANDBY_AFTER_MS - 20);
    await sleep(400);
    assert.equal(a.replication.role, 'active', 'quiet for less than standbyAfterMs: still active');
    a.clock.advance(20);
    await until('a is a standby again', () => a.replication.role === 'standby');
    // a applies what b published from its takeover on (b's whole state: both flows), and follows b's new flows.
    await until('a holds b\'s whole state', () => a.engine.sizes().flows === 2);
    for (let i = 0; i < 5; i++) b.engine.process(udpPkt(`10.0.0.6:${7000 + i}`, '198.51.100.1:53'), Side.Inside);
    await until('a follows b', () => a.engine.sizes().flows === 7);
    assert.deepEqual(
      a.engine.listFlows().map((f) => `${f.inside} ${f.public} ${f.remote}`).sort(),
      b.engine.listFlows().map((f) => `${f.inside} ${f.public} ${f.remote}`).sort(),
    );
    assert.equal(b.replication.role, 'active');
    // And takes over again when the traffic comes back to it.
    a.engine.process(udpPkt('10.0.0.2:4000', '198.51.100.1:5000'), Side.Inside);
    await until('a active again', () => a.replication.role === 'active');
  });

  test('a gateway that keeps seeing traffic stays active while another publishes (no fencing: both active)', async () => {
    const a = await gateway('a3', 'test-pair-both');
    const b = await gateway('b3', 'test-pair-both');
    a.engine.process(udpPkt('10.0.0.2:4000', '198.51.100.1:5000'), Side.Inside);
    b.engine.process(udpPkt('10.0.0.3:4000', '198.51.100.1:5000'), Side.Inside);
    await until('both active', () => a.replication.role === 'active' && b.replication.role === 'active');
    for (let i = 0; i < 10; i++) {
      a.clock.advance(STANDBY_AFTER_MS / 4);
      a.engine.process(udpPkt('10.0.0.2:4000', '198.51.100.1:5000'), Side.Inside);
      b.engine.process(udpPkt(`10.0.0.3:${5000 + i}`, '198.51.100.1:53'), Side.Inside);
      await sleep(150);
      assert.equal(a.replication.role, 'active', `round ${i}: a sees traffic, so it stays active`);
    }
  });
});

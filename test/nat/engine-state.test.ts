import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { NatConfigInput } from '../../src/nat/config.js';
import { Side, Verdict } from '../../src/nat/engine.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { PROTO_TCP, PROTO_UDP } from '../../src/wire/ipv4.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { describe, makeEngine, tcpPkt, udpPkt } from './packets.js';

const IN = Side.Inside;
const OUT = Side.Outside;
const CONFIG: Partial<NatConfigInput> = {
  mapping: 'apdm',
  filtering: 'apdf',
  ports: { allocation: 'random' },
  forwards: [{ protocol: 'tcp', port: 8080, to: '10.0.0.7', toPort: 80 }],
  triggers: [{ protocol: 'tcp', port: 6667, open: { protocol: 'tcp', ports: '7000-7010' }, idleTimeout: 600 }],
};

const publicOf = (pkt: Uint8Array) => describe(pkt).split(' ')[0];

/** A gateway with some of everything: UDP and TCP flows, a forward, a pinhole, a port mapping, a trigger. */
function busyEngine() {
  const a = makeEngine(CONFIG);
  const { engine } = a;
  const rtp = udpPkt('10.0.0.2:30000', '198.51.100.20:40000');
  engine.process(rtp, IN);
  const tcp = tcpPkt('10.0.0.3:5000', '198.51.100.30:443', TCP_SYN);
  engine.process(tcp, IN);
  engine.process(tcpPkt('198.51.100.30:443', publicOf(tcp), TCP_SYN | TCP_ACK), OUT);
  engine.process(tcpPkt('10.0.0.3:5000', '198.51.100.30:443', TCP_ACK), IN);
  engine.process(tcpPkt('198.51.100.40:1234', '203.0.113.1:8080', TCP_SYN), OUT);
  const pinhole = engine.expect({
    proto: PROTO_UDP,
    insideAddr: parseIpv4('10.0.0.2'),
    insidePort: 30002,
    remoteAddr: parseIpv4('198.51.100.20'),
    remotePort: 0,
    ttlMs: 120_000,
    singleUse: false,
    group: 'call-1',
    helper: 'test',
    reason: 'm=audio',
  });
  assert.ok(typeof pinhole === 'object');
  const pm = engine.mapPort({ proto: PROTO_UDP, insideAddr: parseIpv4('10.0.0.9'), insidePort: 41641, publicPort: 41641, lifetimeMs: 3_600_000, owner: 'pcp' });
  assert.ok(typeof pm === 'object');
  engine.process(tcpPkt('10.0.0.4:6000', '198.51.100.50:6667', TCP_SYN), IN);
  return { ...a, rtpPublic: publicOf(rtp), tcpPublic: publicOf(tcp), pinhole, pm };
}

/** Through JSON and back, typed arrays included: what a store or a wire would do, only simpler. */
function roundTrip<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) ? { $t: v.constructor.name, d: Array.from(v as unknown as ArrayLike<number>) } : v)),
    (_k, v) => (v && typeof v === 'object' && '$t' in v ? new (globalThis as unknown as Record<string, new (d: number[]) => unknown>)[v.$t](v.d) : v),
  ) as T;
}

test('a snapshot restored into a new engine keeps every public port, pinhole, port mapping and trigger', () => {
  const a = busyEngine();
  const snap = roundTrip(a.engine.exportState());
  const b = makeEngine(CONFIG);
  b.clock.set(5_000_000); // another process: another clock
  const report = b.engine.applyState(snap, 2_000);
  assert.equal(report.skipped.conflict + report.skipped.limit + report.skipped.unknown, 0, JSON.stringify(report));
  assert.equal(report.flows, 4);
  assert.equal(report.expectations, 1);
  assert.equal(report.portMappings, 1);
  assert.equal(report.triggers, 1);
  const e = b.engine;
  // The RTP flow: both ways on the same public port.
  const rtp = udpPkt('10.0.0.2:30000', '198.51.100.20:40000');
  assert.equal(e.process(rtp, IN), Verdict.ToOutside);
  assert.equal(publicOf(rtp), a.rtpPublic);
  const back = udpPkt('198.51.100.20:40000', a.rtpPublic);
  assert.equal(e.process(back, OUT), Verdict.ToInside);
  assert.equal(describe(back), '198.51.100.20:40000 > 10.0.0.2:30000');
  // The established TCP connection goes on (an ACK without SYN would be dropped with no flow).
  assert.equal(e.process(tcpPkt('198.51.100.30:443', a.tcpPublic, TCP_ACK), OUT), Verdict.ToInside);
  assert.equal(e.listFlows().find((f) => f.proto === PROTO_TCP && f.inside[1] === 5000)?.state, a.engine.listFlows().find((f) => f.proto === PROTO_TCP && f.inside[1] === 5000)?.state);
  // The pinhole, with its id, still admits the peer and no one else.
  assert.deepEqual(e.listExpectations().map((x) => [x.id, x.publicPort, x.group, x.helper]), [[a.pinhole.id, a.pinhole.publicPort, 'call-1', 'test']]);
  assert.equal(e.process(udpPkt('198.51.100.99:1', `203.0.113.1:${a.pinhole.publicPort}`), OUT), Verdict.Drop);
  assert.equal(e.process(udpPkt('198.51.100.20:40002', `203.0.113.1:${a.pinhole.publicPort}`), OUT), Verdict.ToInside);
  // The port mapping and the trigger.
  assert.equal(e.listPortMappings()[0].publicPort, 41641);
  assert.equal(e.process(udpPkt('192.0.2.1:9', '203.0.113.1:41641'), OUT), Verdict.ToInside);
  assert.equal(e.process(tcpPkt('198.51.100.50:1', '203.0.113.1:7005', TCP_SYN), OUT), Verdict.ToInside);
  // Timers went on: the pinhole had 120 s, 2 s passed in transit.
  assert.equal(e.listExpectations()[0].expiresAt, 5_000_000 + 118_000);
  // A new mapping does not take a restored port.
  for (let i = 0; i < 50; i++) {
    const p = udpPkt(`10.0.0.20:${20000 + i}`, '198.51.100.1:53');
    e.process(p, IN);
    assert.ok(![a.rtpPublic, a.tcpPublic, '203.0.113.1:41641', `203.0.113.1:${a.pinhole.publicPort}`].includes(publicOf(p)));
  }
});

test('what expired while the gateway was down stays gone', () => {
  const a = busyEngine();
  const snap = a.engine.exportState();
  const b = makeEngine(CONFIG);
  // 301 s later: UDP flows (300 s), the pinhole (120 s) and the TCP handshake of the forward (transitory 240 s) are over.
  const report = b.engine.applyState(snap, 301_000);
  assert.ok(report.skipped.expired >= 3, JSON.stringify(report));
  assert.equal(b.engine.listExpectations().length, 0);
  assert.equal(b.engine.process(udpPkt('198.51.100.20:40000', a.rtpPublic), OUT), Verdict.Drop);
  // The established TCP connection (7440 s) and the port mapping (1 h) remain.
  assert.equal(b.engine.process(tcpPkt('198.51.100.30:443', a.tcpPublic, TCP_ACK), OUT), Verdict.ToInside);
  assert.equal(b.engine.listPortMappings().length, 1);
});

test('the change feed carries new and removed flows, pinholes and port mappings to a standby', () => {
  const a = makeEngine(CONFIG);
  a.engine.changes.enabled = true;
  const b = makeEngine(CONFIG);
  b.engine.applyState(a.engine.exportState());
  const out = udpPkt('10.0.0.2:30000', '198.51.100.20:40000');
  a.engine.process(out, IN);
  const pm = a.engine.mapPort({ proto: PROTO_TCP, insideAddr: parseIpv4('10.0.0.9'), insidePort: 22, publicPort: 2222, lifetimeMs: 60_000, owner: 'upnp' });
  assert.ok(typeof pm === 'object');
  b.engine.applyState(roundTrip(a.engine.exportChanges()));
  assert.equal(b.engine.process(udpPkt('198.51.100.20:40000', publicOf(out)), OUT), Verdict.ToInside, 'the new flow is there');
  assert.equal(b.engine.listPortMappings()[0]?.publicPort, 2222);
  // Removed on the active side: removed on the standby too.
  const flow = a.engine.listFlows()[0];
  a.engine.expireFlow(flow.id);
  a.engine.unmapPort(pm.id);
  const changes = a.engine.exportChanges();
  assert.equal(changes.removed.count, 1);
  b.engine.applyState(changes);
  assert.equal(b.engine.sizes().flows, 0);
  assert.equal(b.engine.listPortMappings().length, 0);
  assert.equal(a.engine.exportChanges().flows.count + a.engine.exportChanges().removed.count, 0, 'drained');
});

test('a full batch makes a standby hold exactly that state', () => {
  const a = busyEngine();
  const b = makeEngine(CONFIG);
  // The standby holds something the active gateway no longer has.
  b.engine.process(udpPkt('10.0.0.66:1000', '198.51.100.1:53'), IN);
  b.engine.applyState(a.engine.exportState());
  assert.deepEqual(
    b.engine.listFlows().map((f) => `${f.proto} ${f.inside} ${f.public} ${f.remote}`).sort(),
    a.engine.listFlows().map((f) => `${f.proto} ${f.inside} ${f.public} ${f.remote}`).sort(),
  );
  // Applying it twice changes nothing.
  const again = b.engine.applyState(a.engine.exportState());
  assert.equal(again.flowsRemoved, 0);
  assert.equal(b.engine.sizes().flows, a.engine.sizes().flows);
});

test('a batch of another version is refused', () => {
  const a = makeEngine(CONFIG);
  const snap = { ...a.engine.exportState(), version: 99 } as unknown as Parameters<typeof a.engine.applyState>[0];
  assert.throws(() => makeEngine(CONFIG).engine.applyState(snap), /version 99/);
});

test('a standby keeps a flow the active gateway refreshed, and drops it when the feed says it ended', () => {
  // Found by the property below: packets on an established flow refresh it
  // without entering the feed, so a standby expiring by its own copy of the
  // times dropped a flow the active gateway still carried.
  const a = makeEngine(CONFIG);
  a.engine.changes.enabled = true;
  const b = makeEngine(CONFIG);
  b.engine.following = true;
  b.engine.applyState(a.engine.exportState());
  const out = udpPkt('10.0.0.6:1026', '198.51.100.4:53');
  a.engine.process(out, IN);
  b.engine.applyState(roundTrip(a.engine.exportChanges()));
  a.clock.advance(130_757);
  a.engine.process(udpPkt('10.0.0.6:1026', '198.51.100.4:53'), IN);
  a.clock.advance(169_243);
  a.engine.tick();
  b.clock.set(a.clock.now());
  b.engine.applyState(roundTrip(a.engine.exportChanges()));
  b.engine.tick();
  assert.equal(b.engine.sizes().flows, 1, 'the refreshed flow is still there');
  a.clock.advance(300_000);
  a.engine.tick();
  b.clock.set(a.clock.now());
  b.engine.applyState(roundTrip(a.engine.exportChanges()));
  assert.equal(b.engine.sizes().flows, 0, 'expired on the active side: gone on the standby');
  // Once active (following off), it expires flows by time itself.
  b.engine.following = false;
  b.engine.process(udpPkt('10.0.0.7:1026', '198.51.100.4:53'), IN);
  b.clock.advance(301_000);
  b.engine.tick();
  assert.equal(b.engine.sizes().flows, 0);
});

/** The gateway's default `state.snapshotSeconds`, in ms. */
const SNAPSHOT_MS = 30_000;

test('property: a snapshot and then the feed rebuild the same mappings on a standby', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('out' as const), host: fc.integer({ min: 2, max: 6 }), port: fc.integer({ min: 1024, max: 1030 }), remote: fc.integer({ min: 1, max: 4 }) }),
          fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 200_000 }) }),
          fc.record({ kind: fc.constant('sync' as const), full: fc.boolean() }),
          fc.record({ kind: fc.constant('drop' as const), nth: fc.nat() }),
        ),
        { maxLength: 60 },
      ),
      (steps) => {
        const a = makeEngine({ mapping: 'apdm', ports: { allocation: 'random' } });
        a.engine.changes.enabled = true;
        const b = makeEngine({ mapping: 'apdm', ports: { allocation: 'random' } });
        b.engine.following = true;
        b.engine.applyState(a.engine.exportState());
        // The keeper's cadence (src/gateway/state/keeper.ts): a whole state at
        // least every SNAPSHOT_MS, since refreshes of established flows travel
        // only in whole states.
        let lastFull = a.clock.now();
        const sync = (full: boolean) => {
          b.clock.set(a.clock.now());
          if (full) lastFull = a.clock.now();
          b.engine.applyState(full ? a.engine.exportState() : a.engine.exportChanges());
        };
        for (const s of steps) {
          if (s.kind === 'out') a.engine.process(udpPkt(`10.0.0.${s.host}:${s.port}`, `198.51.100.${s.remote}:53`), IN);
          else if (s.kind === 'drop') {
            // A flow removed other than by time (an ALG's call teardown, conntrack -D).
            const flows = a.engine.listFlows();
            if (flows.length) a.engine.expireFlow(flows[s.nth % flows.length].id);
          } else if (s.kind === 'time') {
            for (let left = s.ms; left > 0; left -= SNAPSHOT_MS) {
              a.clock.advance(Math.min(left, SNAPSHOT_MS));
              a.engine.tick();
              if (a.clock.now() - lastFull >= SNAPSHOT_MS) sync(true);
            }
          } else sync(s.full);
        }
        sync(false);
        b.engine.tick();
        const view = (e: typeof a.engine) => e.listFlows().map((f) => `${f.inside} ${f.public} ${f.remote}`).sort();
        assert.deepEqual(view(b.engine), view(a.engine));
      },
    ),
    { numRuns: 200 },
  );
});

/**
 * The keeper's encoder (record.ts, RecordEncoder): the engine's export writes
 * flows straight into the encoder's reused buffer. Whatever came before in
 * that buffer, a record it encodes is byte for byte the one encodeRecord
 * makes from the same state, and decodes to what a plain export holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, RecordEncoder, type StateRecord } from '../../../src/gateway/state/record.js';
import { Side } from '../../../src/nat/engine.js';
import { ipv4ToString, parseIpv4 } from '../../../src/wire/address.js';
import { PROTO_UDP } from '../../../src/wire/ipv4.js';
import { makeEngine, udpPkt } from '../../nat/packets.js';

/** One step of a gateway's life between two records. */
type Step = { flows: number; expire: number; pinholes: number; algBytes: number; full: boolean };

const step = fc.record({
  flows: fc.integer({ min: 0, max: 400 }),
  expire: fc.integer({ min: 0, max: 50 }),
  pinholes: fc.integer({ min: 0, max: 3 }),
  // Now and then an ALG state too large for the room kept for the header (64 KiB): the copying path.
  algBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 70_000, max: 150_000 })),
  full: fc.boolean(),
});

test('records encoded in place equal encodeRecord byte for byte, whatever the buffer held before', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), (steps: Step[]) => {
      const { engine, clock } = makeEngine({ inside: ['10.0.0.0/16'], mapping: 'apdm', ports: { allocation: 'random' } });
      engine.changes.enabled = true;
      const encoder = new RecordEncoder();
      let host = 1;
      let seq = 0;
      for (const s of steps) {
        clock.advance(10);
        for (let i = 0; i < s.flows; i++, host++) {
          engine.process(udpPkt(`${ipv4ToString(parseIpv4('10.0.0.0') + (host >> 8) + 1)}:${1000 + (host & 0xff)}`, '198.51.100.1:53'), Side.Inside);
        }
        const live = engine.listFlows();
        for (let i = 0; i < Math.min(s.expire, live.length); i++) engine.expireFlow(live[(i * 7) % live.length].id);
        for (let i = 0; i < s.pinholes; i++) {
          // A pinhole, and a flow admitted by it: a flow with a group.
          const e = engine.expect({ proto: PROTO_UDP, insideAddr: parseIpv4('10.0.0.2'), insidePort: 30000 + seq * 8 + i * 2, remoteAddr: parseIpv4('198.51.100.20'), remotePort: 0, ttlMs: 60_000, singleUse: false, group: `call-${seq}`, helper: 'test', reason: 'm=audio' });
          assert.ok(typeof e === 'object');
          engine.process(udpPkt('198.51.100.20:40000', `${ipv4ToString(e.publicAddr)}:${e.publicPort}`), Side.Outside);
        }
        const algs = s.algBytes ? { sip: { calls: 'c'.repeat(s.algBytes) } } : {};
        const now = clock.now();
        const batch = s.full ? engine.exportState(now, encoder.flowColumns) : engine.exportChanges(now, encoder.flowColumns);
        const r: StateRecord = { seq: ++seq, wall: 1000 + seq, engine: batch, algs };
        const inPlace = encoder.encode(r).slice();
        assert.deepEqual(inPlace, encodeRecord(r));
        const back = decodeRecord(inPlace);
        if (s.full) assert.deepEqual(back.engine, engine.exportState(now), 'the same as a plain export');
        assert.equal(back.engine.flows.count, batch.flows.count);
      }
    }),
    { numRuns: 60 },
  );
});

test('the buffer is reused: consecutive records share it, and a much larger one grows it', () => {
  const { engine, clock } = makeEngine({ mapping: 'apdm' });
  engine.changes.enabled = true;
  const encoder = new RecordEncoder();
  const record = (seq: number): Uint8Array => {
    clock.advance(1);
    return encoder.encode({ seq, wall: seq, engine: engine.exportChanges(clock.now(), encoder.flowColumns), algs: {} });
  };
  engine.process(udpPkt('10.0.0.2:1000', '198.51.100.1:53'), Side.Inside);
  const a = record(1);
  engine.process(udpPkt('10.0.0.2:1001', '198.51.100.1:53'), Side.Inside);
  const b = record(2);
  assert.equal(a.buffer, b.buffer, 'no new buffer for a record of the same size');
  for (let i = 0; i < 20_000; i++) engine.process(udpPkt(`10.0.0.${3 + (i >> 12)}:${1000 + (i & 0xfff)}`, '198.51.100.1:53'), Side.Inside);
  const c = record(3);
  assert.notEqual(c.buffer, b.buffer);
  assert.equal(decodeRecord(c).engine.flows.count, 20_000);
  // Columns handed out but not for this record (a record built elsewhere): encoded on its own, correctly.
  encoder.flowColumns(5);
  const other = { seq: 4, wall: 4, engine: engine.exportState(clock.now()), algs: {} };
  assert.deepEqual(encoder.encode(other), encodeRecord(other));
});

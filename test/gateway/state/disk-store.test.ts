/**
 * The gateway's state on disk: a snapshot and a journal written by the
 * keeper, read back into a new engine; damage of every kind reported and
 * skipped, never thrown; the directory's lock.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskStateStore, StateDirInUseError } from '../../../src/gateway/state/disk-store.js';
import { StateKeeper } from '../../../src/gateway/state/keeper.js';
import { decodeRecord, encodeRecord, StateDecodeError } from '../../../src/gateway/state/record.js';
import { frame, readFrames } from '../../../src/gateway/state/frames.js';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { PROTO_UDP } from '../../../src/wire/ipv4.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { describe as show, makeEngine, udpPkt } from '../../nat/packets.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'masq-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const noError = (sink: string, err: Error) => assert.fail(`${sink}: ${err.message}`);
const KEEP = { flushMs: 100, snapshotMs: 60_000, maxBacklogBytes: 1 << 30 };

/** A gateway's engine writing to a store in `dir`: a snapshot, then flows in the journal. */
function writeSome(flows: number, wall = () => 1_000_000) {
  const { engine, clock } = makeEngine({ mapping: 'apdm', ports: { allocation: 'random' } });
  const store = DiskStateStore.open(dir);
  const keeper = new StateKeeper(engine, [], [store], KEEP, clock, noError, wall);
  keeper.snapshot();
  engine.changes.enabled = true;
  const publics: string[] = [];
  for (let i = 0; i < flows; i++) {
    const p = udpPkt(`10.0.0.2:${10000 + i}`, '198.51.100.1:53');
    engine.process(p, Side.Inside);
    publics.push(show(p).split(' ')[0]);
    if (i % 10 === 9) keeper.flush();
  }
  keeper.flush();
  store.close();
  return { engine, publics };
}

function restoreInto(wall = () => 1_000_000) {
  const { engine, clock } = makeEngine({ mapping: 'apdm', ports: { allocation: 'random' } });
  const store = DiskStateStore.open(dir);
  const loaded = store.load();
  const sum = new StateKeeper(engine, [], [store], KEEP, clock, noError, wall).restore(loaded.records);
  store.close();
  return { engine, loaded, sum };
}

test('a snapshot and its journal bring every flow back on its public port', () => {
  const { publics } = writeSome(35);
  const { engine, loaded, sum } = restoreInto();
  assert.deepEqual(loaded.problems, []);
  assert.equal(loaded.records.length, 1 + 4, 'the snapshot and four records of changes');
  assert.equal(sum.flows, 35);
  for (let i = 0; i < 35; i++) {
    const back = udpPkt('198.51.100.1:53', publics[i]);
    assert.equal(engine.process(back, Side.Outside), Verdict.ToInside);
    assert.equal(show(back), `198.51.100.1:53 > 10.0.0.2:${10000 + i}`);
  }
});

test('a truncated journal: the records before the cut are applied, the loss is reported', () => {
  writeSome(35);
  const journal = join(dir, 'journal');
  truncateSync(journal, readFileSync(journal).length - 7);
  const { loaded, sum } = restoreInto();
  assert.equal(loaded.problems.length, 1);
  assert.match(loaded.problems[0], /cut short at byte \d+ \(\d+ bytes from there lost\)/);
  assert.equal(sum.flows, 30, 'three of the four records of changes');
});

test('a damaged snapshot: started clean, and said so', () => {
  writeSome(5);
  const snap = join(dir, 'snapshot');
  const bytes = readFileSync(snap);
  bytes[bytes.length - 3] ^= 0xff;
  writeFileSync(snap, bytes);
  const { loaded, sum, engine } = restoreInto();
  assert.equal(loaded.records.length, 0);
  assert.match(loaded.problems[0], /snapshot .* is damaged \(a frame whose checksum is wrong.*\): started clean/);
  assert.equal(sum.flows, 0);
  assert.equal(engine.sizes().flows, 0);
});

test('garbage, an empty file, a snapshot of changes: never thrown, always reported', () => {
  for (const content of [new Uint8Array(0), new Uint8Array(100).fill(7), frame(new TextEncoder().encode('{"not":"a record"}'))]) {
    writeFileSync(join(dir, 'snapshot'), content);
    writeFileSync(join(dir, 'journal'), new Uint8Array(3));
    const { loaded } = restoreInto();
    assert.equal(loaded.records.length, 0);
    assert.equal(loaded.problems.length, 1, String(loaded.problems));
  }
  const { engine } = makeEngine();
  engine.changes.enabled = true;
  const changes = engine.exportChanges();
  writeFileSync(join(dir, 'snapshot'), frame(encodeRecord({ seq: 1, wall: 0, engine: changes, algs: {} })));
  assert.match(restoreInto().loaded.problems[0], /holds changes, not a whole state/);
});

test('journal records older than the snapshot are not replayed over it', () => {
  const { engine, clock } = makeEngine();
  const store = DiskStateStore.open(dir);
  const keeper = new StateKeeper(engine, [], [store], KEEP, clock, noError);
  keeper.snapshot();
  engine.changes.enabled = true;
  engine.process(udpPkt('10.0.0.2:1000', '198.51.100.1:53'), Side.Inside);
  keeper.flush();
  const journal = readFileSync(join(dir, 'journal'));
  // The flow ends; a new snapshot; then the crash leaves the old journal behind (rename done, truncate not).
  engine.expireFlow(engine.listFlows()[0].id);
  keeper.snapshot();
  writeFileSync(join(dir, 'journal'), journal);
  store.close();
  const { sum, engine: restored } = restoreInto();
  assert.equal(sum.records, 1);
  assert.equal(restored.sizes().flows, 0, 'the old record did not bring the flow back');
});

test('what expired while the gateway was down is not resurrected', () => {
  writeSome(3, () => 1_000_000);
  const { sum, engine } = restoreInto(() => 1_000_000 + 301_000);
  assert.equal(sum.flows, 0);
  assert.equal(sum.skipped.expired, 3, JSON.stringify(sum));
  assert.equal(engine.sizes().flows, 0);
});

test('one gateway per directory: a live holder\'s lock refuses a second', () => {
  const a = DiskStateStore.open(dir);
  writeFileSync(join(dir, 'lock'), `${process.ppid}\n`); // another live process
  assert.throws(() => DiskStateStore.open(dir), StateDirInUseError);
  writeFileSync(join(dir, 'lock'), '999999999\n'); // a dead one
  DiskStateStore.open(dir).close();
  a.close();
});

test('records: encode and decode round trip; damaged headers and columns are refused', () => {
  const { engine } = makeEngine();
  engine.process(udpPkt('10.0.0.2:1000', '198.51.100.1:53'), Side.Inside);
  engine.mapPort({ proto: PROTO_UDP, insideAddr: parseIpv4('10.0.0.3'), insidePort: 5000, publicPort: 5000, lifetimeMs: 1000, owner: 'pcp' });
  const r = { seq: 7, wall: 123, engine: engine.exportState(), algs: { sip: { v: 1 } } };
  const bytes = encodeRecord(r);
  const back = decodeRecord(bytes);
  assert.deepEqual(back, r);
  assert.throws(() => decodeRecord(bytes.subarray(0, bytes.length - 8)), StateDecodeError);
  const damaged = bytes.slice();
  damaged[4 + 2] = 0x20; // breaks the JSON
  assert.throws(() => decodeRecord(damaged), /header/);
  assert.throws(() => decodeRecord(new Uint8Array(3)), StateDecodeError);
  const frames = readFrames(new Uint8Array([...frame(bytes), ...frame(bytes)]));
  assert.equal(frames.payloads.length, 2);
  assert.equal(frames.problem, null);
});

test('the state is readable by its owner only: directory 0700, snapshot, journal and lock 0600', () => {
  const sub = join(dir, 'state');
  const store = DiskStateStore.open(sub);
  store.writeSnapshot(new Uint8Array(8));
  try {
    assert.equal(statSync(sub).mode & 0o777, 0o700);
    for (const f of ['snapshot', 'journal', 'lock']) assert.equal(statSync(join(sub, f)).mode & 0o777, 0o600, f);
  } finally {
    store.close();
  }
});

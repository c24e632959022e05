/**
 * The CU-SeeMe ALG through NatEngine.process(): three workstations behind one
 * public address talking to a reflector, each with its own public port, and
 * every field the ALG touches (or must not touch) checked after translation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import type { AttachedAlg } from '../../../src/alg/attach.js';
import { Side, Verdict, type NatEngine } from '../../../src/nat/engine.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { parseUdpPacket } from '../../../src/wire/udp.js';
import { assertChecksums, makeEngine, udpPkt } from '../../nat/packets.js';
import { cuPacket, OPEN_CONTINUE, readCu, type CuFields } from './packets.js';

const A = '10.0.0.2';
const B = '10.0.0.3';
const C = '10.0.0.4';
const R = '198.51.100.10';
const X = '198.51.100.20';
const PUB = '203.0.113.1';

function setup(options?: unknown): { engine: NatEngine; alg: AttachedAlg; advance: (ms: number) => void } {
  const { engine, clock } = makeEngine();
  const alg = attachAlg(engine, findAlg('cuseeme')!, undefined, options);
  return { engine, alg, advance: (ms) => clock.advance(ms) };
}

interface Sent {
  verdict: Verdict;
  from: string;
  to: string;
  cu: ReturnType<typeof readCu>;
  payload: Uint8Array;
}

function send(engine: NatEngine, from: string, to: string, fields: CuFields | Uint8Array, side: Side): Sent {
  const body = fields instanceof Uint8Array ? fields : cuPacket(fields);
  const verdict = engine.process(udpPkt(from, to, body), side);
  const out = engine.output;
  if (verdict !== Verdict.Drop) assertChecksums(out);
  const d = parseUdpPacket(out);
  return {
    verdict,
    from: `${ipv4ToString(d.src)}:${d.srcPort}`,
    to: `${ipv4ToString(d.dst)}:${d.dstPort}`,
    cu: d.payload.length >= 26 ? readCu(d.payload) : readCu(new Uint8Array(26)),
    payload: d.payload,
  };
}

/** Each workstation says hello to the reflector from 7648; returns their public endpoints. */
function join(engine: NatEngine, hosts: string[]): string[] {
  return hosts.map((h) => {
    const s = send(engine, `${h}:7648`, `${R}:7648`, { dest: [R, 7648], own: [h, 7648] }, Side.Inside);
    assert.equal(s.verdict, Verdict.ToOutside);
    // The header says what the UDP header says: the reflector can answer either.
    assert.equal(s.cu.own, s.from);
    return s.from;
  });
}

test('outbound: each workstation keeps its own public port, and its header says so', () => {
  const { engine, alg } = setup();
  const [pa, pb, pc] = join(engine, [A, B, C]);
  assert.equal(pa, `${PUB}:7648`);
  assert.notEqual(pb, pa);
  assert.notEqual(pc, pa);
  assert.notEqual(pc, pb);
  for (const p of [pb, pc]) assert.equal(p.split(':')[0], PUB);
  assert.equal(alg.counters().participants, 3);
  // A kept port 7648 but its address changed; B and C changed both.
  assert.equal(alg.counters().rewritten, 3);
});

test('inbound: the addressee becomes the workstation the packet reached; a relayed LAN sender its inside endpoint', () => {
  const { engine } = setup();
  const [pa, pb] = join(engine, [A, B]);
  const [pbAddr, pbPort] = pb.split(':');
  // The reflector relays A's video to B: addressed to B's public endpoint, sender A's public endpoint.
  const s = send(engine, `${R}:7648`, pb, { dest: [pbAddr, Number(pbPort)], own: [PUB, Number(pa.split(':')[1])] }, Side.Outside);
  assert.equal(s.verdict, Verdict.ToInside);
  assert.equal(s.to, `${B}:7648`);
  assert.equal(s.cu.dest, `${B}:7648`);
  assert.equal(s.cu.own, `${A}:7648`);
  // An outside sender is left as it is.
  const o = send(engine, `${R}:7648`, pb, { dest: [pbAddr, Number(pbPort)], own: [X, 7648] }, Side.Outside);
  assert.equal(o.cu.own, `${X}:7648`);
});

test('inbound OpenContinue: entries naming the public address go back to the participant whose port they name', () => {
  const { engine, alg } = setup();
  const [pa, pb, pc] = join(engine, [A, B, C]);
  const port = (p: string) => Number(p.split(':')[1]);
  const entries: Array<[string, number]> = [
    [X, 7648],
    [PUB, port(pc)],
    [PUB, port(pa)],
    [PUB, port(pb)],
  ];
  const s = send(engine, `${R}:7648`, pa, { dest: [PUB, port(pa)], own: [X, 7648], dataType: OPEN_CONTINUE, entries }, Side.Outside);
  assert.deepEqual(s.cu.entries, [`${X}:7648`, `${C}:7648`, `${A}:7648`, `${B}:7648`]);
  // The 8 bytes after each address other than the port are never touched.
  for (let i = 0; i < 4; i++) assert.deepEqual([...s.payload.subarray(62 + i * 12, 68 + i * 12)], [0x80, 0x01, 0xde, 0xad, 0xbe, 0xef]);
  assert.equal(alg.counters().entriesRestored, 3);
  assert.equal(alg.counters().openContinue, 1);
});

test('outbound OpenContinue: a workstation naming LAN participants by inside endpoint names them by public endpoint', () => {
  const { engine, alg } = setup();
  const [pa, pb] = join(engine, [A, B]);
  const s = send(
    engine,
    `${A}:7648`,
    `${R}:7648`,
    { dest: [R, 7648], own: [A, 7648], dataType: OPEN_CONTINUE, entries: [[B, 7648], [A, 7648], [X, 7648], ['10.0.0.9', 7648]] },
    Side.Inside,
  );
  // An inside address masq has no flow for (10.0.0.9) cannot be named publicly: it stays.
  assert.deepEqual(s.cu.entries, [pb, pa, `${X}:7648`, '10.0.0.9:7648']);
  assert.equal(alg.counters().entriesPublished, 2);
});

test('an entry naming the public address with a port no participant has: one behind it, restored by address; several, left and counted', () => {
  const one = setup();
  const [pa] = join(one.engine, [A]);
  const s1 = send(one.engine, `${R}:7648`, pa, { dest: [PUB, 7648], own: [R, 7648], dataType: OPEN_CONTINUE, entries: [[PUB, 1]] }, Side.Outside);
  assert.deepEqual(s1.cu.entries, [`${A}:1`]);

  const two = setup();
  const [qa] = join(two.engine, [A, B]);
  const s2 = send(two.engine, `${R}:7648`, qa, { dest: [PUB, 7648], own: [R, 7648], dataType: OPEN_CONTINUE, entries: [[PUB, 1]] }, Side.Outside);
  assert.deepEqual(s2.cu.entries, [`${PUB}:1`]);
  assert.equal(two.alg.counters().entriesAmbiguous, 1);
});

test('client_count is untrusted: more entries than the datagram holds passes unchanged and is counted; drop by policy', () => {
  const { engine, alg } = setup();
  const [pa] = join(engine, [A]);
  const body = cuPacket({ dest: [PUB, 7648], own: [R, 7648], dataType: OPEN_CONTINUE, entries: [[PUB, 7648]], count: 2 });
  const s = send(engine, `${R}:7648`, pa, body, Side.Outside);
  assert.equal(s.verdict, Verdict.ToInside);
  assert.deepEqual([...s.payload], [...body], 'passed unchanged');
  assert.equal(alg.counters().passedParseError, 1);
  // The same count read little-endian (0x0200 = 512) is what the 1999 modules would have seen: also refused here.
  assert.equal(body[26] * 256 + body[27], 2);

  const strict = setup({ malformed: 'drop' });
  const [qa] = join(strict.engine, [A]);
  assert.equal(send(strict.engine, `${R}:7648`, qa, body, Side.Outside).verdict, Verdict.Drop);
  assert.equal(strict.alg.counters().dropped, 1);
});

test('datagrams shorter than the header, and OpenContinues shorter than theirs, pass unchanged and are counted', () => {
  const { engine, alg } = setup();
  join(engine, [A]);
  const short = send(engine, `${A}:7648`, `${R}:7648`, new Uint8Array([1, 2, 3]), Side.Inside);
  assert.equal(short.verdict, Verdict.ToOutside);
  assert.deepEqual([...short.payload], [1, 2, 3]);
  const oc = cuPacket({ own: [A, 7648], dataType: OPEN_CONTINUE }).subarray(0, 40);
  const s = send(engine, `${A}:7648`, `${R}:7648`, oc, Side.Inside);
  assert.deepEqual([...s.payload], [...oc]);
  assert.equal(alg.counters().passedParseError, 2);
});

test('zero addresses stay zero; a sender address that is neither the workstation nor a participant is left and counted', () => {
  const { engine, alg } = setup();
  join(engine, [A]);
  const z = send(engine, `${A}:7648`, `${R}:7648`, { dest: [R, 7648], own: ['0.0.0.0', 0] }, Side.Inside);
  assert.equal(z.cu.own, '0.0.0.0:0');
  const f = send(engine, `${A}:7648`, `${R}:7648`, { dest: [R, 7648], own: ['192.0.2.7', 7648] }, Side.Inside);
  assert.equal(f.cu.own, '192.0.2.7:7648');
  assert.equal(alg.counters().otherSenders, 1);
});

test('a participant is forgotten with its flow', () => {
  const { engine, alg, advance } = setup();
  join(engine, [A, B]);
  assert.equal(alg.counters().participants, 2);
  advance(301_000);
  engine.tick();
  assert.equal(alg.counters().participants, 0);
});

test('historical mode: addresses only, the first matching entry, one public port for everyone as far as CU-SeeMe can tell', () => {
  const { engine } = setup({ mode: 'historical' });
  const [pa, pb] = ['A', 'B'].map((_, i) => {
    const h = [A, B][i];
    const s = send(engine, `${h}:7648`, `${R}:7648`, { dest: [R, 7648], own: [h, 7648] }, Side.Inside);
    // The address is rewritten, the port is not: both workstations claim public 7648.
    assert.equal(s.cu.own, `${PUB}:7648`);
    return s.from;
  });
  assert.notEqual(pa, pb);
  const s = send(engine, `${R}:7648`, pb, { dest: [PUB, 7648], own: [R, 7648], dataType: OPEN_CONTINUE, entries: [[PUB, 7648], [PUB, 7648]] }, Side.Outside);
  assert.equal(s.cu.dest, `${B}:7648`);
  assert.deepEqual(s.cu.entries, [`${B}:7648`, `${PUB}:7648`]);
});

test('not on a configured port, not rewritten (the ALG runs where it is configured)', () => {
  const { engine } = setup();
  const s = send(engine, `${A}:7648`, `${R}:7000`, { dest: [R, 7000], own: [A, 7648] }, Side.Inside);
  assert.equal(s.cu.own, `${A}:7648`);
});

test('a packet in a Node Buffer (whose slice() shares memory) is rewritten into a copy, checksum and all', () => {
  const { engine } = setup();
  const pkt = Buffer.from(udpPkt(`${A}:7648`, `${R}:7648`, cuPacket({ dest: [R, 7648], own: [A, 7648] })));
  assert.equal(engine.process(pkt, Side.Inside), Verdict.ToOutside);
  assertChecksums(engine.output);
  assert.equal(readCu(parseUdpPacket(engine.output).payload).own, `${PUB}:7648`);
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildSuperPacket, MAX_SEGMENTS, runLength } from '../../../src/dataplane/tun/udp-coalesce.js';
import { readVnetHeader, VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_GSO_UDP_L4, VNET_HEADER_SIZE } from '../../../src/dataplane/tun/vnet-header.js';

// Packets are built here by hand (not with src/wire) so the test reads the bytes independently.

interface Datagram {
  id: number;
  payload: Uint8Array;
  ttl?: number;
  tos?: number;
  df?: boolean;
  sport?: number;
  dport?: number;
  src?: number[];
  dst?: number[];
  zeroChecksum?: boolean;
}

function sum16(b: Uint8Array, start: number, end: number, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function pseudo(p: Uint8Array, udpLength: number): number {
  return sum16(p, 12, 20, 17 + udpLength);
}

/** An IPv4/UDP datagram with valid checksums. */
function datagram(d: Datagram): Uint8Array {
  const p = new Uint8Array(28 + d.payload.length);
  p[0] = 0x45;
  p[1] = d.tos ?? 0;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[4] = d.id >> 8;
  p[5] = d.id & 0xff;
  p[6] = d.df === false ? 0 : 0x40;
  p[8] = d.ttl ?? 63;
  p[9] = 17;
  p.set(d.src ?? [198, 51, 100, 10], 12);
  p.set(d.dst ?? [10, 0, 1, 2], 16);
  const hc = ~sum16(p, 0, 20) & 0xffff;
  p[10] = hc >> 8;
  p[11] = hc & 0xff;
  const sport = d.sport ?? 5201;
  const dport = d.dport ?? 40000;
  p[20] = sport >> 8;
  p[21] = sport & 0xff;
  p[22] = dport >> 8;
  p[23] = dport & 0xff;
  const ul = 8 + d.payload.length;
  p[24] = ul >> 8;
  p[25] = ul & 0xff;
  p.set(d.payload, 28);
  if (!d.zeroChecksum) {
    let c = ~sum16(p, 20, p.length, pseudo(p, ul)) & 0xffff;
    if (c === 0) c = 0xffff;
    p[26] = c >> 8;
    p[27] = c & 0xff;
  }
  return p;
}

/** A batch the way the device hands it over: each packet after its 10-byte header. */
function batch(packets: Uint8Array[], flags: number[] | number = VNET_F_DATA_VALID, gso = 0) {
  const stride = 2048;
  const buf = new Uint8Array(packets.length * stride + stride);
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  packets.forEach((p, i) => {
    offsets[i] = i * stride + VNET_HEADER_SIZE;
    lengths[i] = p.length;
    buf.set(p, offsets[i]);
    buf[offsets[i] - VNET_HEADER_SIZE] = typeof flags === 'number' ? flags : flags[i];
    buf[offsets[i] - VNET_HEADER_SIZE + 1] = gso;
  });
  return { buf, offsets, lengths, n: packets.length };
}

/** What the kernel's UDP GSO makes of a super-packet (__udp_gso_segment and inet_gso_segment), checksums completed. */
function segment(out: Uint8Array, ipLength: number): Uint8Array[] {
  const h = readVnetHeader(out, 0);
  const p = out.subarray(VNET_HEADER_SIZE, VNET_HEADER_SIZE + ipLength);
  const payload = p.subarray(28);
  const superLen = (p[24] << 8) | p[25];
  const check = (p[26] << 8) | p[27];
  const id0 = (p[4] << 8) | p[5];
  const segs: Uint8Array[] = [];
  for (let at = 0, k = 0; at < payload.length; at += h.gsoSize, k++) {
    const part = payload.subarray(at, Math.min(payload.length, at + h.gsoSize));
    const s = new Uint8Array(28 + part.length);
    s.set(p.subarray(0, 28));
    s.set(part, 28);
    s[2] = s.length >> 8;
    s[3] = s.length & 0xff;
    const id = (id0 + k) & 0xffff;
    s[4] = id >> 8;
    s[5] = id & 0xff;
    s[10] = s[11] = 0;
    const hc = ~sum16(s, 0, 20) & 0xffff;
    s[10] = hc >> 8;
    s[11] = hc & 0xff;
    const ul = 8 + part.length;
    s[24] = ul >> 8;
    s[25] = ul & 0xff;
    // csum16_add(csum16_sub(check, superLen), ul): the pseudo-header sum for this segment's length.
    let partial = check + (~superLen & 0xffff) + ul;
    while (partial > 0xffff) partial = (partial & 0xffff) + (partial >>> 16);
    s[26] = partial >> 8;
    s[27] = partial & 0xff;
    let c = ~sum16(s, 20, s.length) & 0xffff;
    if (c === 0) c = 0xffff;
    s[26] = c >> 8;
    s[27] = c & 0xff;
    segs.push(s);
  }
  return segs;
}

const bytes = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const flow = (count: number, size: number, id0 = 100, last = size) =>
  Array.from({ length: count }, (_, i) => datagram({ id: (id0 + i) & 0xffff, payload: bytes(i === count - 1 ? last : size, i) }));

describe('UDP coalescing on write', () => {
  test('a run of one flow becomes one UDP GSO packet that segments back into the same datagrams', () => {
    const packets = flow(5, 144, 0xfffe, 100); // IDs wrap, a shorter last one
    const b = batch(packets, VNET_F_NEEDS_CSUM);
    assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, b.n), 5);
    const out = new Uint8Array(VNET_HEADER_SIZE + 0xffff);
    const length = buildSuperPacket(b.buf, b.offsets, b.lengths, 0, 5, out);
    assert.equal(length, 28 + 4 * 144 + 100);
    assert.deepEqual(readVnetHeader(out, 0), { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_UDP_L4, hdrLen: 28, gsoSize: 144, csumStart: 20, csumOffset: 6 });
    const ip = out.subarray(VNET_HEADER_SIZE, VNET_HEADER_SIZE + length);
    assert.equal(sum16(ip, 0, 20), 0xffff, 'header checksum of the super-packet');
    assert.equal((ip[2] << 8) | ip[3], length);
    assert.deepEqual(segment(out, length), packets);
  });

  test('runs stop at anything the kernel would not reproduce', () => {
    const base = { payload: bytes(144, 1) };
    const cases: [string, Uint8Array][] = [
      ['identification not consecutive', datagram({ ...base, id: 102 })],
      ['another TTL', datagram({ ...base, id: 101, ttl: 62 })],
      ['another TOS', datagram({ ...base, id: 101, tos: 0x10 })],
      ['DF differs', datagram({ ...base, id: 101, df: false })],
      ['another port', datagram({ ...base, id: 101, sport: 5202 })],
      ['another destination', datagram({ ...base, id: 101, dst: [10, 0, 1, 3] })],
      ['a longer payload', datagram({ id: 101, payload: bytes(145, 1) })],
    ];
    for (const [what, second] of cases) {
      const b = batch([datagram({ ...base, id: 100 }), second]);
      assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, 2), 1, what);
    }
    // A shorter datagram ends a run.
    const b = batch([...flow(2, 144, 100, 50), datagram({ id: 102, payload: bytes(144, 9) })]);
    assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, 3), 2);
  });

  test('only datagrams whose checksum is partial or verified, plain, unfragmented and without options', () => {
    const two = flow(2, 144);
    const cases: [string, ReturnType<typeof batch>][] = [
      ['checksum neither partial nor verified', batch(two, 0)],
      ['mixed partial and verified', batch(two, [VNET_F_NEEDS_CSUM, VNET_F_DATA_VALID])],
      ['already GSO', batch(two, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4)],
      ['no checksum (0)', batch([datagram({ id: 1, payload: bytes(8, 0), zeroChecksum: true }), datagram({ id: 2, payload: bytes(8, 0), zeroChecksum: true })])],
      ['no payload', batch([datagram({ id: 1, payload: new Uint8Array(0) }), datagram({ id: 2, payload: new Uint8Array(0) })])],
    ];
    for (const [what, b] of cases) assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, b.n), 1, what);
    const fragment = two.map((p) => p.slice());
    for (const p of fragment) p[6] |= 0x20; // MF
    let b = batch(fragment);
    assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, 2), 1, 'fragments');
    const withOptions = two.map((p) => p.slice());
    for (const p of withOptions) p[0] = 0x46;
    b = batch(withOptions);
    assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, 2), 1, 'IP options');
    const lying = two.map((p) => p.slice());
    lying[1][25] ^= 1; // UDP length disagrees with the IP length
    b = batch(lying);
    assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, 2), 1, 'inconsistent lengths');
  });

  test('at most 128 segments and 65535 bytes per GSO packet', () => {
    let b = batch(flow(MAX_SEGMENTS + 5, 8));
    assert.equal(runLength(b.buf, b.offsets, b.lengths, 0, b.n), MAX_SEGMENTS);
    b = batch(flow(60, 1400));
    const run = runLength(b.buf, b.offsets, b.lengths, 0, b.n);
    assert.equal(run, Math.floor((0xffff - 28) / 1400));
    assert.ok(28 + run * 1400 <= 0xffff);
  });

  test('property: any run found segments back into exactly the datagrams it took', () => {
    const arb = fc.record({
      sizes: fc.array(fc.integer({ min: 1, max: 1472 }), { minLength: 1, maxLength: 40 }),
      id0: fc.integer({ min: 0, max: 0xffff }),
      gaps: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      partial: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ sizes, id0, gaps, partial }) => {
        let id = id0;
        const packets = sizes.map((size, i) => datagram({ id: (id = (id + (gaps[i] ? 2 : 1)) & 0xffff), payload: bytes(size, i) }));
        const b = batch(packets, partial ? VNET_F_NEEDS_CSUM : VNET_F_DATA_VALID);
        const out = new Uint8Array(VNET_HEADER_SIZE + 0xffff);
        for (let i = 0; i < b.n; ) {
          const run = runLength(b.buf, b.offsets, b.lengths, i, b.n);
          assert.ok(run >= 1 && i + run <= b.n);
          if (run > 1) {
            const length = buildSuperPacket(b.buf, b.offsets, b.lengths, i, run, out);
            assert.deepEqual(segment(out, length), packets.slice(i, i + run));
          }
          i += run;
        }
      }),
      { numRuns: 300 },
    );
  });
});

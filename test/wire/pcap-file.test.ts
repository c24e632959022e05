import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CaptureFormatError, readCapture } from '../../src/wire/capture.js';
import type { CaptureRecord } from '../../src/wire/capture.js';
import { isPcapFile, readPcap, writePcap } from '../../src/wire/pcap-file.js';

interface HandRecord {
  sec: number;
  frac: number;
  data: number[];
  orig?: number;
}

/** A classic pcap file built field by field, independent of the writer under test. */
function handBuilt(opts: { le: boolean; magic: number; linkType: number; snap?: number; records: HandRecord[] }): Uint8Array {
  const size = 24 + opts.records.reduce((n, r) => n + 16 + r.data.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, opts.magic, opts.le);
  view.setUint16(4, 2, opts.le);
  view.setUint16(6, 4, opts.le);
  view.setInt32(8, 0, opts.le);
  view.setUint32(12, 0, opts.le);
  view.setUint32(16, opts.snap ?? 65535, opts.le);
  view.setUint32(20, opts.linkType, opts.le);
  let offset = 24;
  for (const r of opts.records) {
    view.setUint32(offset, r.sec, opts.le);
    view.setUint32(offset + 4, r.frac, opts.le);
    view.setUint32(offset + 8, r.data.length, opts.le);
    view.setUint32(offset + 12, r.orig ?? r.data.length, opts.le);
    out.set(r.data, offset + 16);
    offset += 16 + r.data.length;
  }
  return out;
}

const MICRO = 0xa1b2c3d4;
const NANO = 0xa1b23c4d;

describe('classic pcap reading', () => {
  it('reads a little-endian microsecond file', () => {
    const bytes = handBuilt({
      le: true,
      magic: MICRO,
      linkType: 1,
      records: [
        { sec: 1_000_000_000, frac: 123_456, data: [1, 2, 3] },
        { sec: 1_000_000_001, frac: 999_999, data: [] },
      ],
    });
    assert.ok(isPcapFile(bytes));
    const file = readPcap(bytes);
    assert.equal(file.header.byteOrder, 'little');
    assert.equal(file.header.resolution, 'micro');
    assert.equal(file.header.linkType, 1);
    assert.equal(file.header.snapLength, 65535);
    assert.deepEqual(file.issues, []);
    assert.equal(file.records.length, 2);
    assert.deepEqual(file.records[0], {
      linkType: 1,
      tsSec: 1_000_000_000,
      tsNsec: 123_456_000,
      data: new Uint8Array([1, 2, 3]),
      origLength: 3,
      interfaceIndex: 0,
    });
    assert.equal(file.records[1].tsNsec, 999_999_000);
    assert.equal(file.records[1].data.length, 0);
  });

  it('reads a big-endian nanosecond file', () => {
    const bytes = handBuilt({
      le: false,
      magic: NANO,
      linkType: 113,
      records: [{ sec: 0xfffffffe, frac: 999_999_999, data: [9, 8, 7, 6, 5] }],
    });
    const file = readPcap(bytes);
    assert.equal(file.header.byteOrder, 'big');
    assert.equal(file.header.resolution, 'nano');
    assert.equal(file.records[0].linkType, 113);
    assert.equal(file.records[0].tsSec, 0xfffffffe);
    assert.equal(file.records[0].tsNsec, 999_999_999);
    assert.deepEqual([...file.records[0].data], [9, 8, 7, 6, 5]);
  });

  it('keeps the captured length apart from the original length', () => {
    const bytes = handBuilt({ le: true, magic: MICRO, linkType: 1, snap: 4, records: [{ sec: 1, frac: 0, data: [1, 2, 3, 4], orig: 1500 }] });
    const [record] = readPcap(bytes).records;
    assert.equal(record.data.length, 4);
    assert.equal(record.origLength, 1500);
  });

  it('keeps the link-type field upper bits (FCS information) apart from the link type', () => {
    const bytes = handBuilt({ le: true, magic: MICRO, linkType: (0x14 << 24) | 1, records: [] });
    const { header } = readPcap(bytes);
    assert.equal(header.linkType, 1);
    assert.equal(header.linkTypeFlags, 0x1400);
    assert.deepEqual(writePcap([], header), bytes);
  });

  it('reports a record cut short by the end of the file and returns the good ones', () => {
    const full = handBuilt({
      le: true,
      magic: MICRO,
      linkType: 1,
      records: [
        { sec: 1, frac: 0, data: [1, 1, 1] },
        { sec: 2, frac: 0, data: [2, 2, 2, 2, 2, 2] },
      ],
    });
    const secondRecordAt = 24 + 16 + 3;
    const inData = readCapture(full.subarray(0, full.length - 2));
    assert.equal(inData.records.length, 1);
    assert.equal(inData.issues.length, 1);
    assert.equal(inData.issues[0].kind, 'truncated');
    assert.equal(inData.issues[0].offset, secondRecordAt);
    assert.match(inData.issues[0].message, /claims 6 captured bytes, 4 present/);

    const inHeader = readCapture(full.subarray(0, secondRecordAt + 10));
    assert.equal(inHeader.records.length, 1);
    assert.match(inHeader.issues[0].message, new RegExp(`record header at byte ${secondRecordAt} truncated`));
  });

  it('carries an out-of-range sub-second field into the seconds and says so', () => {
    const bytes = handBuilt({ le: true, magic: MICRO, linkType: 1, records: [{ sec: 10, frac: 2_500_000, data: [] }] });
    const file = readPcap(bytes);
    assert.equal(file.records[0].tsSec, 12);
    assert.equal(file.records[0].tsNsec, 500_000_000);
    assert.equal(file.issues[0].kind, 'timestamp-out-of-range');
  });

  it('a carried sub-second field is written back as the file had it, even past the last second 32 bits hold', () => {
    const bytes = handBuilt({
      le: true,
      magic: MICRO,
      linkType: 1,
      records: [
        { sec: 10, frac: 2_500_000, data: [1] },
        { sec: 0xffffffff, frac: 0xffffffff, data: [2] }, // carried: 0xffffffff + 4294 s
      ],
    });
    const file = readPcap(bytes);
    assert.equal(file.records[1].tsSec, 0xffffffff + 4294);
    assert.deepEqual(writePcap(file.records, file.header), bytes);
    // Given a new time, a record is written with that time.
    const moved = writePcap([{ ...file.records[0], tsSec: 11, tsNsec: 0 }], file.header);
    assert.deepEqual([readPcap(moved).records[0].tsSec, readPcap(moved).issues], [11, []]);
    // A time that 32 bits cannot hold raises RangeError, or is reported and left out.
    const unwritable = { ...file.records[1], stored: undefined };
    assert.throws(() => writePcap([unwritable], file.header), RangeError);
    const reported: number[] = [];
    const kept = readPcap(writePcap([file.records[0], unwritable], { ...file.header, onUnwritable: (i) => reported.push(i) }));
    assert.deepEqual([kept.records.length, reported], [1, [1]]);
  });

  it('throws CaptureFormatError with an offset for what it cannot read', () => {
    assert.throws(() => readPcap(new Uint8Array([1, 2, 3, 4, 5])), (e: unknown) => e instanceof CaptureFormatError && e.offset === 0);
    const short = handBuilt({ le: true, magic: MICRO, linkType: 1, records: [] }).subarray(0, 20);
    assert.throws(() => readPcap(short), /pcap file header truncated: 24 bytes needed, 20 present \(at byte 0\)/);
    const badVersion = handBuilt({ le: true, magic: MICRO, linkType: 1, records: [] });
    badVersion[4] = 3;
    assert.throws(() => readPcap(badVersion), (e: unknown) => e instanceof CaptureFormatError && e.offset === 4);
  });

  it('returns views into the input, not copies', () => {
    const bytes = handBuilt({ le: true, magic: MICRO, linkType: 1, records: [{ sec: 1, frac: 0, data: [7] }] });
    const [record] = readPcap(bytes).records;
    assert.equal(record.data.buffer, bytes.buffer);
  });
});

describe('classic pcap writing', () => {
  const record = (over: Partial<CaptureRecord> = {}): CaptureRecord => ({
    linkType: 1,
    tsSec: 1_700_000_000,
    tsNsec: 123_456_789,
    data: new Uint8Array([0xde, 0xad, 0xbe]),
    origLength: 60,
    interfaceIndex: 0,
    ...over,
  });

  it('writes little-endian with the nanosecond magic by default, exactly as a hand-built file', () => {
    const expected = handBuilt({
      le: true,
      magic: NANO,
      linkType: 1,
      snap: 262144,
      records: [{ sec: 1_700_000_000, frac: 123_456_789, data: [0xde, 0xad, 0xbe], orig: 60 }],
    });
    assert.deepEqual(writePcap([record()]), expected);
  });

  it('writes microseconds by option, dropping the sub-microsecond part', () => {
    const expected = handBuilt({
      le: true,
      magic: MICRO,
      linkType: 1,
      snap: 262144,
      records: [{ sec: 1_700_000_000, frac: 123_456, data: [0xde, 0xad, 0xbe], orig: 60 }],
    });
    assert.deepEqual(writePcap([record()], { resolution: 'micro' }), expected);
  });

  it('reproduces a big-endian file byte for byte from what it read', () => {
    const original = handBuilt({
      le: false,
      magic: MICRO,
      linkType: 101,
      snap: 96,
      records: [
        { sec: 5, frac: 17, data: [0x45, 0, 0, 20], orig: 20 },
        { sec: 6, frac: 999_999, data: [0x60] },
      ],
    });
    const file = readPcap(original);
    assert.deepEqual(writePcap(file.records, file.header), original);
  });

  it('refuses records it cannot represent', () => {
    assert.throws(() => writePcap([record(), record({ linkType: 113 })]), RangeError);
    assert.throws(() => writePcap([record({ tsSec: -1 })]), RangeError);
    assert.throws(() => writePcap([record({ tsSec: 2 ** 32 })]), RangeError);
    assert.throws(() => writePcap([record({ tsNsec: 1_000_000_000 })]), RangeError);
    assert.throws(() => writePcap([record({ origLength: 1.5 })]), RangeError);
    assert.throws(() => writePcap([]), /needs options.linkType/);
    assert.equal(writePcap([], { linkType: 228 }).length, 24);
  });
});

const linkTypes = fc.constantFrom(0, 1, 101, 113, 228, 229, 276);

function arbitraryRecords(linkType: number): fc.Arbitrary<CaptureRecord[]> {
  return fc.array(
    fc
      .record({
        tsSec: fc.integer({ min: 0, max: 0xffffffff }),
        tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
        data: fc.uint8Array({ minLength: 0, maxLength: 97 }),
        extra: fc.integer({ min: 0, max: 70000 }),
      })
      .map(({ tsSec, tsNsec, data, extra }) => ({
        linkType,
        tsSec,
        tsNsec,
        data,
        origLength: data.length + extra,
        interfaceIndex: 0,
      })),
    { maxLength: 20 },
  );
}

describe('classic pcap properties', () => {
  it('records -> write -> read gives the same records (nanosecond files)', () => {
    fc.assert(
      fc.property(
        linkTypes.chain((lt) => fc.tuple(fc.constant(lt), arbitraryRecords(lt))),
        fc.constantFrom('little' as const, 'big' as const),
        ([linkType, records], byteOrder) => {
          const bytes = writePcap(records, { linkType, byteOrder, resolution: 'nano' });
          const file = readCapture(bytes);
          assert.equal(file.format, 'pcap');
          assert.deepEqual(file.issues, []);
          assert.deepEqual(file.records, records);
          // Unmodified rewrite is byte-identical.
          assert.deepEqual(writePcap(file.records, file.pcapHeader), bytes);
        },
      ),
    );
  });

  it('microsecond files keep timestamps to the microsecond', () => {
    fc.assert(
      fc.property(arbitraryRecords(1), (records) => {
        const file = readPcap(writePcap(records, { linkType: 1, resolution: 'micro' }));
        const expected = records.map((r) => ({ ...r, tsNsec: Math.floor(r.tsNsec / 1000) * 1000 }));
        assert.deepEqual(file.records, expected);
      }),
    );
  });

  it('arbitrary bytes after a pcap magic never throw anything but CaptureFormatError', () => {
    const magics = [
      [0xd4, 0xc3, 0xb2, 0xa1],
      [0xa1, 0xb2, 0xc3, 0xd4],
      [0x4d, 0x3c, 0xb2, 0xa1],
      [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 300 }), (magic, rest) => {
        const bytes = new Uint8Array([...magic, ...rest]);
        try {
          const file = readCapture(bytes);
          for (const r of file.records) assert.ok(r.tsNsec >= 0 && r.tsNsec < 1e9);
        } catch (e) {
          if (!(e instanceof CaptureFormatError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

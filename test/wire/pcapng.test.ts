import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CaptureFormatError, iterateCapture, readCapture } from '../../src/wire/capture.js';
import type { CaptureRecord } from '../../src/wire/capture.js';
import { readPcapng, writePcapng } from '../../src/wire/pcapng.js';
import { Blocks } from './pcapng-blocks.js';

const TSRESOL = 9;

describe('pcapng reading', () => {
  it('reads an Enhanced Packet Block with the default microsecond unit', () => {
    const units = 1_700_000_000_123_456n;
    const b = new Blocks().shb(true).idb(1, 65535).epb(0, Number(units >> 32n), Number(units & 0xffffffffn), [1, 2, 3], 99);
    const file = readCapture(b.bytes());
    assert.equal(file.format, 'pcapng');
    assert.deepEqual(file.issues, []);
    assert.deepEqual(file.records, [
      { linkType: 1, tsSec: 1_700_000_000, tsNsec: 123_456_000, data: new Uint8Array([1, 2, 3]), origLength: 99, interfaceIndex: 0 },
    ]);
    assert.equal(file.interfaces[0].snapLength, 65535);
  });

  it('applies if_tsresol as a power of ten and as a power of two', () => {
    const b = new Blocks()
      .shb(true)
      .idb(1, 0, [...new Blocks().option(TSRESOL, [9]), 0, 0, 0, 0])
      .idb(101, 0, new Blocks().option(TSRESOL, [3]))
      .idb(113, 0, new Blocks().option(TSRESOL, [0x80 | 10])) // 1/1024 s
      .idb(228, 0, new Blocks().option(TSRESOL, [12])) // picoseconds
      .epb(0, 0, 3_000_000_007, [])
      .epb(1, 0, 5_250, [])
      .epb(2, 0, 5 * 1024 + 512, [])
      .epb(2, 0, 1, [])
      .epb(3, 0x1, 0x2345_6789, []);
    const records = readPcapng(b.bytes()).records;
    assert.deepEqual(records.map((r) => [r.linkType, r.tsSec, r.tsNsec, r.interfaceIndex]), [
      [1, 3, 7, 0],
      [101, 5, 250_000_000, 1],
      [113, 5, 500_000_000, 2],
      [113, 0, 976_562, 2], // 1/1024 s = 976562.5 ns, floored
      [228, 0, 4_886_718, 3], // 0x1_2345_6789 ps = 4.886718345 ms, floored to ns
    ]);
  });

  it('adds if_tsoffset and reads if_name', () => {
    const offset = [10, 0, 0, 0, 0, 0, 0, 0]; // 10 s, little-endian int64
    const name = [...new TextEncoder().encode('eth0'), 0];
    const b = new Blocks().shb(true).idb(1, 0, [...new Blocks().option(14, offset), ...new Blocks().option(2, name)]).epb(0, 0, 1_000_001, []);
    const file = readPcapng(b.bytes());
    assert.equal(file.records[0].tsSec, 11);
    assert.equal(file.records[0].tsNsec, 1000);
    assert.equal(file.interfaces[0].name, 'eth0');
  });

  it('reads sections of both byte orders, each with its own interfaces', () => {
    const b = new Blocks()
      .shb(false, new Blocks(false).option(4, [...new TextEncoder().encode('big')]))
      .idb(1, 0)
      .idb(113, 0)
      .epb(1, 0, 2_000_000, [0xaa])
      .shb(true)
      .idb(101, 0)
      .epb(0, 0, 3_000_000, [0x45, 0]);
    const file = readPcapng(b.bytes());
    assert.deepEqual(file.sections.map((s) => [s.byteOrder, s.application]), [['big', 'big'], ['little', undefined]]);
    assert.deepEqual(file.interfaces.map((i) => [i.index, i.sectionIndex, i.localId, i.linkType]), [
      [0, 0, 0, 1],
      [1, 0, 1, 113],
      [2, 1, 0, 101],
    ]);
    assert.deepEqual(file.records.map((r) => [r.linkType, r.tsSec, r.interfaceIndex, [...r.data]]), [
      [113, 2, 1, [0xaa]],
      [101, 3, 2, [0x45, 0]],
    ]);
  });

  it('reads Simple Packet Blocks (cut to the snap length, no timestamp) and obsolete Packet Blocks', () => {
    const b = new Blocks(false)
      .shb(false)
      .idb(1, 4)
      .spb(6, [1, 2, 3, 4, 5, 6].slice(0, 4))
      .spb(3, [7, 8, 9])
      .pb(0, 0, 7_000_001, [1, 2, 3, 4, 5], 1500);
    const records = readPcapng(b.bytes()).records;
    assert.deepEqual(records.map((r) => [[...r.data], r.origLength, r.tsSec, r.tsNsec]), [
      [[1, 2, 3, 4], 6, 0, 0],
      [[7, 8, 9], 3, 0, 0],
      [[1, 2, 3, 4, 5], 1500, 7, 1000],
    ]);
  });

  it('skips statistics, name resolution and unknown blocks', () => {
    const b = new Blocks()
      .shb(true)
      .block(4, [0, 0, 0, 0])
      .idb(1, 0)
      .block(5, new Array<number>(12).fill(0))
      .block(0x40000bad, [1, 2, 3, 4, 5, 6, 7, 8])
      .block(0x12345678, [])
      .epb(0, 0, 1, [1]);
    assert.equal(readPcapng(b.bytes()).records.length, 1);
  });

  it('reports a truncated last block and keeps the records before it', () => {
    const bytes = new Blocks().shb(true).idb(1, 0).epb(0, 0, 1, [1, 2, 3]).epb(0, 0, 2, [4, 5, 6, 7, 8]).bytes();
    const lastAt = bytes.length - 40;
    for (const cut of [1, 10, 33]) {
      const file = readCapture(bytes.subarray(0, bytes.length - cut));
      assert.equal(file.records.length, 1, `cut ${cut}`);
      assert.equal(file.issues.length, 1);
      assert.equal(file.issues[0].kind, 'truncated');
      assert.equal(file.issues[0].offset, lastAt);
    }
  });

  it('throws CaptureFormatError saying what and where', () => {
    const throwsAt = (bytes: Uint8Array, offset: number, pattern: RegExp): void => {
      assert.throws(
        () => readCapture(bytes),
        (e: unknown) => e instanceof CaptureFormatError && e.offset === offset && pattern.test(e.message),
      );
    };
    const base = new Blocks().shb(true).idb(1, 0).bytes();
    // An option whose length runs past its block.
    const badOption = new Blocks().shb(true).idb(1, 0, [9, 0, 40, 0, 6, 0, 0, 0]).bytes();
    throwsAt(badOption, base.length - 20 + 16, /option 9 claims 40 bytes/);
    // if_tsresol of the wrong size.
    throwsAt(new Blocks().shb(true).idb(1, 0, new Blocks().option(9, [6, 6])).bytes(), base.length - 20 + 16, /if_tsresol/);
    // Trailing length disagrees.
    const mismatch = new Blocks().shb(true).idb(1, 0).bytes();
    mismatch[mismatch.length - 4] = 24;
    throwsAt(mismatch, base.length - 20, /does not match its trailing copy/);
    // Length not a multiple of 4.
    throwsAt(new Blocks().shb(true).block(1, new Array<number>(8).fill(0), 22).bytes(), base.length - 20, /invalid total length 22/);
    // A packet for an interface the section lacks.
    throwsAt(new Blocks().shb(true).idb(1, 0).epb(1, 0, 0, []).bytes(), base.length, /interface 1/);
    // Captured length larger than the block.
    const bigCaplen = new Blocks().shb(true).idb(1, 0).epb(0, 0, 0, [1, 2, 3, 4]).bytes();
    bigCaplen[base.length + 20] = 9;
    throwsAt(bigCaplen, base.length, /claims 9 captured bytes/);
    // Byte-order magic wrong.
    const badMagic = new Blocks().shb(true).bytes();
    badMagic[8] = 0;
    throwsAt(badMagic, 8, /byte-order magic/);
    // Not a capture at all.
    throwsAt(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]), 0, /unknown magic/);
  });

  it('iterates lazily: records before a corrupt block come out first', () => {
    const bytes = new Blocks().shb(true).idb(1, 0).epb(0, 0, 1, [1]).epb(7, 0, 1, [2]).bytes();
    const reader = iterateCapture(bytes);
    const iterator = reader[Symbol.iterator]();
    assert.deepEqual([...(iterator.next().value as CaptureRecord).data], [1]);
    assert.equal(reader.interfaces.length, 1);
    assert.throws(() => iterator.next(), CaptureFormatError);
  });
});

describe('pcapng writing', () => {
  const rec = (linkType: number, tsSec: number, tsNsec: number, data: number[], interfaceIndex = 0): CaptureRecord => ({
    linkType,
    tsSec,
    tsNsec,
    data: new Uint8Array(data),
    origLength: data.length,
    interfaceIndex,
  });

  it('writes one interface per link type, in order of first use', () => {
    const bytes = writePcapng([rec(113, 1, 5, [1]), rec(1, 2, 6, [2, 3]), rec(113, 3, 7, [])], { application: 'masq test' });
    const file = readPcapng(bytes);
    assert.equal(file.sections[0].application, 'masq test');
    assert.deepEqual(file.interfaces.map((i) => [i.linkType, i.tsUnit]), [
      [113, { base: 10, exponent: 9 }],
      [1, { base: 10, exponent: 9 }],
    ]);
    assert.deepEqual(file.records.map((r) => [r.linkType, r.interfaceIndex, r.tsSec, r.tsNsec]), [
      [113, 0, 1, 5],
      [1, 1, 2, 6],
      [113, 0, 3, 7],
    ]);
  });

  it('writes the exact bytes of a hand-built file', () => {
    const expected = new Blocks()
      .shb(true, [])
      .idb(1, 0, [...new Blocks().option(TSRESOL, [6]), 0, 0, 0, 0])
      .epb(0, 0, 2_000_003, [9, 9, 9, 9, 9], 5)
      .bytes();
    assert.deepEqual(writePcapng([rec(1, 2, 3_999, [9, 9, 9, 9, 9])], { resolution: 'micro' }), expected);
  });

  it('refuses records it cannot represent', () => {
    assert.throws(() => writePcapng([rec(1, -1, 0, [])]), RangeError);
    assert.throws(() => writePcapng([rec(1, 0, 1e9, [])]), RangeError);
    assert.throws(() => writePcapng([rec(70000, 0, 0, [])]), RangeError);
    assert.throws(() => writePcapng([rec(1, 2 ** 35, 0, [])]), /64 bits/);
  });
});

describe('pcapng timestamps that a nanosecond count cannot hold', () => {
  const TSOFFSET = 14;
  const int64 = (v: bigint) => [...new Uint8Array(new BigInt64Array([v]).buffer)];
  const halves = (units: bigint) => [Number(units >> 32n), Number(units & 0xffffffffn)] as const;

  it('a microsecond time past 2554 and a negative if_tsoffset are read as tshark reads them and written back unchanged', () => {
    const future = (1n << 63n) + 123_456n; // one bit flip in a microsecond capture: the year 294 thousand
    const early = 1_000_000_000_000_007n; // 1e9 s, minus the offset below: before 1970
    const offset = -2_000_000_000n;
    const b = new Blocks()
      .shb(true)
      .idb(1, 0)
      .idb(1, 0, new Blocks().option(TSOFFSET, int64(offset)))
      .epb(0, ...halves(future), [1])
      .epb(1, ...halves(early), [2]);
    const file = readPcapng(b.bytes());
    assert.deepEqual(
      file.records.map((r) => [r.tsSec, r.tsNsec]),
      [
        [Number(future / 1_000_000n), Number(future % 1_000_000n) * 1000],
        [1_000_000_000 - 2_000_000_000, 7000],
      ],
    );
    assert.ok(file.records.every((r) => r.stored?.format === 'pcapng'));
    const again = readPcapng(writePcapng(file.records));
    assert.deepEqual(
      again.records.map((r) => [r.tsSec, r.tsNsec, r.stored]),
      file.records.map((r) => [r.tsSec, r.tsNsec, r.stored]),
    );
    assert.deepEqual(
      again.interfaces.map((i) => [i.tsUnit, i.tsOffset]),
      [
        [{ base: 10, exponent: 6 }, 0n],
        [{ base: 10, exponent: 6 }, offset],
      ],
    );
  });

  it('ordinary records carry no stored timestamp, and a record given a new time is written with it', () => {
    const plain = readPcapng(new Blocks().shb(true).idb(1, 0).epb(0, 0, 1_000_001, [1]).bytes()).records[0];
    assert.equal(plain.stored, undefined);
    const [far] = readPcapng(new Blocks().shb(true).idb(1, 0).epb(0, 0x80000000, 0, [1]).bytes()).records;
    const moved = { ...far, tsSec: 5, tsNsec: 6 };
    const [back] = readPcapng(writePcapng([moved])).records;
    assert.deepEqual([back.tsSec, back.tsNsec, back.stored], [5, 6, undefined]);
  });

  it('a record that cannot be written raises RangeError, or with onUnwritable is left out and reported', () => {
    const rec = (tsSec: number): CaptureRecord => ({ linkType: 1, tsSec, tsNsec: 0, data: new Uint8Array([1]), origLength: 1, interfaceIndex: 0 });
    assert.throws(() => writePcapng([rec(1), rec(-1)]), RangeError);
    const reported: Array<[number, string]> = [];
    const file = readPcapng(writePcapng([rec(1), rec(-1), rec(2)], { onUnwritable: (i, why) => reported.push([i, why]) }));
    assert.deepEqual(file.records.map((r) => r.tsSec), [1, 2]);
    assert.equal(reported.length, 1);
    assert.equal(reported[0][0], 1);
    assert.match(reported[0][1], /tsSec/);
  });

  it('property: any unit, any 64-bit count, any offset: read, write, read gives the same time and the same stored count', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0x80, max: 0x80 + 40 })),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }),
        (tsresol, units, offset) => {
          const bytes = new Blocks()
            .shb(true)
            .idb(1, 0, [...new Blocks().option(TSRESOL, [tsresol]), ...new Blocks().option(TSOFFSET, int64(offset))])
            .epb(0, ...halves(units), [])
            .bytes();
          const [first] = readPcapng(bytes).records;
          const [second] = readPcapng(writePcapng([first])).records;
          assert.deepEqual([second.tsSec, second.tsNsec], [first.tsSec, first.tsNsec]);
          if (first.stored) assert.deepEqual(second.stored, first.stored);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('pcapng properties', () => {
  const arbitraryRecord = fc
    .record({
      linkType: fc.constantFrom(0, 1, 101, 113, 228, 229, 276, 147),
      tsSec: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 18_000_000_000 })),
      tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
      data: fc.uint8Array({ minLength: 0, maxLength: 67 }),
      extra: fc.integer({ min: 0, max: 70000 }),
      interfaceIndex: fc.nat(5),
    })
    .map(({ extra, ...r }) => ({ ...r, origLength: r.data.length + extra }));

  /** What the writer promises: interfaces numbered by first use of each link type. */
  function expectedAfterWrite(records: CaptureRecord[], resolution: 'micro' | 'nano'): CaptureRecord[] {
    const order: number[] = [];
    for (const r of records) if (!order.includes(r.linkType)) order.push(r.linkType);
    return records.map((r) => ({
      ...r,
      tsNsec: resolution === 'micro' ? Math.floor(r.tsNsec / 1000) * 1000 : r.tsNsec,
      interfaceIndex: order.indexOf(r.linkType),
    }));
  }

  it('records -> write -> read gives the same records, at both resolutions', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, { maxLength: 20 }), fc.constantFrom('micro' as const, 'nano' as const), (records, resolution) => {
        const file = readCapture(writePcapng(records, { resolution }));
        assert.deepEqual(file.issues, []);
        assert.deepEqual(file.records, expectedAfterWrite(records, resolution));
      }),
    );
  });

  it('timestamps in any unit convert exactly (checked against BigInt arithmetic)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0x80, max: 0x80 + 40 })),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (tsresol, units) => {
          const base2 = (tsresol & 0x80) !== 0;
          const exponent = BigInt(tsresol & 0x7f);
          const perSecond = base2 ? 1n << exponent : 10n ** exponent;
          const sec = units / perSecond;
          fc.pre(sec <= BigInt(Number.MAX_SAFE_INTEGER));
          const nsec = ((units % perSecond) * 1_000_000_000n) / perSecond;
          const bytes = new Blocks()
            .shb(true)
            .idb(1, 0, new Blocks().option(TSRESOL, [tsresol]))
            .epb(0, Number(units >> 32n), Number(units & 0xffffffffn), [])
            .bytes();
          const [record] = readPcapng(bytes).records;
          assert.deepEqual([record.tsSec, record.tsNsec], [Number(sec), Number(nsec)]);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('arbitrary bytes never throw anything but CaptureFormatError', () => {
    const valid = writePcapng([
      { linkType: 1, tsSec: 1, tsNsec: 2, data: new Uint8Array(13), origLength: 13, interfaceIndex: 0 },
      { linkType: 113, tsSec: 3, tsNsec: 4, data: new Uint8Array(4), origLength: 40, interfaceIndex: 0 },
    ]);
    const check = (bytes: Uint8Array): void => {
      try {
        for (const r of readCapture(bytes).records) assert.ok(r.tsNsec >= 0 && r.tsNsec < 1e9 && r.data.length <= bytes.length);
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw e;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (rest) => check(new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, ...rest]))),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => check(bytes)),
      { numRuns: 1000 },
    );
    // Corrupt a valid file: random bytes at random places, and random cuts.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const bytes = valid.slice(0, Math.max(4, cut));
          for (const [at, value] of edits) if (at >= 4 && at < bytes.length) bytes[at] = value;
          check(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

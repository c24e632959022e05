/**
 * Classic libpcap capture files: a 24-byte file header, then records of a 16-byte
 * header and the captured bytes. Either byte order; microsecond or nanosecond
 * timestamps, told apart by the magic number.
 *
 * Reading and then writing with the header that was read reproduces the file byte
 * for byte, so the offline dataplane changes only the packets it translates.
 */
import { CaptureFormatError, storedStillApplies } from './capture-types.js';
import type { ByteOrder, CaptureIssue, CaptureRecord, TimestampResolution } from './capture-types.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/** What libpcap and Wireshark use when nothing else is known. */
const DEFAULT_SNAP_LENGTH = 262144;
const UINT32_MAX = 0xffffffff;

export interface PcapFileHeader {
  byteOrder: ByteOrder;
  resolution: TimestampResolution;
  versionMajor: number;
  versionMinor: number;
  /** GMT-to-local correction in seconds; always 0 in practice, kept for exact rewrites. */
  thisZone: number;
  sigFigs: number;
  snapLength: number;
  /** Low 16 bits of the header's link-type field. */
  linkType: number;
  /** High 16 bits of that field (FCS length and reserved bits), kept for exact rewrites. */
  linkTypeFlags: number;
}

export interface PcapWriteOptions extends Partial<PcapFileHeader> {
  /**
   * Called for a record that cannot be written (time or lengths out of range, another
   * link type), which is then left out. Without it such a record raises RangeError.
   */
  onUnwritable?: (index: number, reason: string) => void;
}

function magicOf(bytes: Uint8Array): { byteOrder: ByteOrder; resolution: TimestampResolution } | undefined {
  if (bytes.length < 4) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const byteOrder of ['little', 'big'] as const) {
    const magic = view.getUint32(0, byteOrder === 'little');
    if (magic === PCAP_MAGIC_MICROSECONDS) return { byteOrder, resolution: 'micro' };
    if (magic === PCAP_MAGIC_NANOSECONDS) return { byteOrder, resolution: 'nano' };
  }
  return undefined;
}

export function isPcapFile(bytes: Uint8Array): boolean {
  return magicOf(bytes) !== undefined;
}

export function readPcapHeader(bytes: Uint8Array): PcapFileHeader {
  const magic = magicOf(bytes);
  if (!magic) throw new CaptureFormatError('not a classic pcap file: unknown magic number', 0);
  if (bytes.length < FILE_HEADER_LENGTH) {
    throw new CaptureFormatError(
      `pcap file header truncated: ${FILE_HEADER_LENGTH} bytes needed, ${bytes.length} present`,
      0,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FILE_HEADER_LENGTH);
  const le = magic.byteOrder === 'little';
  const versionMajor = view.getUint16(4, le);
  // Major version 2 is the only one libpcap has written since 1998; anything else
  // would have a record layout we cannot vouch for.
  if (versionMajor !== 2) throw new CaptureFormatError(`unsupported pcap major version ${versionMajor}`, 4);
  const linkTypeField = view.getUint32(20, le);
  return {
    ...magic,
    versionMajor,
    versionMinor: view.getUint16(6, le),
    thisZone: view.getInt32(8, le),
    sigFigs: view.getUint32(12, le),
    snapLength: view.getUint32(16, le),
    linkType: linkTypeField & 0xffff,
    linkTypeFlags: linkTypeField >>> 16,
  };
}

/**
 * Yields the records after the file header. A record cut short by the end of the
 * file ends the iteration with an issue instead of an error: captures that were
 * copied while still being written are common, and their good records matter.
 */
export function* iteratePcapRecords(
  bytes: Uint8Array,
  header: PcapFileHeader,
  issues: CaptureIssue[],
): Generator<CaptureRecord, void, undefined> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.byteOrder === 'little';
  const fractionLimit = header.resolution === 'micro' ? 1_000_000 : 1_000_000_000;
  const nsecPerUnit = header.resolution === 'micro' ? 1000 : 1;
  let offset = FILE_HEADER_LENGTH;
  while (offset < bytes.length) {
    const remaining = bytes.length - offset;
    if (remaining < RECORD_HEADER_LENGTH) {
      issues.push({
        kind: 'truncated',
        offset,
        message: `record header at byte ${offset} truncated: ${RECORD_HEADER_LENGTH} bytes needed, ${remaining} present`,
      });
      return;
    }
    const storedSec = view.getUint32(offset, le);
    const storedFraction = view.getUint32(offset + 4, le);
    let tsSec = storedSec;
    let fraction = storedFraction;
    const capturedLength = view.getUint32(offset + 8, le);
    const origLength = view.getUint32(offset + 12, le);
    const available = remaining - RECORD_HEADER_LENGTH;
    if (capturedLength > available) {
      issues.push({
        kind: 'truncated',
        offset,
        message: `record at byte ${offset} claims ${capturedLength} captured bytes, ${available} present`,
      });
      return;
    }
    if (fraction >= fractionLimit) {
      // Some writers overflow the fraction; carry it so the record still has a
      // valid time, and keep the fields as stored to write them back unchanged.
      issues.push({
        kind: 'timestamp-out-of-range',
        offset,
        message: `record at byte ${offset} has a sub-second field of ${fraction}, carried into the seconds`,
      });
      tsSec += Math.floor(fraction / fractionLimit);
      fraction %= fractionLimit;
    }
    const dataStart = offset + RECORD_HEADER_LENGTH;
    const record: CaptureRecord = {
      linkType: header.linkType,
      tsSec,
      tsNsec: fraction * nsecPerUnit,
      data: bytes.subarray(dataStart, dataStart + capturedLength),
      origLength,
      interfaceIndex: 0,
    };
    if (fraction !== storedFraction) {
      record.stored = { format: 'pcap', resolution: header.resolution, sec: storedSec, fraction: storedFraction, tsSec, tsNsec: record.tsNsec };
    }
    yield record;
    offset = dataStart + capturedLength;
  }
}

export interface PcapFile {
  header: PcapFileHeader;
  records: CaptureRecord[];
  issues: CaptureIssue[];
}

export function readPcap(bytes: Uint8Array): PcapFile {
  const header = readPcapHeader(bytes);
  const issues: CaptureIssue[] = [];
  const records = [...iteratePcapRecords(bytes, header, issues)];
  return { header, records, issues };
}

function uint32Problem(value: number, what: string): string | undefined {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) return `${what} must be an integer in 0..${UINT32_MAX}, got ${value}`;
  return undefined;
}

function checkUint32(value: number, what: string): void {
  const problem = uint32Problem(value, what);
  if (problem) throw new RangeError(problem);
}

/** The two timestamp fields of a record in `resolution`, or why it cannot be written. */
function recordFields(record: CaptureRecord, i: number, linkType: number, resolution: TimestampResolution): [number, number] | string {
  if (record.linkType !== linkType) return `record ${i} has link type ${record.linkType}; a classic pcap file holds only ${linkType}`;
  const lengthProblem = uint32Problem(record.data.length, `record ${i} data length`) ?? uint32Problem(record.origLength, `record ${i} origLength`);
  if (lengthProblem) return lengthProblem;
  const stored = record.stored;
  if (stored?.format === 'pcap' && stored.resolution === resolution && storedStillApplies(record)) return [stored.sec, stored.fraction];
  const secProblem = uint32Problem(record.tsSec, `record ${i} tsSec`);
  if (secProblem) return secProblem;
  if (!Number.isInteger(record.tsNsec) || record.tsNsec < 0 || record.tsNsec > 999_999_999) {
    return `record ${i} tsNsec must be an integer in 0..999999999, got ${record.tsNsec}`;
  }
  return [record.tsSec, Math.floor(record.tsNsec / (resolution === 'micro' ? 1000 : 1))];
}

/**
 * Writes a classic pcap file. Defaults: little-endian, nanosecond magic (lossless
 * for any record), version 2.4, snap length 262144 or the largest record.
 * Microsecond resolution drops the sub-microsecond part of each timestamp.
 * All records must share one link type (a classic file has one). A record that
 * cannot be written raises RangeError, or with `onUnwritable` is reported there
 * and left out.
 */
export function writePcap(records: readonly CaptureRecord[], options: PcapWriteOptions = {}): Uint8Array {
  const linkType = options.linkType ?? records[0]?.linkType;
  if (linkType === undefined) throw new RangeError('writePcap needs options.linkType when there are no records');
  if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
    throw new RangeError(`link type must be an integer in 0..65535, got ${linkType}`);
  }
  const resolution = options.resolution ?? 'nano';
  const le = (options.byteOrder ?? 'little') === 'little';
  let total = FILE_HEADER_LENGTH;
  let largest = 0;
  const written: Array<{ record: CaptureRecord; sec: number; fraction: number }> = [];
  records.forEach((record, i) => {
    const fields = recordFields(record, i, linkType, resolution);
    if (typeof fields === 'string') {
      if (!options.onUnwritable) throw new RangeError(fields);
      options.onUnwritable(i, fields);
      return;
    }
    written.push({ record, sec: fields[0], fraction: fields[1] });
    total += RECORD_HEADER_LENGTH + record.data.length;
    largest = Math.max(largest, record.data.length);
  });
  const snapLength = options.snapLength ?? Math.max(DEFAULT_SNAP_LENGTH, largest);
  checkUint32(snapLength, 'snapLength');
  const linkTypeFlags = options.linkTypeFlags ?? 0;
  if (!Number.isInteger(linkTypeFlags) || linkTypeFlags < 0 || linkTypeFlags > 0xffff) {
    throw new RangeError(`linkTypeFlags must be an integer in 0..65535, got ${linkTypeFlags}`);
  }

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, resolution === 'micro' ? PCAP_MAGIC_MICROSECONDS : PCAP_MAGIC_NANOSECONDS, le);
  view.setUint16(4, options.versionMajor ?? 2, le);
  view.setUint16(6, options.versionMinor ?? 4, le);
  view.setInt32(8, options.thisZone ?? 0, le);
  view.setUint32(12, options.sigFigs ?? 0, le);
  view.setUint32(16, snapLength, le);
  view.setUint32(20, ((linkTypeFlags << 16) | linkType) >>> 0, le);
  let offset = FILE_HEADER_LENGTH;
  for (const { record, sec, fraction } of written) {
    view.setUint32(offset, sec, le);
    view.setUint32(offset + 4, fraction, le);
    view.setUint32(offset + 8, record.data.length, le);
    view.setUint32(offset + 12, record.origLength, le);
    out.set(record.data, offset + RECORD_HEADER_LENGTH);
    offset += RECORD_HEADER_LENGTH + record.data.length;
  }
  return out;
}

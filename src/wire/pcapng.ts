/**
 * pcapng capture files (draft-ietf-opsawg-pcapng): a sequence of blocks, each
 * `type, total length, body, total length`. A Section Header Block starts every
 * section and fixes its byte order; Interface Description Blocks give each
 * interface its link type and timestamp unit; packets arrive in Enhanced, Simple or
 * (obsolete) Packet Blocks. Every other block type is skipped by its length.
 */
import { CaptureFormatError } from './capture-types.js';
import { storedStillApplies } from './capture-types.js';
import type { ByteOrder, CaptureInterface, CaptureIssue, CaptureRecord, StoredTimestamp, TimestampResolution, TimestampUnit } from './capture-types.js';

export type { TimestampUnit } from './capture-types.js';

const SECTION_HEADER_BLOCK = 0x0a0d0d0a;
const INTERFACE_DESCRIPTION_BLOCK = 0x00000001;
const OBSOLETE_PACKET_BLOCK = 0x00000002;
const SIMPLE_PACKET_BLOCK = 0x00000003;
const ENHANCED_PACKET_BLOCK = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Type and total length before the body, total length again after it. */
const BLOCK_OVERHEAD = 12;
const MIN_SECTION_HEADER_LENGTH = 28;

const OPT_END = 0;
const SHB_HARDWARE = 2;
const SHB_OS = 3;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

export interface PcapngSection {
  index: number;
  /** Byte offset of the Section Header Block. */
  offset: number;
  byteOrder: ByteOrder;
  versionMajor: number;
  versionMinor: number;
  hardware?: string;
  os?: string;
  application?: string;
}

export interface PcapngInterface extends CaptureInterface {
  sectionIndex: number;
  /** The interface id packet blocks use inside their section. */
  localId: number;
  tsUnit: TimestampUnit;
  /** if_tsoffset: seconds added to every timestamp of this interface (as a number: exact up to 2^53). */
  tsOffsetSec: number;
  /** if_tsoffset exactly, as the file has it. */
  tsOffset: bigint;
  name?: string;
  description?: string;
}

export interface PcapngReadState {
  sections: PcapngSection[];
  interfaces: PcapngInterface[];
  issues: CaptureIssue[];
}

export function isPcapng(bytes: Uint8Array): boolean {
  // The block type is a palindrome, so it reads the same in either byte order.
  return bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a;
}

interface PcapngOption {
  code: number;
  value: Uint8Array;
  offset: number;
}

/** Options between start and end; a value running past the end is an error, not a crash. */
function readOptions(bytes: Uint8Array, view: DataView, start: number, end: number, le: boolean): PcapngOption[] {
  const options: PcapngOption[] = [];
  let offset = start;
  while (offset + 4 <= end) {
    const code = view.getUint16(offset, le);
    const length = view.getUint16(offset + 2, le);
    if (code === OPT_END) break;
    const valueStart = offset + 4;
    if (length > end - valueStart) {
      throw new CaptureFormatError(`option ${code} claims ${length} bytes, only ${end - valueStart} left in its block`, offset);
    }
    options.push({ code, value: bytes.subarray(valueStart, valueStart + length), offset });
    offset = valueStart + ((length + 3) & ~3);
  }
  return options;
}

const utf8 = new TextDecoder('utf-8');

/** Old writers NUL-terminate their strings; the terminator is not part of the text. */
function optionText(value: Uint8Array): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  return utf8.decode(value.subarray(0, end));
}

/** Converts timestamps in one interface's unit to whole seconds and nanoseconds, exactly. */
class TimestampConverter {
  /** 10^exponent when exponent <= 9: the fast path, in plain numbers. */
  readonly #decimalUnitsPerSecond: number | undefined;
  readonly #nsecPerUnit: number;
  readonly #unit: TimestampUnit;

  constructor(unit: TimestampUnit) {
    this.#unit = unit;
    const fast = unit.base === 10 && unit.exponent <= 9;
    this.#decimalUnitsPerSecond = fast ? 10 ** unit.exponent : undefined;
    this.#nsecPerUnit = fast ? 10 ** (9 - unit.exponent) : 0;
  }

  convert(high: number, low: number): { sec: number; nsec: number } {
    const divisor = this.#decimalUnitsPerSecond;
    if (divisor !== undefined) {
      // Long division of the 64-bit count by 16-bit limbs: every intermediate stays
      // below 2^46, so plain numbers are exact and no BigInt is allocated.
      let remainder = 0;
      let sec = 0;
      for (let shift = 48; shift >= 0; shift -= 16) {
        const limb = shift >= 32 ? (high >>> (shift - 32)) & 0xffff : (low >>> shift) & 0xffff;
        const current = remainder * 65536 + limb;
        const quotient = Math.floor(current / divisor);
        remainder = current - quotient * divisor;
        sec = sec * 65536 + quotient;
      }
      return { sec, nsec: remainder * this.#nsecPerUnit };
    }
    return this.#convertBig(high, low);
  }

  /** Powers of two and units finer than a nanosecond (the rest is dropped). */
  #convertBig(high: number, low: number): { sec: number; nsec: number } {
    const units = (BigInt(high) << 32n) | BigInt(low);
    const exponent = BigInt(this.#unit.exponent);
    if (this.#unit.base === 2) {
      const sec = units >> exponent;
      const fraction = units - (sec << exponent);
      return { sec: Number(sec), nsec: Number((fraction * 1_000_000_000n) >> exponent) };
    }
    const unitsPerSecond = 10n ** exponent;
    const sec = units / unitsPerSecond;
    const fraction = units - sec * unitsPerSecond;
    return { sec: Number(sec), nsec: Number(fraction / 10n ** (exponent - 9n)) };
  }
}

interface InterfaceState {
  info: PcapngInterface;
  converter: TimestampConverter;
}

function readInterface(
  bytes: Uint8Array,
  view: DataView,
  blockOffset: number,
  bodyEnd: number,
  le: boolean,
  index: number,
  sectionIndex: number,
  localId: number,
): InterfaceState {
  const body = blockOffset + 8;
  if (bodyEnd - body < 8) throw new CaptureFormatError('Interface Description Block shorter than its fixed fields', blockOffset);
  const info: PcapngInterface = {
    index,
    sectionIndex,
    localId,
    linkType: view.getUint16(body, le),
    snapLength: view.getUint32(body + 4, le),
    tsUnit: { base: 10, exponent: 6 },
    tsOffsetSec: 0,
    tsOffset: 0n,
  };
  for (const option of readOptions(bytes, view, body + 8, bodyEnd, le)) {
    if (option.code === IF_TSRESOL) {
      if (option.value.length !== 1) {
        throw new CaptureFormatError(`if_tsresol option has length ${option.value.length}, expected 1`, option.offset);
      }
      const resolution = option.value[0];
      info.tsUnit = resolution & 0x80 ? { base: 2, exponent: resolution & 0x7f } : { base: 10, exponent: resolution };
    } else if (option.code === IF_TSOFFSET) {
      if (option.value.length !== 8) {
        throw new CaptureFormatError(`if_tsoffset option has length ${option.value.length}, expected 8`, option.offset);
      }
      const value = new DataView(option.value.buffer, option.value.byteOffset, 8);
      info.tsOffset = value.getBigInt64(0, le);
      info.tsOffsetSec = Number(info.tsOffset);
    } else if (option.code === IF_NAME) {
      info.name = optionText(option.value);
    } else if (option.code === IF_DESCRIPTION) {
      info.description = optionText(option.value);
    }
  }
  return { info, converter: new TimestampConverter(info.tsUnit) };
}

function readSectionHeader(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  totalLength: number,
  le: boolean,
  index: number,
): PcapngSection {
  const versionMajor = view.getUint16(offset + 12, le);
  // A new major version means a layout this reader does not know.
  if (versionMajor !== 1) throw new CaptureFormatError(`unsupported pcapng major version ${versionMajor}`, offset + 12);
  const section: PcapngSection = {
    index,
    offset,
    byteOrder: le ? 'little' : 'big',
    versionMajor,
    versionMinor: view.getUint16(offset + 14, le),
  };
  for (const option of readOptions(bytes, view, offset + 24, offset + totalLength - 4, le)) {
    if (option.code === SHB_HARDWARE) section.hardware = optionText(option.value);
    else if (option.code === SHB_OS) section.os = optionText(option.value);
    else if (option.code === SHB_USERAPPL) section.application = optionText(option.value);
  }
  return section;
}

function interfaceFor(interfaces: InterfaceState[], id: number, blockOffset: number): InterfaceState {
  const found = interfaces[id];
  if (!found) throw new CaptureFormatError(`packet refers to interface ${id}, which this section does not define`, blockOffset);
  return found;
}

/**
 * Seconds from which a time no longer fits 64 bits of nanoseconds (2^64 ns is
 * in the year 2554): such a time is kept in its own unit to be written back.
 */
const NANOSECOND_LIMIT_SEC = 18_446_744_073;

function packetRecord(
  bytes: Uint8Array,
  iface: InterfaceState,
  high: number,
  low: number,
  dataStart: number,
  capturedLength: number,
  origLength: number,
): CaptureRecord {
  const { sec, nsec } = iface.converter.convert(high, low);
  const { tsUnit, tsOffset, tsOffsetSec } = iface.info;
  const tsSec = sec + tsOffsetSec;
  const record: CaptureRecord = {
    linkType: iface.info.linkType,
    tsSec,
    tsNsec: nsec,
    data: bytes.subarray(dataStart, dataStart + capturedLength),
    origLength,
    interfaceIndex: iface.info.index,
  };
  // What a nanosecond writer cannot reproduce from tsSec and tsNsec keeps the stored value.
  const exactInNanoseconds = tsOffset === 0n && tsUnit.base === 10 && tsUnit.exponent <= 9 && sec < NANOSECOND_LIMIT_SEC;
  if (!exactInNanoseconds) record.stored = { format: 'pcapng', high, low, unit: tsUnit, offset: tsOffset, tsSec, tsNsec: nsec };
  return record;
}

/**
 * Yields the packets of every section in file order, filling `state` as blocks are
 * met. A block cut short by the end of the file ends the iteration with an issue.
 */
export function* iteratePcapngRecords(
  bytes: Uint8Array,
  state: PcapngReadState,
): Generator<CaptureRecord, void, undefined> {
  if (!isPcapng(bytes)) throw new CaptureFormatError('not a pcapng file: no Section Header Block at the start', 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  let sectionInterfaces: InterfaceState[] = [];
  let offset = 0;
  const truncated = (message: string): void => {
    state.issues.push({ kind: 'truncated', offset, message });
  };

  while (offset < bytes.length) {
    const remaining = bytes.length - offset;
    if (remaining < BLOCK_OVERHEAD) {
      truncated(`block header at byte ${offset} truncated: ${BLOCK_OVERHEAD} bytes needed, ${remaining} present`);
      return;
    }
    const type = view.getUint32(offset, le);
    if (type === SECTION_HEADER_BLOCK) {
      const magic = view.getUint32(offset + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (view.getUint32(offset + 8, false) === BYTE_ORDER_MAGIC) le = false;
      else throw new CaptureFormatError('Section Header Block has no valid byte-order magic', offset + 8);
    }
    const totalLength = view.getUint32(offset + 4, le);
    if (totalLength < BLOCK_OVERHEAD || totalLength % 4 !== 0) {
      throw new CaptureFormatError(`block of type 0x${type.toString(16)} has invalid total length ${totalLength}`, offset);
    }
    if (totalLength > remaining) {
      truncated(`block at byte ${offset} claims ${totalLength} bytes, ${remaining} present`);
      return;
    }
    const trailerLength = view.getUint32(offset + totalLength - 4, le);
    if (trailerLength !== totalLength) {
      throw new CaptureFormatError(
        `block total length ${totalLength} does not match its trailing copy ${trailerLength}`,
        offset,
      );
    }
    const bodyStart = offset + 8;
    const bodyEnd = offset + totalLength - 4;
    const bodyLength = bodyEnd - bodyStart;

    switch (type) {
      case SECTION_HEADER_BLOCK: {
        if (totalLength < MIN_SECTION_HEADER_LENGTH) {
          throw new CaptureFormatError(`Section Header Block of ${totalLength} bytes is too short`, offset);
        }
        state.sections.push(readSectionHeader(bytes, view, offset, totalLength, le, state.sections.length));
        sectionInterfaces = [];
        break;
      }
      case INTERFACE_DESCRIPTION_BLOCK: {
        const iface = readInterface(
          bytes,
          view,
          offset,
          bodyEnd,
          le,
          state.interfaces.length,
          state.sections.length - 1,
          sectionInterfaces.length,
        );
        sectionInterfaces.push(iface);
        state.interfaces.push(iface.info);
        break;
      }
      case ENHANCED_PACKET_BLOCK: {
        if (bodyLength < 20) throw new CaptureFormatError('Enhanced Packet Block shorter than its fixed fields', offset);
        const iface = interfaceFor(sectionInterfaces, view.getUint32(bodyStart, le), offset);
        const capturedLength = view.getUint32(bodyStart + 12, le);
        if (capturedLength > bodyLength - 20) {
          throw new CaptureFormatError(`Enhanced Packet Block claims ${capturedLength} captured bytes, its body holds ${bodyLength - 20}`, offset);
        }
        yield packetRecord(
          bytes,
          iface,
          view.getUint32(bodyStart + 4, le),
          view.getUint32(bodyStart + 8, le),
          bodyStart + 20,
          capturedLength,
          view.getUint32(bodyStart + 16, le),
        );
        break;
      }
      case SIMPLE_PACKET_BLOCK: {
        if (bodyLength < 4) throw new CaptureFormatError('Simple Packet Block shorter than its fixed fields', offset);
        const iface = interfaceFor(sectionInterfaces, 0, offset);
        const origLength = view.getUint32(bodyStart, le);
        // No captured-length field: the packet is the original length cut to the
        // snap length and to what the block holds (the rest is padding).
        const snap = iface.info.snapLength === 0 ? Infinity : iface.info.snapLength;
        const capturedLength = Math.min(origLength, snap, bodyLength - 4);
        // A Simple Packet Block carries no timestamp; the record gets time zero.
        yield packetRecord(bytes, iface, 0, 0, bodyStart + 4, capturedLength, origLength);
        break;
      }
      case OBSOLETE_PACKET_BLOCK: {
        if (bodyLength < 20) throw new CaptureFormatError('Packet Block shorter than its fixed fields', offset);
        const iface = interfaceFor(sectionInterfaces, view.getUint16(bodyStart, le), offset);
        const capturedLength = view.getUint32(bodyStart + 12, le);
        if (capturedLength > bodyLength - 20) {
          throw new CaptureFormatError(`Packet Block claims ${capturedLength} captured bytes, its body holds ${bodyLength - 20}`, offset);
        }
        yield packetRecord(
          bytes,
          iface,
          view.getUint32(bodyStart + 4, le),
          view.getUint32(bodyStart + 8, le),
          bodyStart + 20,
          capturedLength,
          view.getUint32(bodyStart + 16, le),
        );
        break;
      }
      default:
        // Statistics, name resolution, decryption secrets, custom blocks: not ours.
        break;
    }
    offset += totalLength;
  }
}

export interface PcapngFile extends PcapngReadState {
  records: CaptureRecord[];
}

export function readPcapng(bytes: Uint8Array): PcapngFile {
  const state: PcapngReadState = { sections: [], interfaces: [], issues: [] };
  const records = [...iteratePcapngRecords(bytes, state)];
  return { ...state, records };
}

export interface PcapngWriteOptions {
  /**
   * Timestamp unit of the interfaces written. Default 'nano' (lossless for any record).
   * A record that carries its stored timestamp (CaptureRecord.stored) is written
   * with that, on an interface with the unit and offset it came with.
   */
  resolution?: TimestampResolution;
  /** Snap length recorded in each Interface Description Block; default 0 (no limit). */
  snapLength?: number;
  /** Written as the section's shb_userappl option when given. */
  application?: string;
  /**
   * Called for a record that cannot be written (time or lengths out of range),
   * which is then left out. Without it such a record raises RangeError.
   */
  onUnwritable?: (index: number, reason: string) => void;
}

const utf8Encoder = new TextEncoder();
const UINT32_MAX = 0xffffffff;
const UINT64_LIMIT = 1n << 64n;

function padded(length: number): number {
  return (length + 3) & ~3;
}

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new RangeError(`${what} must be an integer in 0..${UINT32_MAX}, got ${value}`);
  }
}

/** An interface of the written file: a link type and a time base. */
interface WrittenInterface {
  linkType: number;
  unit: TimestampUnit;
  offset: bigint;
}

/** if_tsresol: the exponent, with the top bit set for powers of two. */
function tsresolByte(unit: TimestampUnit): number {
  return unit.base === 2 ? 0x80 | unit.exponent : unit.exponent;
}

function interfaceBlockLength(i: WrittenInterface): number {
  // Fixed fields, if_tsresol (padded), if_tsoffset when not zero, end of options.
  return 32 + (i.offset === 0n ? 0 : 12);
}

/** A record's timestamp on its written interface, or why it cannot be written. */
function placeRecord(
  record: CaptureRecord,
  i: number,
  plainUnit: TimestampUnit,
): { interface: WrittenInterface; timestamp: bigint } | string {
  if (!Number.isInteger(record.linkType) || record.linkType < 0 || record.linkType > 0xffff) {
    return `record ${i} link type must be an integer in 0..65535, got ${record.linkType}`;
  }
  for (const [value, what] of [[record.data.length, 'data length'], [record.origLength, 'origLength']] as const) {
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) return `record ${i} ${what} must be an integer in 0..${UINT32_MAX}, got ${value}`;
  }
  const stored: StoredTimestamp | undefined = record.stored;
  if (stored?.format === 'pcapng' && storedStillApplies(record)) {
    return {
      interface: { linkType: record.linkType, unit: stored.unit, offset: stored.offset },
      timestamp: (BigInt(stored.high >>> 0) << 32n) | BigInt(stored.low >>> 0),
    };
  }
  if (!Number.isSafeInteger(record.tsSec) || record.tsSec < 0) {
    return `record ${i} tsSec must be a non-negative integer, got ${record.tsSec}`;
  }
  if (!Number.isInteger(record.tsNsec) || record.tsNsec < 0 || record.tsNsec > 999_999_999) {
    return `record ${i} tsNsec must be an integer in 0..999999999, got ${record.tsNsec}`;
  }
  const nsecPerUnit = 10 ** (9 - plainUnit.exponent);
  const timestamp = BigInt(record.tsSec) * 10n ** BigInt(plainUnit.exponent) + BigInt(Math.floor(record.tsNsec / nsecPerUnit));
  if (timestamp >= UINT64_LIMIT) return `record ${i} timestamp does not fit 64 bits`;
  return { interface: { linkType: record.linkType, unit: plainUnit, offset: 0n }, timestamp };
}

/**
 * Writes one little-endian section: a Section Header Block, one Interface
 * Description Block per link type and time base in order of first use, then an
 * Enhanced Packet Block per record. Records without a stored timestamp share one
 * interface per link type, in `resolution`; a record's own interfaceIndex is not
 * used. Invalid records (timestamps or lengths out of range) raise RangeError,
 * or with `onUnwritable` are reported there and left out.
 */
export function writePcapng(records: readonly CaptureRecord[], options: PcapngWriteOptions = {}): Uint8Array {
  const plainUnit: TimestampUnit = { base: 10, exponent: (options.resolution ?? 'nano') === 'micro' ? 6 : 9 };
  const snapLength = options.snapLength ?? 0;
  checkUint32(snapLength, 'snapLength');
  const application = options.application === undefined ? undefined : utf8Encoder.encode(options.application);
  if (application && application.length > 0xffff) throw new RangeError('application name longer than 65535 bytes');

  const interfaces: WrittenInterface[] = [];
  const interfaceIds = new Map<string, number>();
  const placed: Array<{ record: CaptureRecord; interfaceId: number; timestamp: bigint }> = [];
  const shbLength = MIN_SECTION_HEADER_LENGTH + (application ? 4 + padded(application.length) + 4 : 0);
  let total = shbLength;
  records.forEach((record, i) => {
    const place = placeRecord(record, i, plainUnit);
    if (typeof place === 'string') {
      if (!options.onUnwritable) throw new RangeError(place);
      options.onUnwritable(i, place);
      return;
    }
    const w = place.interface;
    const key = `${w.linkType}/${tsresolByte(w.unit)}/${w.offset}`;
    let interfaceId = interfaceIds.get(key);
    if (interfaceId === undefined) {
      interfaceId = interfaces.length;
      interfaceIds.set(key, interfaceId);
      interfaces.push(w);
      total += interfaceBlockLength(w);
    }
    placed.push({ record, interfaceId, timestamp: place.timestamp });
    total += 32 + padded(record.data.length);
  });

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, SECTION_HEADER_BLOCK, true);
  view.setUint32(4, shbLength, true);
  view.setUint32(8, BYTE_ORDER_MAGIC, true);
  view.setUint16(12, 1, true);
  view.setUint16(14, 0, true);
  view.setBigInt64(16, -1n, true); // section length not given
  if (application) {
    view.setUint16(24, SHB_USERAPPL, true);
    view.setUint16(26, application.length, true);
    out.set(application, 28);
    // opt_endofopt is four zero bytes, already there.
  }
  view.setUint32(shbLength - 4, shbLength, true);
  let offset = shbLength;

  for (const w of interfaces) {
    const length = interfaceBlockLength(w);
    view.setUint32(offset, INTERFACE_DESCRIPTION_BLOCK, true);
    view.setUint32(offset + 4, length, true);
    view.setUint16(offset + 8, w.linkType, true);
    view.setUint32(offset + 12, snapLength, true);
    view.setUint16(offset + 16, IF_TSRESOL, true);
    view.setUint16(offset + 18, 1, true);
    out[offset + 20] = tsresolByte(w.unit);
    if (w.offset !== 0n) {
      view.setUint16(offset + 24, IF_TSOFFSET, true);
      view.setUint16(offset + 26, 8, true);
      view.setBigInt64(offset + 28, w.offset, true);
    }
    // opt_endofopt: zeros already there.
    view.setUint32(offset + length - 4, length, true);
    offset += length;
  }

  for (const { record, interfaceId, timestamp } of placed) {
    const blockLength = 32 + padded(record.data.length);
    view.setUint32(offset, ENHANCED_PACKET_BLOCK, true);
    view.setUint32(offset + 4, blockLength, true);
    view.setUint32(offset + 8, interfaceId, true);
    view.setUint32(offset + 12, Number(timestamp >> 32n), true);
    view.setUint32(offset + 16, Number(timestamp & 0xffffffffn), true);
    view.setUint32(offset + 20, record.data.length, true);
    view.setUint32(offset + 24, record.origLength, true);
    out.set(record.data, offset + 28);
    view.setUint32(offset + blockLength - 4, blockLength, true);
    offset += blockLength;
  }
  return out;
}

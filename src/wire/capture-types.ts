/**
 * The record, interface and error types shared by the capture readers and
 * writers: their own module so the format files and capture.ts do not import
 * each other.
 */
export type CaptureFormat = 'pcap' | 'pcapng';
export type ByteOrder = 'little' | 'big';
/** Timestamp resolution a writer uses: 10^-6 or 10^-9 seconds. */
export type TimestampResolution = 'micro' | 'nano';

export interface CaptureRecord {
  /** LINKTYPE_* value of the interface the packet was captured on. */
  linkType: number;
  tsSec: number;
  /** Fraction of the second in nanoseconds, 0..999999999. */
  tsNsec: number;
  /** The captured bytes; shorter than origLength when the capture truncated the packet. */
  data: Uint8Array;
  /** Length of the packet on the wire. */
  origLength: number;
  /**
   * Classic pcap: always 0. pcapng: index into the file's interface list, counted
   * across all sections (so it stays unambiguous when a file has several sections).
   */
  interfaceIndex: number;
  /**
   * The timestamp as the file stored it, present only when tsSec and tsNsec
   * alone would not write it back unchanged: a pcapng if_tsoffset, a unit
   * other than 10^-1..10^-9 s, a time past what 64 bits of nanoseconds hold
   * (the year 2554), a classic pcap sub-second field out of range. Writers use
   * it as long as tsSec and tsNsec are still the values read with it, so a
   * record copied with new data keeps its time exactly, and one given a new
   * time is written with that.
   */
  stored?: StoredTimestamp;
}

/** The unit of a pcapng interface's timestamps: base^-exponent seconds. */
export interface TimestampUnit {
  base: 10 | 2;
  exponent: number;
}

export type StoredTimestamp =
  | {
      format: 'pcapng';
      /** The 64-bit count of units, as its two 32-bit halves. */
      high: number;
      low: number;
      unit: TimestampUnit;
      /** if_tsoffset: seconds added to every timestamp of the interface. */
      offset: bigint;
      /** The record's tsSec and tsNsec when read. */
      tsSec: number;
      tsNsec: number;
    }
  | {
      format: 'pcap';
      resolution: TimestampResolution;
      sec: number;
      fraction: number;
      tsSec: number;
      tsNsec: number;
    };

/** True when a writer may use `record.stored`: the record's time is still the one read with it. */
export function storedStillApplies(record: CaptureRecord): boolean {
  const s = record.stored;
  return s !== undefined && s.tsSec === record.tsSec && s.tsNsec === record.tsNsec;
}

export interface CaptureInterface {
  /** Position in the file's interface list (what CaptureRecord.interfaceIndex refers to). */
  index: number;
  linkType: number;
  /** 0 means no limit. */
  snapLength: number;
}

/** Something wrong with the file that did not stop the good records being returned. */
export interface CaptureIssue {
  kind: 'truncated' | 'timestamp-out-of-range';
  /** Byte offset in the file of the record or block concerned. */
  offset: number;
  message: string;
}

/** The bytes are not a readable capture. Says what is wrong and where. */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
  constructor(
    readonly problem: string,
    readonly offset: number,
  ) {
    super(`${problem} (at byte ${offset})`);
  }
}


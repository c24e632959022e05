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


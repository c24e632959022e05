/**
 * Capture files, whatever their format: the record every dataplane works with,
 * the typed error readers throw, and format auto-detection.
 *
 * Pure: callers hand in the file's bytes and get bytes back. Records returned by
 * the readers are views into the input (no copy), so a caller that edits a record's
 * data in place edits the input buffer too; slice() first when that matters.
 */
import { isPcapFile, iteratePcapRecords, readPcapHeader } from './pcap-file.js';
import type { PcapFileHeader } from './pcap-file.js';
import { isPcapng, iteratePcapngRecords } from './pcapng.js';
import type { PcapngInterface, PcapngSection } from './pcapng.js';

export { writePcap } from './pcap-file.js';
export type { PcapFileHeader, PcapWriteOptions } from './pcap-file.js';
export { writePcapng } from './pcapng.js';
export type { PcapngInterface, PcapngSection, PcapngWriteOptions } from './pcapng.js';

export * from './capture-types.js';
import type { CaptureFormat, CaptureInterface, CaptureIssue, CaptureRecord } from './capture-types.js';
import { CaptureFormatError } from './capture-types.js';

function detectCaptureFormat(bytes: Uint8Array): CaptureFormat | undefined {
  if (isPcapng(bytes)) return 'pcapng';
  if (isPcapFile(bytes)) return 'pcap';
  return undefined;
}

/**
 * A lazily read capture. Iterating parses one record at a time; `interfaces` and
 * `issues` fill in as the iteration proceeds (every iteration starts them afresh).
 * Structural errors met on the way are thrown as CaptureFormatError.
 */
export interface CaptureReader extends Iterable<CaptureRecord> {
  readonly format: CaptureFormat;
  readonly interfaces: readonly CaptureInterface[];
  readonly issues: readonly CaptureIssue[];
  /** Classic pcap only: the file header, parsed when the reader is opened. */
  readonly pcapHeader?: PcapFileHeader;
  /** pcapng only: the sections met so far. */
  readonly sections?: readonly PcapngSection[];
}

export function iterateCapture(bytes: Uint8Array): CaptureReader {
  const format = detectCaptureFormat(bytes);
  if (format === undefined) {
    throw new CaptureFormatError('not a pcap or pcapng file: unknown magic number', 0);
  }
  if (format === 'pcap') {
    const header = readPcapHeader(bytes);
    const issues: CaptureIssue[] = [];
    const interfaces: CaptureInterface[] = [{ index: 0, linkType: header.linkType, snapLength: header.snapLength }];
    return {
      format,
      interfaces,
      issues,
      pcapHeader: header,
      [Symbol.iterator]() {
        issues.length = 0;
        return iteratePcapRecords(bytes, header, issues);
      },
    };
  }
  const issues: CaptureIssue[] = [];
  const interfaces: PcapngInterface[] = [];
  const sections: PcapngSection[] = [];
  return {
    format,
    interfaces,
    issues,
    sections,
    [Symbol.iterator]() {
      issues.length = 0;
      interfaces.length = 0;
      sections.length = 0;
      return iteratePcapngRecords(bytes, { issues, interfaces, sections });
    },
  };
}

export interface CaptureFile {
  format: CaptureFormat;
  records: CaptureRecord[];
  interfaces: CaptureInterface[];
  issues: CaptureIssue[];
  pcapHeader?: PcapFileHeader;
  sections?: PcapngSection[];
}

/** Reads a whole capture. Throws CaptureFormatError; a truncated tail is an issue, not an error. */
export function readCapture(bytes: Uint8Array): CaptureFile {
  const reader = iterateCapture(bytes);
  const records = [...reader];
  const file: CaptureFile = {
    format: reader.format,
    records,
    interfaces: [...reader.interfaces],
    issues: [...reader.issues],
  };
  if (reader.pcapHeader) file.pcapHeader = reader.pcapHeader;
  if (reader.sections) file.sections = [...reader.sections];
  return file;
}

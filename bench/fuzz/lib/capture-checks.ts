/**
 * A capture read, decoded and written back: only CaptureFormatError may come
 * out of the reader; every record's frame decodes without throwing; what the
 * writer accepts reads back as the same records (data, lengths, times).
 */
import { readCapture } from '../../../src/wire/capture.js';
import { CaptureFormatError, type CaptureRecord } from '../../../src/wire/capture-types.js';
import { decodeLinkFrame } from '../../../src/wire/link-layer.js';
import { expectOnly, invariant } from '../target.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function readWriteRead(input: Uint8Array, write: (records: CaptureRecord[], onUnwritable: (i: number) => void) => Uint8Array): void {
  const file = expectOnly(() => readCapture(input), CaptureFormatError);
  if (!file) return;
  for (const r of file.records) {
    invariant(r.data.length <= r.origLength || r.origLength >= 0, 'negative original length');
    decodeLinkFrame(r.linkType, r.data);
  }
  const left = new Set<number>();
  const out = write(file.records, (i) => left.add(i));
  const again = readCapture(out);
  const kept = file.records.filter((_, i) => !left.has(i));
  invariant(again.records.length === kept.length, () => `wrote ${kept.length} records, read back ${again.records.length}`);
  kept.forEach((r, i) => {
    const b = again.records[i];
    invariant(sameBytes(r.data, b.data), () => `record ${i}: data changed by writing it`);
    invariant(r.origLength === b.origLength, () => `record ${i}: original length ${r.origLength} read back as ${b.origLength}`);
    invariant(r.tsSec === b.tsSec && r.tsNsec === b.tsNsec, () => `record ${i}: time ${r.tsSec}.${r.tsNsec} read back as ${b.tsSec}.${b.tsNsec}`);
    invariant(r.linkType === b.linkType, () => `record ${i}: link type ${r.linkType} read back as ${b.linkType}`);
  });
}

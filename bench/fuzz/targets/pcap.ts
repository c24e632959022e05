/** The classic pcap reader, the link-layer decoder on every record, and the writer: what is written reads back the same. */
import { writePcap } from '../../../src/wire/pcap-file.js';
import { defineFuzzTarget } from '../target.js';
import { readWriteRead } from '../lib/capture-checks.js';
import { pcapSeeds } from '../lib/capture-seeds.js';

export default defineFuzzTarget({
  name: 'pcap',
  description: 'classic pcap: read (CaptureFormatError only), decode every frame, write back and read the same records',
  seeds: pcapSeeds,
  dictionary: ['\xd4\xc3\xb2\xa1', '\xa1\xb2\xc3\xd4', '\x4d\x3c\xb2\xa1', '\x02\x00\x04\x00', '\x01\x00\x00\x00', '\x65\x00\x00\x00', '\x71\x00\x00\x00', '\x14\x01\x00\x00', '\xff\xff\xff\xff', '\x08\x00', '\x86\xdd', '\x81\x00'],
  maxLength: 16384,
  ciCount: 1500,
  run(input) {
    readWriteRead(input, (records, onUnwritable) => {
      const first = records[0];
      return writePcap(records, { linkType: first?.linkType ?? 1, onUnwritable });
    });
  },
});

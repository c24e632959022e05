/** The pcapng reader (sections, interfaces, options, the three packet blocks), and the writer: what is written reads back the same. */
import { writePcapng } from '../../../src/wire/pcapng.js';
import { defineFuzzTarget } from '../target.js';
import { readWriteRead } from '../lib/capture-checks.js';
import { pcapngSeeds } from '../lib/capture-seeds.js';

export default defineFuzzTarget({
  name: 'pcapng',
  description: 'pcapng: read (CaptureFormatError only), decode every frame, write back and read the same records (times kept exactly)',
  seeds: pcapngSeeds,
  dictionary: ['\x0a\x0d\x0d\x0a', '\x4d\x3c\x2b\x1a', '\x1a\x2b\x3c\x4d', '\x01\x00\x00\x00', '\x06\x00\x00\x00', '\x03\x00\x00\x00', '\x02\x00\x00\x00', '\x09\x00\x01\x00', '\x0e\x00\x08\x00', '\x00\x00\x00\x00', '\xff\xff\xff\xff', '\x80'],
  maxLength: 16384,
  ciCount: 1500,
  run(input) {
    readWriteRead(input, (records, onUnwritable) => writePcapng(records, { resolution: 'nano', onUnwritable }));
  },
});

/**
 * `masq pcap translate` as a function: a capture in (pcap or pcapng), through
 * the engine with the SIP ALG, a capture out. Only CaptureFormatError may come
 * out; no record may fail inside the engine or the ALG (translateCapture
 * counts such failures and goes on: here they are findings); the output must
 * read back with as many records as the summary says it wrote.
 */
import { translateCapture } from '../../../src/dataplane/pcap/translate.js';
import { readCapture } from '../../../src/wire/capture.js';
import { CaptureFormatError } from '../../../src/wire/capture-types.js';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import type { NatEngine } from '../../../src/nat/engine.js';
import { defineFuzzTarget, expectOnly, invariant } from '../target.js';
import { pcapngSeeds, pcapSeeds } from '../lib/capture-seeds.js';

const sip = findAlg('sip')!;
const OPTIONS = {
  config: { inside: ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'], public: ['203.0.113.1'] },
  helpers: [(e: NatEngine) => void attachAlg(e, sip)],
};

export default defineFuzzTarget({
  name: 'translate',
  description: 'translateCapture (pcap and pcapng, with the SIP ALG): no record fails in the engine or ALG, the output reads back',
  seeds: () => [...pcapSeeds(), ...pcapngSeeds()],
  dictionary: ['\xd4\xc3\xb2\xa1', '\x0a\x0d\x0d\x0a', '\x4d\x3c\x2b\x1a', '\x08\x00', '\x45\x00', 'SIP/2.0', '\x13\xc4'],
  maxLength: 16384,
  ciCount: 600,
  run(input) {
    const r = expectOnly(() => translateCapture(input, OPTIONS), CaptureFormatError);
    if (!r) return;
    invariant(r.summary.failed === 0, () => `records failed in the engine or an ALG: ${r.summary.captureIssues.filter((i) => i.includes('not translated')).join('; ')}`);
    const back = readCapture(r.output);
    invariant(back.records.length === r.summary.packetsOut, () => `the summary says ${r.summary.packetsOut} records out, the output holds ${back.records.length}`);
  },
});

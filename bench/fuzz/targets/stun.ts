/**
 * The STUN codec: decode (StunDecodeError only, whatever the options), and
 * what decodes re-encodes to the same bytes; integrity and fingerprint checks
 * never throw; the TCP splitter (StunStreamError only) frames the same
 * messages however the bytes are chunked.
 */
import { decodeStunMessage, effectiveAttributes, encodeStunMessage, looksLikeStun } from '../../../src/stun/message.js';
import { StunDecodeError } from '../../../src/stun/errors.js';
import { StunStreamError, StunStreamSplitter } from '../../../src/stun/framing.js';
import { checkFingerprint, checkIntegrity } from '../../../src/stun/integrity.js';
import { defineFuzzTarget, expectOnly, invariant } from '../target.js';
import { hashBytes } from '../rng.js';
import { STUN_DICTIONARY, stunSeeds } from '../lib/stun-seeds.js';

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function split(b: Uint8Array, chunk: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const stream = new StunStreamSplitter();
  for (let i = 0; i < b.length; i += chunk) out.push(...stream.push(b.subarray(i, i + chunk)));
  return out;
}

export default defineFuzzTarget({
  name: 'stun',
  description: 'STUN codec: decode (classic allowed or not, trailing bytes or not), re-encode the same bytes, integrity checks, TCP framing',
  seeds: stunSeeds,
  dictionary: STUN_DICTIONARY,
  maxLength: 2048,
  run(b) {
    looksLikeStun(b, true);
    for (const options of [{}, { allowClassic: true }, { allowTrailing: true }]) {
      const d = expectOnly(() => decodeStunMessage(b, options), StunDecodeError);
      if (!d) continue;
      effectiveAttributes(d);
      checkFingerprint(d);
      checkIntegrity(d, new Uint8Array(16));
      if (!('allowTrailing' in options)) invariant(same(encodeStunMessage(d), b), 'a decoded message does not re-encode to its bytes');
    }
    const whole = expectOnly(() => split(b, b.length || 1), StunStreamError);
    const chunked = expectOnly(() => split(b, 1 + (hashBytes(b) % 7)), StunStreamError);
    if (whole && chunked) invariant(whole.length === chunked.length && whole.every((m, i) => same(m, chunked[i])), 'TCP framing depends on how the bytes are chunked');
  },
});

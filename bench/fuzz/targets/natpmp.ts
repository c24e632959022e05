/**
 * The NAT-PMP codec (src/portmap/natpmp.ts), both directions: decoding
 * throws only NatPmpDecodeError; what decodes re-encodes to the same bytes
 * (the reserved field aside) and decodes again to the same value; the error
 * answer a request gets is a response the client side reads.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeNatPmpRequest, decodeNatPmpResponse, encodeNatPmpError, encodeNatPmpRequest, encodeNatPmpResponse, NatPmpDecodeError } from '../../../src/portmap/natpmp.js';
import { defineFuzzTarget, expectOnly, invariant } from '../target.js';
import { natPmpGenerator, natPmpSeeds, PORTMAP_DICTIONARY } from '../lib/portmap-seeds.js';

function sameExcept(a: Uint8Array, b: Uint8Array, skip: readonly number[]): boolean {
  return a.length <= b.length && a.every((v, i) => v === b[i] || skip.includes(i));
}

export default defineFuzzTarget({
  name: 'natpmp',
  description: 'NAT-PMP requests and responses: only NatPmpDecodeError; what decodes re-encodes to its bytes; error answers read back',
  seeds: natPmpSeeds,
  dictionary: PORTMAP_DICTIONARY,
  generator: natPmpGenerator,
  maxLength: 64,
  run(b) {
    let refusal: NatPmpDecodeError | null = null;
    const req = expectOnly(() => {
      try {
        return decodeNatPmpRequest(b);
      } catch (err) {
        if (err instanceof NatPmpDecodeError) refusal = err;
        throw err;
      }
    }, NatPmpDecodeError);
    if (req) {
      const again = encodeNatPmpRequest(req);
      invariant(sameExcept(again, b, [2, 3]), 'a decoded request does not re-encode to its bytes');
      invariant(isDeepStrictEqual(decodeNatPmpRequest(again), req), 'a re-encoded request decodes otherwise');
    }
    const answer = (refusal as NatPmpDecodeError | null)?.answer;
    if (answer) {
      const e = encodeNatPmpError(answer.op, answer.result, 77);
      invariant(e.length <= 16 && e[1] === (128 | (answer.op & 0x7f)), 'an error answer of the wrong size or opcode');
      const read = expectOnly(() => decodeNatPmpResponse(e), NatPmpDecodeError);
      if (read) invariant(read.result === answer.result && read.epoch === 77, 'an error answer reads back otherwise');
    }
    const res = expectOnly(() => decodeNatPmpResponse(b), NatPmpDecodeError);
    if (res && (res.op === 'external-address' ? b.length >= 12 : b.length >= 16)) {
      const again = encodeNatPmpResponse(res);
      invariant(sameExcept(again, b, []), 'a decoded response does not re-encode to its bytes');
      invariant(isDeepStrictEqual(decodeNatPmpResponse(again), res), 'a re-encoded response decodes otherwise');
    }
  },
});

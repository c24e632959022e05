/**
 * The PCP codec (src/portmap/pcp.ts), both directions: decoding throws only
 * PcpDecodeError; what decodes re-encodes to a message of the same length
 * that decodes to the same value (reserved fields and option padding come
 * back as zeros, and then the bytes are the same); the error response to any
 * request is at most 80 bytes, of the request's opcode, and reads back.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodePcpRequest, decodePcpResponse, encodePcpError, encodePcpRequest, encodePcpResponse, PCP_MAX_MESSAGE, PcpDecodeError, requestOpcode, type PcpResultCode } from '../../../src/portmap/pcp.js';
import { defineFuzzTarget, expectOnly, invariant } from '../target.js';
import { hashBytes } from '../rng.js';
import { pcpGenerator, pcpSeeds, PORTMAP_DICTIONARY } from '../lib/portmap-seeds.js';

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export default defineFuzzTarget({
  name: 'pcp',
  description: 'PCP requests and responses (MAP, PEER, ANNOUNCE, options): only PcpDecodeError; re-encoding keeps length and value; error responses bounded and readable',
  seeds: pcpSeeds,
  dictionary: PORTMAP_DICTIONARY,
  generator: pcpGenerator,
  maxLength: PCP_MAX_MESSAGE + 64,
  run(b) {
    const req = expectOnly(() => decodePcpRequest(b), PcpDecodeError);
    if (req) {
      const again = encodePcpRequest(req);
      invariant(again.length === b.length, () => `a ${b.length}-byte request re-encodes to ${again.length} bytes`);
      invariant(isDeepStrictEqual(decodePcpRequest(again), req), 'a re-encoded request decodes otherwise');
      invariant(same(encodePcpRequest(decodePcpRequest(again)), again), 'the re-encoding is not stable');
    }
    const res = expectOnly(() => decodePcpResponse(b), PcpDecodeError);
    if (res && b.length > 24) {
      const again = encodePcpResponse(res);
      invariant(again.length === b.length, () => `a ${b.length}-byte response re-encodes to ${again.length} bytes`);
      invariant(isDeepStrictEqual(decodePcpResponse(again), res), 'a re-encoded response decodes otherwise');
    }
    const op = requestOpcode(b);
    const err = encodePcpError(b, (1 + (hashBytes(b) % 13)) as PcpResultCode, 1800, 9);
    invariant(err.length <= 80 && err[1] === (0x80 | op), () => `an error response of ${err.length} bytes, opcode byte ${err[1]}`);
    if (op <= 2) {
      const read = expectOnly(() => decodePcpResponse(err), PcpDecodeError);
      invariant(read && read.epoch === 9 && read.lifetime === 1800, 'an error response does not read back');
    }
  },
});

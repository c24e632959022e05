/**
 * SIP and SDP over TCP through the engine with the SIP ALG: each input is the
 * first message of a new connection from a phone to the proxy, cut into
 * segments at offsets drawn from the input (one-byte segments now and then),
 * then the same bytes from the proxy back. What the other side receives must
 * still parse when the input did; checksums and pinhole rules hold throughout.
 */
import { frameSipStream } from '../../../src/alg/sip/index.js';
import { defineFuzzTarget, latin1 } from '../target.js';
import { hashBytes, Rng } from '../rng.js';
import { sipMessageArb } from '../../../test/alg/sip/message-generator.js';
import { captureSipMessages, generatedSipMessages, rfc4475Messages, SIP_DICTIONARY, SIP_WORLD } from '../lib/sip-seeds.js';
import { assertNoHandlerFailures, assertStillSip, PROXY, sipHarness, type LazyHarness } from '../lib/sip-alg.js';

/** Where to cut: none, a few random offsets, or every byte of a prefix. */
function cuts(length: number, rng: Rng): number[] {
  switch (rng.below(4)) {
    case 0:
      return [];
    case 1: {
      const n = Math.min(length, 64);
      return Array.from({ length: n }, (_, i) => i + 1);
    }
    default:
      return Array.from({ length: 1 + rng.below(6) }, () => rng.below(length + 1));
  }
}

/** One complete message at the start of the stream, and nothing after it. */
function oneWholeMessage(b: Uint8Array): boolean {
  const f = frameSipStream(b);
  return f.kind === 'message' && f.length === b.length;
}

export default defineFuzzTarget<LazyHarness>({
  name: 'sip-alg-tcp',
  description: 'SIP/SDP over TCP through NatEngine with the SIP ALG, segmented at random offsets, both directions',
  seeds: () => [...generatedSipMessages(64, 11).map((m) => latin1(new TextDecoder('latin1').decode(m).replace(/SIP\/2\.0\/UDP/g, 'SIP/2.0/TCP'))), ...captureSipMessages(), ...rfc4475Messages().slice(0, 20)],
  generator: sipMessageArb(SIP_WORLD).map(latin1),
  generatorShare: 0.3,
  dictionary: SIP_DICTIONARY,
  text: true,
  maxLength: 4096,
  createState: () => ({ h: null }),
  resetEvery: 32,
  ciCount: 250,
  run(b, state) {
    const rng = new Rng(hashBytes(b));
    const h = (state.h ??= sipHarness(rng.u32()));
    state.conns = (state.conns ?? 0) + 1;
    const phone = rng.chance(0.5) ? '10.0.0.3' : '10.0.0.2';
    const c = h.tcp(`${phone}:${40000 + state.conns}`, PROXY);
    if (!c) return;
    c.send('out', b, cuts(b.length, rng));
    c.send('in', b, cuts(b.length, rng));
    if (oneWholeMessage(b)) {
      const toRemote = c.toRemote.bytes();
      if (toRemote.length > 0) assertStillSip(b, toRemote, 'stream');
      const toInside = c.toInside.bytes();
      if (toInside.length > 0) assertStillSip(b, toInside, 'stream');
    }
    assertNoHandlerFailures(h);
  },
});

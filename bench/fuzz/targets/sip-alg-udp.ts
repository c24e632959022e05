/**
 * SIP and SDP over UDP through the engine with the SIP ALG: each input goes
 * from a phone to the proxy, from the proxy back to the phone, and (one in
 * four) to a PBX behind a static forward. Checksums, re-parsing, and the
 * pinhole rules are checked after every packet.
 */
import { parseUdpPacket } from '../../../src/wire/udp.js';
import { Verdict } from '../../../src/nat/engine.js';
import { defineFuzzTarget, latin1 } from '../target.js';
import { hashBytes } from '../rng.js';
import { sipMessageArb } from '../../../test/alg/sip/message-generator.js';
import { captureSipMessages, generatedSipMessages, rfc4475Messages, SIP_DICTIONARY, SIP_WORLD } from '../lib/sip-seeds.js';
import { assertNoHandlerFailures, assertStillSip, PROXY, sipHarness, type LazyHarness } from '../lib/sip-alg.js';

function sent(d: { verdict: Verdict; packets: Uint8Array[] }): Uint8Array | null {
  return d.verdict === Verdict.Drop ? null : parseUdpPacket(d.packets[0]).payload;
}

export default defineFuzzTarget<LazyHarness>({
  name: 'sip-alg-udp',
  description: 'SIP/SDP datagrams through NatEngine with the SIP ALG, both directions and a forwarded PBX: pinholes only to the sender, >= 1024, capped',
  seeds: () => [...generatedSipMessages(128, 7), ...captureSipMessages(), ...rfc4475Messages()],
  generator: sipMessageArb(SIP_WORLD).map(latin1),
  generatorShare: 0.35,
  dictionary: SIP_DICTIONARY,
  text: true,
  maxLength: 4096,
  createState: () => ({ h: null }),
  resetEvery: 48,
  ciCount: 500,
  run(b, state) {
    const hash = hashBytes(b);
    const h = (state.h ??= sipHarness(hash));
    const phone = hash & 1 ? '10.0.0.3' : '10.0.0.2';
    const port = hash & 2 ? 5060 : 5062;
    if (hash & 4) h.clock.advance(hash & 8 ? 40_000 : 1_000);
    const out = h.udp(`${phone}:${port}`, PROXY, b, 'out');
    const o = sent(out);
    if (o) assertStillSip(b, o, 'datagram');
    const back = h.udp(`${phone}:${port}`, PROXY, b, 'in');
    const i = sent(back);
    if (i) assertStillSip(b, i, 'datagram');
    if ((hash & 0x30) === 0) {
      const pbx = sent(h.udpToPublic(PROXY, '203.0.113.1:5060', b));
      if (pbx) assertStillSip(b, pbx, 'datagram');
    }
    assertNoHandlerFailures(h);
  },
});

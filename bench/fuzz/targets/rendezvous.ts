/**
 * The rendezvous and relay protocol codec: parse (RendezvousDecodeError
 * only), the session read before the MAC, the message read after; what reads
 * as a message encodes again to a packet that reads as the same message.
 */
import { encodeMessage, isAuthenticatedType, readMessage, sessionOf, type Message } from '../../../src/rendezvous/protocol/messages.js';
import { looksLikeMasqPacket, macValid, parsePacket, RendezvousDecodeError } from '../../../src/rendezvous/protocol/wire.js';
import { defineFuzzTarget, expectOnly, invariant } from '../target.js';
import { keyOf, RENDEZVOUS_DICTIONARY, rendezvousSeeds } from '../lib/rendezvous-seeds.js';

const json = (m: Message) => JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));

export default defineFuzzTarget({
  name: 'rendezvous',
  description: 'rendezvous/relay packets: parse, session, MAC check, read; what reads re-encodes to the same message',
  seeds: rendezvousSeeds,
  dictionary: RENDEZVOUS_DICTIONARY,
  maxLength: 1500,
  run(b) {
    looksLikeMasqPacket(b);
    expectOnly(() => parsePacket(b, () => true), RendezvousDecodeError);
    expectOnly(() => parsePacket(b, () => false), RendezvousDecodeError);
    const raw = expectOnly(() => parsePacket(b, isAuthenticatedType), RendezvousDecodeError);
    if (!raw) return;
    const session = expectOnly(() => sessionOf(raw), RendezvousDecodeError);
    const key = session ? keyOf(session) : null;
    if (key) macValid(raw, key);
    const m = expectOnly(() => readMessage(raw), RendezvousDecodeError);
    if (!m) return;
    const again = readMessage(parsePacket(encodeMessage(m, raw.mac ? key ?? new Uint8Array(32) : null), isAuthenticatedType));
    invariant(json(again) === json(m), () => `${m.kind}: re-encoded, it reads as ${json(again).slice(0, 200)} instead of ${json(m).slice(0, 200)}`);
  },
});

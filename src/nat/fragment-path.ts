/**
 * Fragments through the engine: a first fragment is translated like any
 * packet (it carries the ports), and its translation is remembered; later
 * fragments of the same datagram take the same address (they carry no
 * ports). A later fragment that comes first waits, bounded, for its first
 * (RFC 4787 REQ-14). The table itself is fragments.ts.
 */
import { DropReason } from './counters.js';
import type { NatParts } from './parts.js';
import { IPV4 } from '../wire/ipv4.js';
import { L4Checksum, rewriteEndpoint } from './rewrite.js';
import { Side, Verdict } from './verdict.js';

export class FragmentPath {
  constructor(private readonly p: NatParts) {}

  /**
   * After translating a first fragment: remember its translation (`addr`, the
   * address that replaced the original), and release the later fragments that
   * came early.
   */
  remember(outbound: boolean, proto: number, src: number, dst: number, pkt: Uint8Array, addr: number, now: number): void {
    const { fragments, counters, events, config, emitted } = this.p;
    const early = fragments.remember(outbound, proto, src, dst, ipId(pkt), addr, now);
    if (early === null) {
      counters.drops[DropReason.fragmentLimit]++;
      events.limit('fragments', `fragment table full (${config.limits.fragments})`, now);
      return;
    }
    for (const f of early) {
      const v = this.translateLater(f, outbound ? Side.Inside : Side.Outside, proto, src, dst, now);
      if (v !== Verdict.Drop) emitted.push({ side: v === Verdict.ToOutside ? Side.Outside : Side.Inside, packet: f });
    }
  }

  /** A fragment after the first, arriving on `side`: the first fragment's translation, or a bounded wait for it. */
  translateLater(pkt: Uint8Array, side: Side, proto: number, src: number, dst: number, now: number): Verdict {
    const { fragments, counters, addresses } = this.p;
    const outbound = side === Side.Inside;
    const addr = fragments.lookup(outbound, proto, src, dst, ipId(pkt), now);
    if (addr < 0) return this.hold(outbound, pkt, proto, src, dst, now);
    // The address only: no transport header here.
    rewriteEndpoint(pkt, 0, 0, 0, proto, outbound ? IPV4.SRC : IPV4.DST, 0, outbound ? src : dst, addr, 0, L4Checksum.None);
    counters.fragmentsTranslated++;
    if (!outbound) {
      counters.packetsIn++;
      return Verdict.ToInside;
    }
    counters.packetsOut++;
    if (addresses.isPublic(dst)) {
      counters.hairpinned++;
      return this.translateLater(pkt, Side.Outside, proto, addr, dst, now) === Verdict.Drop ? Verdict.Drop : Verdict.ToInside;
    }
    return Verdict.ToOutside;
  }

  /** A later fragment with no known first fragment: hold it (bounded) for the first to arrive. */
  private hold(outbound: boolean, pkt: Uint8Array, proto: number, src: number, dst: number, now: number): Verdict {
    const { fragments, counters, events, refusals } = this.p;
    if (fragments.hold(outbound, proto, src, dst, ipId(pkt), pkt, now)) {
      counters.fragmentsHeld++;
      return Verdict.Drop;
    }
    events.limit('fragments', 'early-fragment buffer full', now);
    return refusals.drop(DropReason.fragmentOrphan);
  }
}

function ipId(pkt: Uint8Array): number {
  return (pkt[IPV4.IDENT] << 8) | pkt[IPV4.IDENT + 1];
}

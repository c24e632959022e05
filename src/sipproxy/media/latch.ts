/**
 * Latching with a strict source: which sender a relay port accepts.
 *
 * A phone behind a NAT announces an address it cannot be reached at; its
 * media reaches the relay from its NAT's public address and a port nobody
 * can predict. The relay learns that source from the packets themselves,
 * and this is where RTP Bleed (2017) and CVE-2025-53399 (2025) attack: a
 * relay that learns from any packet, at any time, sends a call's media to
 * whoever sprays its ports first, and accepts their media into the call.
 *
 * So a port learns only inside a window that an offer or answer opens, and
 * only from an eligible source: by default a packet from the address the
 * leg's signalling came from (its NAT's public address) or from the public
 * address its SDP names. The first eligible packet latches the port and
 * closes the window: learning takes one packet. From then on only that
 * exact address and port is accepted; everything else is dropped and
 * counted. A new offer or answer for the leg re-opens the window (the phone
 * may have moved its media) while packets from the latched source keep
 * flowing; if the phone stayed where it was, its next few packets
 * (WINDOW_PACKETS, fewer than the five of the 2025 fix) close the window
 * again.
 *
 * `mode: 'any'` accepts the first packet from any address in the window (for
 * phones whose media leaves through another public address than their
 * signalling); it is weaker and documented as such.
 */

export type LatchMode = 'signalling-address' | 'any';

/** Packets from the already latched source after which a re-opened window closes. */
export const WINDOW_PACKETS = 4;

export class Latch {
  /** The latched source, or null before the first eligible packet. */
  address: string | null = null;
  port = 0;
  /** Learning is allowed (an offer or answer re-opened it and no eligible packet came yet). */
  windowOpen = true;
  /** Packets accepted from the latched source. */
  accepted = 0;
  /** Packets refused: wrong source after latching, or not eligible while learning. */
  refused = 0;
  /** Times a source was learned. */
  latches = 0;
  /** Packets from the latched source since the window re-opened. */
  private seenInWindow = 0;

  constructor(
    public mode: LatchMode,
    /** The public address the leg's signalling comes from. */
    public signallingAddress: string,
    /** The address the leg's SDP names, when it is a public one (null: private, unspecified or absent). */
    public sdpAddress: string | null,
  ) {}

  /** May a packet from address:port pass? Learns the source when the window is open. */
  accept(address: string, port: number): boolean {
    if (port === this.port && address === this.address) {
      if (this.windowOpen && ++this.seenInWindow >= WINDOW_PACKETS) this.windowOpen = false;
      this.accepted++;
      return true;
    }
    if (this.windowOpen && this.eligible(address)) {
      this.address = address;
      this.port = port;
      this.windowOpen = false;
      this.latches++;
      this.accepted++;
      return true;
    }
    this.refused++;
    return false;
  }

  eligible(address: string): boolean {
    return this.mode === 'any' || address === this.signallingAddress || address === this.sdpAddress;
  }

  /** A new offer or answer for this leg: learn again (the latched source stays valid until another one is learned). */
  reopen(signallingAddress: string, sdpAddress: string | null): void {
    this.signallingAddress = signallingAddress;
    this.sdpAddress = sdpAddress;
    this.windowOpen = true;
    this.seenInWindow = 0;
  }

  get latched(): boolean {
    return this.address !== null;
  }
}

/**
 * The media of one call as the relay holds it: two legs (the offerer of the
 * first offer is leg 0, the other side leg 1), each known by its tag (From
 * or To tag, as the ng protocol names them too), and one relayed stream per
 * m= line, with four relay ports: RTP and RTCP facing each leg.
 */
import type { RelayEndpoint } from './endpoint.js';
import type { SdpStream } from './sdp-anchor.js';

export type CallState = 'offered' | 'early' | 'confirmed';

export interface MediaLeg {
  tag: string | null;
  /** The public address this leg's signalling came from (its NAT's). */
  signallingAddress: string;
  /** What this leg's last SDP said, per m= line. */
  announced: SdpStream[];
}

export class RelayStream {
  /** endpoints[leg] = [RTP, RTCP]: the relay ports that leg sends to. */
  readonly endpoints: [[RelayEndpoint, RelayEndpoint], [RelayEndpoint, RelayEndpoint]];
  /** RTP (0) and RTCP (1) pairs handed to the kernel. */
  readonly kernel: [boolean, boolean] = [false, false];

  constructor(
    readonly index: number,
    readonly media: string,
    a: [RelayEndpoint, RelayEndpoint],
    b: [RelayEndpoint, RelayEndpoint],
  ) {
    this.endpoints = [a, b];
    a[0].peer = b[0];
    b[0].peer = a[0];
    a[1].peer = b[1];
    b[1].peer = a[1];
  }

  /** Every port of the stream. */
  ports(): number[] {
    return [this.endpoints[0][0].port, this.endpoints[0][1].port, this.endpoints[1][0].port, this.endpoints[1][1].port];
  }

  /** The latest accepted packet on any of its ports (user space or kernel), 0 if none. */
  lastPacketAt(): number {
    let t = 0;
    for (const leg of this.endpoints) for (const e of leg) if (e.lastPacketAt > t) t = e.lastPacketAt;
    return t;
  }
}

export class MediaCall {
  readonly legs: [MediaLeg, MediaLeg];
  readonly streams = new Map<number, RelayStream>();
  state: CallState = 'offered';
  /** Clock times: created, last offer/answer, answered (early or final). */
  lastSignalAt: number;
  confirmedAt = 0;
  /** Ended: no more offers or packets; kept only while the caller still holds it. */
  ended = false;

  constructor(
    readonly callId: string,
    readonly createdAt: number,
    offererTag: string | null,
    offererAddress: string,
  ) {
    this.legs = [
      { tag: offererTag, signallingAddress: offererAddress, announced: [] },
      { tag: null, signallingAddress: '', announced: [] },
    ];
    this.lastSignalAt = createdAt;
  }

  /** The leg with this tag (0 or 1), or -1. */
  legOf(tag: string | null): number {
    if (tag === null) return -1;
    if (this.legs[0].tag === tag) return 0;
    if (this.legs[1].tag === tag) return 1;
    return -1;
  }

  /**
   * Every stream is on hold: one of its legs said sendonly, recvonly,
   * inactive or c=0.0.0.0, so silence is expected and the longer timeout
   * applies.
   */
  held(): boolean {
    if (this.streams.size === 0) return false;
    for (const s of this.streams.values()) {
      const a = this.legs[0].announced[s.index];
      const b = this.legs[1].announced[s.index];
      const isHeld = (x: SdpStream | undefined) => x !== undefined && (x.hold || x.direction === 'recvonly');
      if (!isHeld(a) && !isHeld(b)) return false;
    }
    return true;
  }

  lastPacketAt(): number {
    let t = 0;
    for (const s of this.streams.values()) t = Math.max(t, s.lastPacketAt());
    return t;
  }
}

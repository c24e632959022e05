/**
 * Where a packet goes after the engine has seen it, and the packets the engine
 * originates itself. Shared by the hot path and the concerns it hands work to.
 */

export const enum Side {
  Inside = 0,
  Outside = 1,
}

export const enum Verdict {
  Drop = 0,
  ToOutside = 1,
  ToInside = 2,
}

/** A packet the engine originated (an ICMP error, a released fragment, an extra TCP segment), to be sent out of `side`. */
export interface EmittedPacket {
  side: Side;
  packet: Uint8Array;
}

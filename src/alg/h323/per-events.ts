/**
 * What the PER walker reports as it walks an H.225.0 or H.245 message: one
 * event per transport address, per message type, per value the ALG acts on,
 * and per nested encoding (a fastStart OpenLogicalChannel, a tunnelled H.245
 * message). Events are rows in typed arrays, reused from message to message,
 * so a walk allocates nothing.
 *
 * The generated walkers (per-h225.gen.ts, per-h245.gen.ts) emit these codes
 * as literals; scripts/h323-per/generate.ts reads them from here.
 */

export const EV = {
  /** An IPv4 transport address: `a` the address (uint32), `b` the port, `offset` the byte offset of its 4 address bytes (the 2 port bytes follow). */
  ADDRESS: 1,
  /** The alternative of H323-UU-PDU's h323-message-body (0 setup, 1 callProceeding, ...; extensions counted on from the root). */
  BODY: 2,
  /** The alternative of a RasMessage. */
  RAS: 3,
  /** The alternative of a MultimediaSystemControlMessage (0 request, 1 response, 2 command, 3 indication). */
  H245_KIND: 4,
  H245_REQUEST: 5,
  H245_RESPONSE: 6,
  H245_COMMAND: 7,
  H245_INDICATION: 8,
  /** Facility-UUIE's reason (1 callForwarded). */
  FACILITY_REASON: 9,
  /** An OpenLogicalChannel's dataType alternative (2 video, 3 audio, 4 data, ...). */
  DATA_TYPE: 10,
  /** A RAS requestSeqNum. */
  SEQNUM: 11,
  /** A RAS timeToLive, seconds. */
  TTL: 12,
  /** RegistrationRequest.keepAlive (0 or 1). */
  KEEPALIVE: 13,
  /** A GenericIdentifier standard feature number (H.460.x: x). */
  GENERIC_STD: 14,
  /** An object identifier under {itu-t recommendation h 460}: `a` the H.460 part (18, 19, ...). */
  OID_H460: 15,
  /** A logical channel's forwardLogicalChannelNumber (OpenLogicalChannel, its Ack, CloseLogicalChannel). */
  LCN: 16,
  /**
   * A nested encoding begins (a fastStart item, an h245Control item): `offset`
   * and `b` its bytes; events up to the next NEST at the same level are inside
   * it. `a` is 1 when it did not decode (its events were dropped).
   */
  NEST: 17,
} as const;

/** Context flags: which named components enclose an event (set from the component names on the path). */
export const CTX = {
  FAST_START: 1,
  H245_CONTROL: 2,
  FORWARD: 4,
  REVERSE: 8,
  SEPARATE_STACK: 16,
  FORWARD_ACK: 32,
  PARALLEL_H245: 64,
} as const;

/** Most events one message may produce; a message with more is refused (passed unmodified, counted). */
export const MAX_EVENTS = 2048;

/** The events of one walk, as parallel columns. */
export class PerEvents {
  count = 0;
  readonly kind = new Uint8Array(MAX_EVENTS);
  /** Field id (per-fields.gen.ts) of the component the event belongs to. */
  readonly field = new Uint16Array(MAX_EVENTS);
  readonly ctx = new Uint16Array(MAX_EVENTS);
  /** Byte offset in the walked buffer (addresses, nested encodings). */
  readonly offset = new Int32Array(MAX_EVENTS);
  readonly a = new Float64Array(MAX_EVENTS);
  readonly b = new Int32Array(MAX_EVENTS);
  /** Index of the NEST event this one lies in, or -1. */
  readonly nest = new Int16Array(MAX_EVENTS);
}

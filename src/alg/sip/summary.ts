/**
 * What the ALG needs to know about a message after the rewrite: which call,
 * which transaction, which registration, which media. Plain values (strings
 * and numbers), safe to keep after the buffer is reused.
 */
import type { Endpoint, MediaKind } from './context.js';

/** A Contact value as it arrived (before any rewrite). */
export interface ContactSummary {
  /** The Contact URI as written. */
  uri: string;
  /** Host of a sip/sips URI (IPv6 without brackets), else null. */
  host: string | null;
  /** Port as written, else null (the default for the scheme applies). */
  port: number | null;
  /** The ;expires= parameter, or null when absent or not a valid delta-seconds. */
  expires: number | null;
}

export interface MediaStreamSummary {
  index: number;
  mediaType: string;
  proto: string;
  kind: MediaKind;
  /** As announced in the message. */
  original: Endpoint;
  /** As rewritten; null when not mapped (inbound, port 0, not the inside host, or refused by mapMedia). */
  mapped: Endpoint | null;
  /** m= port 0: the stream is disabled or rejected. */
  disabled: boolean;
  /** The m= "/count" (1 when absent). */
  count: number;
  /** a=rtcp-mux present on the stream. */
  rtcpMux: boolean;
}

export interface SipSummary {
  kind: 'request' | 'response';
  /** Request method; null for responses. */
  method: string | null;
  /** Response status; null for requests. */
  status: number | null;
  cseq: { number: number; method: string };
  callId: string;
  fromTag: string | null;
  toTag: string | null;
  /** The top Via's branch parameter, or null. */
  branch: string | null;
  /** The top Via's transport, lower case. */
  viaTransport: string;
  /** The Expires header, or null when absent or invalid. */
  expires: number | null;
  /** Contact: "*" (a REGISTER removing all bindings). */
  contactStar: boolean;
  contacts: ContactSummary[];
  /** The body is application/sdp and an offer or answer (offer-answer.ts); other SDP bodies are left alone. */
  hasSdp: boolean;
  /** Why the SDP could not be read (inbound only: outbound the rewrite is refused instead). */
  sdpError: string | null;
  media: MediaStreamSummary[];
}

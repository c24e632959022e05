/**
 * What the rewriter asks of the ALG. The rewriter is pure: it never decides
 * which addresses are inside or allocates anything; it asks these functions,
 * so the same code serves the NAT ALG and the SIP proxy.
 */

export interface Endpoint {
  /** IPv4 dotted quad or IPv6 text, without brackets. */
  addr: string;
  port: number;
}

/** Where in the message an address was found (so the ALG can decide per place). */
export type AddressField =
  | 'request-uri'
  | 'via'
  | 'via-received'
  | 'via-rport'
  | 'via-maddr'
  | 'contact'
  | 'route'
  | 'record-route'
  | 'from'
  | 'to'
  | 'uri-maddr'
  | 'sdp-origin'
  | 'sdp-connection'
  | 'sdp-media';

/** rtp: the m= port of an RTP profile; rtcp: its RTCP port; data: the m= port of anything else (udptl, TCP/MSRP, ...). */
export type MediaKind = 'rtp' | 'rtcp' | 'data';

export interface MediaStreamRequest {
  /** The connection address of the stream (a=rtcp address for RTCP when it names one). */
  addr: string;
  port: number;
  kind: MediaKind;
  /** m= media, lower case: "audio", "video", "image", "application", ... */
  mediaType: string;
  /** m= proto as written: "RTP/AVP", "udptl", "UDP/TLS/RTP/SAVPF", ... */
  proto: string;
  /** Index of the m= line in the description. */
  index: number;
  /** Number of consecutive ports (m= "/count"); 1 when absent. The ALG maps the whole block. */
  count: number;
}

export interface RewriteContext {
  /** outbound: from the inside host toward the outside; inbound: toward the inside host. */
  direction: 'outbound' | 'inbound';
  /** Lower-case transport of the flow carrying the message ("udp", "tcp", "tls"): used for URIs without ;transport=. */
  transport: string;
  /**
   * Outbound only: does addr:port name the inside host that sent this message?
   * `port` 0 means "the address alone" (SDP o= and c=). Addresses are passed as
   * written (hostnames too); IPv6 without brackets.
   */
  isPrivate(addr: string, port: number, field: AddressField): boolean;
  /**
   * Outbound: the public endpoint for an inside one (the ALG may create the
   * mapping). Inbound: the inside endpoint behind one of our public ones, or
   * null when addr:port is not ours. Null leaves the field unchanged.
   */
  mapSignalling(addr: string, port: number, transport: string, field: AddressField): Endpoint | null;
  /**
   * Outbound only: the public endpoint for a media port the inside host
   * announces. The ALG allocates ports (RTP even, RTCP the next) and
   * expectations here. Null leaves the stream unchanged.
   */
  mapMedia(stream: MediaStreamRequest): Endpoint | null;
  /** Also rewrite From and To (outbound and inbound) where they name the translated endpoint. */
  rewriteFromTo: boolean;
}

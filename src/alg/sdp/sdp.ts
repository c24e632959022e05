/**
 * SDP (RFC 8866, formerly 4566) parsed to offsets, for rewriting in place.
 * Only the fields that carry transport addresses are broken down: o= (its
 * unicast address), c= (session and media level, with /ttl and /count), m=
 * (media, port, /count, proto, formats) and a=rtcp (RFC 3605). Every other
 * line is recorded as a line and left exactly as it is.
 *
 * Lines end in CR LF or, tolerated as RFC 8866 5 asks, a bare LF; the last
 * line may lack its end. A malformed o=, c=, m= or a=rtcp line makes the
 * whole description invalid: an ALG must not half-rewrite an offer.
 *
 * The reading itself is SdpLayout.scan (layout.ts): parseSdp makes these
 * objects from a scanned layout, and the SIP rewriter reads a layout as is.
 */
import type { Span } from '../text/span.js';
import * as asciiModule from '../text/ascii.js';
import type { SdpLayout } from './layout.js';
import * as layoutModule from './layout.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { CR, LF, COLON } = asciiModule;
const { acquireSdpLayout, releaseSdpLayout, layoutEol, SdpOffsets } = layoutModule;
const { C_LINE, C_NETTYPE, C_ADDRTYPE, C_ADDRESS, C_TTL, C_COUNT, M_LINE, M_MEDIA, M_PORT, M_PORT_NUMBER, M_COUNT, M_COUNT_NUMBER, M_PROTO, M_FORMATS, M_FIRST_CONNECTION, M_CONNECTIONS, M_RTCP_LINE, M_RTCP_PORT, M_RTCP_PORT_NUMBER, M_RTCP_NETTYPE, M_RTCP_ADDRTYPE, M_RTCP_ADDRESS, M_RTCP_MUX, M_END, M_AFTER_LINE, O_LINE, O_FIELDS } = SdpOffsets;

export interface SdpConnection {
  line: Span;
  nettype: Span;
  addrtype: Span;
  /** The connection address without any "/ttl" or "/count". */
  address: Span;
  ttl: Span | null;
  count: Span | null;
}

export interface SdpOrigin {
  line: Span;
  username: Span;
  sessionId: Span;
  sessionVersion: Span;
  nettype: Span;
  addrtype: Span;
  address: Span;
}

export interface SdpRtcp {
  line: Span;
  port: Span;
  portNumber: number;
  nettype: Span | null;
  addrtype: Span | null;
  address: Span | null;
}

export interface SdpAttribute {
  line: Span;
  name: Span;
  /** The text after ":", or null for a property attribute (a=sendrecv). */
  value: Span | null;
}

export interface SdpMedia {
  index: number;
  line: Span;
  media: Span;
  /** "audio", "video", "image", "application", "text", "message", ... as written, lower-cased. */
  mediaName: string;
  port: Span;
  portNumber: number;
  count: Span | null;
  countNumber: number | null;
  proto: Span;
  /** The proto as written, e.g. "RTP/AVP", "udptl", "UDP/TLS/RTP/SAVPF". */
  protoName: string;
  formats: Span;
  /** Media-level c= lines (usually zero or one). */
  connections: SdpConnection[];
  rtcp: SdpRtcp | null;
  rtcpMux: boolean;
  /** Offset just past the last (non-blank) line of this section, its line end included if it has one. */
  end: number;
  /** Offset just past the m= line (and an i= line right after it): where a media-level c= goes. */
  afterLine: number;
}

export interface Sdp {
  /** The description's range in the buffer. */
  body: Span;
  /** Where the session level ends (the first m= line, or the end). */
  sessionEnd: number;
  origin: SdpOrigin | null;
  /** Session-level c=. */
  connection: SdpConnection | null;
  media: SdpMedia[];
  /** The line end this description uses (from its first line): "\r\n" or "\n". */
  eol: string;
}

export type SdpResult = { ok: true; sdp: Sdp } | { ok: false; reason: string };

/** A span of a layout row, or null when absent (start -1). */
function spanAt(row: Int32Array, k: number): Span | null {
  return row[k] < 0 ? null : { start: row[k], end: row[k + 1] };
}

function span(row: Int32Array, k: number): Span {
  return { start: row[k], end: row[k + 1] };
}

function connectionAt(l: SdpLayout, index: number): SdpConnection {
  const c = l.connections;
  const o = index * l.connectionStride;
  return {
    line: span(c, o + C_LINE),
    nettype: span(c, o + C_NETTYPE),
    addrtype: span(c, o + C_ADDRTYPE),
    address: span(c, o + C_ADDRESS),
    ttl: spanAt(c, o + C_TTL),
    count: spanAt(c, o + C_COUNT),
  };
}

/** Parses the SDP body in b[start, end). Never throws on any input. */
export function parseSdp(b: Uint8Array, start = 0, end = b.length): SdpResult {
  const l = acquireSdpLayout();
  try {
    const reason = l.scan(b, start, end);
    if (reason !== null) return { ok: false, reason };
    return { ok: true, sdp: sdpOf(l) };
  } finally {
    releaseSdpLayout(l);
  }
}

/** The objects of a scanned description. */
function sdpOf(l: SdpLayout): Sdp {
  let origin: SdpOrigin | null = null;
  if (l.hasOrigin) {
    const o = l.origin;
    origin = {
      line: span(o, O_LINE),
      username: span(o, O_FIELDS),
      sessionId: span(o, O_FIELDS + 2),
      sessionVersion: span(o, O_FIELDS + 4),
      nettype: span(o, O_FIELDS + 6),
      addrtype: span(o, O_FIELDS + 8),
      address: span(o, O_FIELDS + 10),
    };
  }
  const media: SdpMedia[] = [];
  const m = l.media;
  for (let k = 0; k < l.mediaCount; k++) {
    const row = k * l.mediaStride;
    const connections: SdpConnection[] = [];
    const first = m[row + M_FIRST_CONNECTION];
    for (let c = 0; c < m[row + M_CONNECTIONS]; c++) connections.push(connectionAt(l, first + c));
    let rtcp: SdpRtcp | null = null;
    if (m[row + M_RTCP_LINE] >= 0) {
      rtcp = {
        line: span(m, row + M_RTCP_LINE),
        port: span(m, row + M_RTCP_PORT),
        portNumber: m[row + M_RTCP_PORT_NUMBER],
        nettype: spanAt(m, row + M_RTCP_NETTYPE),
        addrtype: spanAt(m, row + M_RTCP_ADDRTYPE),
        address: spanAt(m, row + M_RTCP_ADDRESS),
      };
    }
    const countNumber = m[row + M_COUNT_NUMBER];
    media.push({
      index: k,
      line: span(m, row + M_LINE),
      media: span(m, row + M_MEDIA),
      mediaName: l.mediaNames[k],
      port: span(m, row + M_PORT),
      portNumber: m[row + M_PORT_NUMBER],
      count: spanAt(m, row + M_COUNT),
      countNumber: countNumber < 0 ? null : countNumber,
      proto: span(m, row + M_PROTO),
      protoName: l.protoNames[k],
      formats: span(m, row + M_FORMATS),
      connections,
      rtcp,
      rtcpMux: m[row + M_RTCP_MUX] === 1,
      end: m[row + M_END],
      afterLine: m[row + M_AFTER_LINE],
    });
  }
  return {
    body: { start: l.start, end: l.end },
    sessionEnd: l.sessionEnd,
    origin,
    connection: l.sessionConnection >= 0 ? connectionAt(l, l.sessionConnection) : null,
    media,
    eol: layoutEol(l),
  };
}

/**
 * The a= lines of the session level (media null) or of one media section, in
 * order. Read on demand: the rewriter needs none but a=rtcp, so the parse
 * does not build them.
 */
export function sdpAttributes(b: Uint8Array, sdp: Sdp, media: SdpMedia | null): SdpAttribute[] {
  const from = media ? media.line.end : sdp.body.start;
  const to = media ? media.end : sdp.sessionEnd;
  const out: SdpAttribute[] = [];
  let i = from;
  while (i < to) {
    let le = i;
    while (le < to && b[le] !== LF) le++;
    let lineEnd = le;
    if (lineEnd > i && b[lineEnd - 1] === CR) lineEnd--;
    if (lineEnd - i >= 2 && b[i] === 0x61 && b[i + 1] === 0x3d) {
      let ne = i + 2;
      while (ne < lineEnd && b[ne] !== COLON) ne++;
      out.push({ line: { start: i, end: lineEnd }, name: { start: i + 2, end: ne }, value: ne < lineEnd ? { start: ne + 1, end: lineEnd } : null });
    }
    i = le + 1;
  }
  return out;
}

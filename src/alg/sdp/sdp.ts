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
 */
import { type Span, CR, LF, SP, SLASH, COLON, isDigit, parseUint, internLatin1, spanEqualsLower, findLineBreak } from '../sip/bytes.js';

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

function fail(reason: string): SdpResult {
  return { ok: false, reason };
}

/**
 * Field bounds of the line being read: field k is [F[2k], F[2k+1]). A scratch
 * table, so splitting a line allocates nothing; spans are made only for the
 * fields the result keeps.
 */
const F = new Int32Array(12);

function field(k: number): Span {
  return { start: F[2 * k], end: F[2 * k + 1] };
}

/**
 * Splits a line value into SP-separated fields (runs of SP tolerated), at most
 * `max` (<= 6), written to F. Returns the number of fields.
 */
function fields(b: Uint8Array, start: number, end: number, max: number): number {
  let n = 0;
  let i = start;
  while (i < end && n < max) {
    while (i < end && b[i] === SP) i++;
    if (i >= end) break;
    const fs = i;
    if (n === max - 1) {
      // The last field takes the rest of the line (formats, rtcp address...).
      let e = end;
      while (e > fs && b[e - 1] === SP) e--;
      F[2 * n] = fs;
      F[2 * n + 1] = e;
      return n + 1;
    }
    while (i < end && b[i] !== SP) i++;
    F[2 * n] = fs;
    F[2 * n + 1] = i;
    n++;
  }
  return n;
}

/** No SP inside field k. */
function fieldHasNoSpace(b: Uint8Array, k: number): boolean {
  for (let i = F[2 * k]; i < F[2 * k + 1]; i++) if (b[i] === SP) return false;
  return true;
}

function parseConnection(b: Uint8Array, ls: number, lineEnd: number, vs: number): SdpConnection | null {
  if (fields(b, vs, lineEnd, 3) !== 3) return null;
  const as = F[4];
  const ae = F[5];
  let slash = as;
  for (; slash < ae; slash++) {
    const c = b[slash];
    if (c === SLASH) break;
    if (c === SP) return null;
  }
  if (slash === as) return null;
  let ttl: Span | null = null;
  let count: Span | null = null;
  if (slash < ae) {
    for (let k = slash; k < ae; k++) if (b[k] === SP) return null;
    let s2 = slash + 1;
    while (s2 < ae && b[s2] !== SLASH) s2++;
    const first = { start: slash + 1, end: s2 };
    if (parseUint(b, first.start, first.end, 0xffffffff) < 0) return null;
    if (s2 < ae) {
      const second = { start: s2 + 1, end: ae };
      if (parseUint(b, second.start, second.end, 0xffffffff) < 0) return null;
      ttl = first;
      count = second;
    } else if (spanEqualsLower(b, F[2], F[3], 'ip6')) {
      count = first; // IP6 has no TTL: one suffix is a count (RFC 8866 5.7)
    } else {
      ttl = first;
    }
  }
  return { line: { start: ls, end: lineEnd }, nettype: field(0), addrtype: field(1), address: { start: as, end: slash }, ttl, count };
}

/** "rtcp" (any case) at b[i, i + 4). */
function isRtcpName(b: Uint8Array, i: number): boolean {
  return (b[i] | 0x20) === 0x72 && (b[i + 1] | 0x20) === 0x74 && (b[i + 2] | 0x20) === 0x63 && (b[i + 3] | 0x20) === 0x70;
}

/** Parses the SDP body in b[start, end). Never throws on any input. */
export function parseSdp(b: Uint8Array, start = 0, end = b.length): SdpResult {
  if (start < 0 || end > b.length || start > end) return fail('bad range');
  let origin: SdpOrigin | null = null;
  let connection: SdpConnection | null = null;
  const media: SdpMedia[] = [];
  let current: SdpMedia | null = null;
  let eol = '\r\n';
  let first = true;

  let i = start;
  let sessionEnd = end;
  while (i < end) {
    // The line ends at its LF (or the end); a CR is allowed only right before
    // the LF (or as the very last byte), anywhere else it is a bare CR.
    const ls = i;
    const lineEnd = findLineBreak(b, i, end);
    let cr = false;
    let next: number;
    if (lineEnd >= end) {
      next = end;
    } else if (b[lineEnd] === LF) {
      next = lineEnd + 1;
    } else {
      if (lineEnd + 1 < end && b[lineEnd + 1] !== LF) return fail('bare CR in SDP');
      cr = true;
      next = lineEnd + 1 < end ? lineEnd + 2 : end;
    }
    i = next;
    if (lineEnd === ls) continue; // blank line (some stacks end the body with one)
    if (lineEnd - ls < 2 || b[ls + 1] !== 0x3d || b[ls] < 0x61 || b[ls] > 0x7a) return fail('malformed SDP line');
    const type = b[ls];
    const vs = ls + 2;
    if (current !== null && type !== 0x6d /* m */) {
      // (An m= line starts the next section; `end` stays after the last line of this one.)
      if (type === 0x69 /* i */ && current.afterLine === ls) current.afterLine = next;
      current.end = next;
    }
    if (first) {
      if (type !== 0x76 /* v */) return fail('SDP does not start with v=');
      eol = cr ? '\r\n' : '\n';
      first = false;
      continue;
    }
    switch (type) {
      case 0x61: /* a */ {
        // Only a=rtcp and a=rtcp-mux matter here; other attributes are read on demand (sdpAttributes).
        if (current === null || lineEnd - vs < 4 || !isRtcpName(b, vs)) break;
        if (vs + 4 < lineEnd && b[vs + 4] === COLON) {
          const r = parseRtcp(b, { start: ls, end: lineEnd }, vs + 5, lineEnd);
          if (!r) return fail('malformed a=rtcp line');
          current.rtcp = r;
        } else if (spanEqualsLower(b, vs, lineEnd, 'rtcp-mux')) {
          current.rtcpMux = true;
        }
        break;
      }
      case 0x6f: /* o */ {
        if (fields(b, vs, lineEnd, 6) !== 6 || !fieldHasNoSpace(b, 5)) return fail('malformed o= line');
        origin = { line: { start: ls, end: lineEnd }, username: field(0), sessionId: field(1), sessionVersion: field(2), nettype: field(3), addrtype: field(4), address: field(5) };
        break;
      }
      case 0x63: /* c */ {
        const c = parseConnection(b, ls, lineEnd, vs);
        if (!c) return fail('malformed c= line');
        if (current) current.connections.push(c);
        else if (!connection) connection = c;
        else return fail('more than one session-level c= line');
        break;
      }
      case 0x6d: /* m */ {
        if (!current) sessionEnd = ls;
        const nf = fields(b, vs, lineEnd, 4);
        if (nf < 3) return fail('malformed m= line');
        const ps = F[2];
        const pe = F[3];
        let slash = ps;
        while (slash < pe && b[slash] !== SLASH) slash++;
        const portNumber = parseUint(b, ps, slash, 65535);
        if (portNumber < 0) return fail('malformed m= port');
        let count: Span | null = null;
        let countNumber: number | null = null;
        if (slash < pe) {
          count = { start: slash + 1, end: pe };
          countNumber = parseUint(b, count.start, count.end, 65535);
          if (countNumber <= 0) return fail('malformed m= port count');
        }
        const mediaSpan = field(0);
        const proto = field(2);
        const formats = nf > 3 ? field(3) : { start: proto.end, end: proto.end };
        current = {
          index: media.length,
          line: { start: ls, end: lineEnd },
          media: mediaSpan,
          mediaName: internLatin1(b, mediaSpan.start, mediaSpan.end, true),
          port: { start: ps, end: slash },
          portNumber,
          count,
          countNumber,
          proto,
          protoName: internLatin1(b, proto.start, proto.end),
          formats,
          connections: [],
          rtcp: null,
          rtcpMux: false,
          end: next,
          afterLine: next,
        };
        media.push(current);
        break;
      }
      default:
        break;
    }
  }
  if (first) return fail('empty SDP');
  return { ok: true, sdp: { body: { start, end }, sessionEnd, origin, connection, media, eol } };
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

/** a=rtcp:port [nettype addrtype connection-address] (RFC 3605), the value in b[vs, ve). */
function parseRtcp(b: Uint8Array, line: Span, vs: number, ve: number): SdpRtcp | null {
  let i = vs;
  while (i < ve && isDigit(b[i])) i++;
  const portNumber = parseUint(b, vs, i, 65535);
  if (portNumber < 0) return null;
  const port = { start: vs, end: i };
  if (i === ve) return { line, port, portNumber, nettype: null, addrtype: null, address: null };
  if (b[i] !== SP || fields(b, i, ve, 3) !== 3 || !fieldHasNoSpace(b, 2)) return null;
  return { line, port, portNumber, nettype: field(0), addrtype: field(1), address: field(2) };
}

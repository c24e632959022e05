/**
 * The SDP scanner behind parseSdp: it reads a description into flat numbers
 * (offsets, ports, flags) in an SdpLayout, making no object per line or
 * field. parseSdp builds its objects from a layout; the SIP rewriter reads
 * the layout directly, so an INVITE's offer costs no parse objects at all.
 *
 * What is checked, and every error reason, is parseSdp's (sdp.ts documents
 * the format): this is the one implementation of both.
 */
import * as asciiModule from '../text/ascii.js';
import * as charClassModule from '../text/char-class.js';
import * as caseModule from '../text/case.js';
import * as decimalModule from '../text/decimal.js';
import * as internModule from '../text/intern.js';
import * as byteSearchModule from '../text/byte-search.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { LF, SP, SLASH, COLON } = asciiModule;
const { isDigit } = charClassModule;
const { spanEqualsLower } = caseModule;
const { parseUint } = decimalModule;
const { internLatin1 } = internModule;
const { findLineBreak } = byteSearchModule;

/**
 * A span is two ints [start, end); an absent one has start -1. Connection
 * rows (c= lines): the line, nettype, addrtype, address, ttl, count.
 */
const C_LINE = 0;
const C_NETTYPE = 2;
const C_ADDRTYPE = 4;
const C_ADDRESS = 6;
const C_TTL = 8;
const C_COUNT = 10;
const C_STRIDE = 12;

/** Media rows (m= sections). Numbers absent are -1 (count); rtcp fields are absent without a=rtcp. */
const M_LINE = 0;
const M_MEDIA = 2;
const M_PORT = 4;
const M_PORT_NUMBER = 6;
const M_COUNT = 7;
const M_COUNT_NUMBER = 9;
const M_PROTO = 10;
const M_FORMATS = 12;
/** Index of the section's first connection row, and how many it has (its c= lines are consecutive rows). */
const M_FIRST_CONNECTION = 14;
const M_CONNECTIONS = 15;
const M_RTCP_LINE = 16;
const M_RTCP_PORT = 18;
const M_RTCP_PORT_NUMBER = 20;
const M_RTCP_NETTYPE = 21;
const M_RTCP_ADDRTYPE = 23;
const M_RTCP_ADDRESS = 25;
const M_RTCP_MUX = 27;
const M_END = 28;
const M_AFTER_LINE = 29;
const M_STRIDE = 30;

/** The origin row: the line, then username, sess-id, sess-version, nettype, addrtype, address. */
const O_LINE = 0;
const O_FIELDS = 2;

/**
 * The row offsets above, for the modules that read a layout. They are not
 * exported one by one: an exported binding is read from its module cell at
 * every use, here too (see "Module bindings" in src/alg/text/README.md); readers copy them
 * into local consts (`const { M_PORT } = SdpOffsets;`).
 */
export const SdpOffsets = {
  C_LINE, C_NETTYPE, C_ADDRTYPE, C_ADDRESS, C_TTL, C_COUNT, M_LINE, M_MEDIA, M_PORT, M_PORT_NUMBER, M_COUNT, M_COUNT_NUMBER, M_PROTO, M_FORMATS, M_FIRST_CONNECTION, M_CONNECTIONS, M_RTCP_LINE, M_RTCP_PORT, M_RTCP_PORT_NUMBER, M_RTCP_NETTYPE, M_RTCP_ADDRTYPE, M_RTCP_ADDRESS, M_RTCP_MUX, M_END, M_AFTER_LINE, O_LINE, O_FIELDS,
} as const;

/** One scanned description. Rows are read with the constants above: `media[k * mediaStride + M_PORT]`. */
export class SdpLayout {
  start = 0;
  end = 0;
  sessionEnd = 0;
  /** The description's line end (from its first line): CR LF, or a bare LF. */
  crlf = true;
  hasOrigin = false;
  readonly origin = new Int32Array(O_FIELDS + 12);
  /** Row of the session-level c=, or -1. */
  sessionConnection = -1;
  mediaCount = 0;
  media = new Int32Array(8 * M_STRIDE);
  /** Per m= line: the media (lower case) and the proto (as written), interned. */
  readonly mediaNames: string[] = [];
  readonly protoNames: string[] = [];
  connectionCount = 0;
  connections = new Int32Array(8 * C_STRIDE);
  /** Taken by a caller that reads it across calls into other code (see acquireSdpLayout). */
  busy = false;

  readonly mediaStride = M_STRIDE;
  readonly connectionStride = C_STRIDE;

  private reset(start: number, end: number): void {
    this.start = start;
    this.end = end;
    this.sessionEnd = end;
    this.crlf = true;
    this.hasOrigin = false;
    this.sessionConnection = -1;
    this.mediaCount = 0;
    this.connectionCount = 0;
  }

  private addMedia(): number {
    const k = this.mediaCount++;
    if ((k + 1) * M_STRIDE > this.media.length) {
      const grown = new Int32Array(this.media.length * 2);
      grown.set(this.media);
      this.media = grown;
    }
    return k;
  }

  private addConnection(): number {
    const k = this.connectionCount++;
    if ((k + 1) * C_STRIDE > this.connections.length) {
      const grown = new Int32Array(this.connections.length * 2);
      grown.set(this.connections);
      this.connections = grown;
    }
    return k;
  }

  /** Scans b[start, end) into this layout; null when it is a valid description, else why not. Never throws. */
  scan(b: Uint8Array, start: number, end: number): string | null {
    if (start < 0 || end > b.length || start > end) return 'bad range';
    this.reset(start, end);
    const M = M_STRIDE;
    let current = -1;
    let first = true;
    let i = start;
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
        if (lineEnd + 1 < end && b[lineEnd + 1] !== LF) return 'bare CR in SDP';
        cr = true;
        next = lineEnd + 1 < end ? lineEnd + 2 : end;
      }
      i = next;
      if (lineEnd === ls) continue; // blank line (some stacks end the body with one)
      if (lineEnd - ls < 2 || b[ls + 1] !== 0x3d || b[ls] < 0x61 || b[ls] > 0x7a) return 'malformed SDP line';
      const type = b[ls];
      const vs = ls + 2;
      if (current >= 0 && type !== 0x6d /* m */) {
        // (An m= line starts the next section; its end stays after the last line of this one.)
        const row = current * M;
        if (type === 0x69 /* i */ && this.media[row + M_AFTER_LINE] === ls) this.media[row + M_AFTER_LINE] = next;
        this.media[row + M_END] = next;
      }
      if (first) {
        if (type !== 0x76 /* v */) return 'SDP does not start with v=';
        this.crlf = cr;
        first = false;
        continue;
      }
      switch (type) {
        case 0x61: /* a */ {
          // Only a=rtcp and a=rtcp-mux matter here; other attributes are read on demand (sdpAttributes).
          if (current < 0 || lineEnd - vs < 4 || !isRtcpName(b, vs)) break;
          if (vs + 4 < lineEnd && b[vs + 4] === COLON) {
            if (!this.scanRtcp(b, current * M, ls, lineEnd, vs + 5, lineEnd)) return 'malformed a=rtcp line';
          } else if (spanEqualsLower(b, vs, lineEnd, 'rtcp-mux')) {
            this.media[current * M + M_RTCP_MUX] = 1;
          }
          break;
        }
        case 0x6f: /* o */ {
          if (fields(b, vs, lineEnd, 6) !== 6 || !fieldHasNoSpace(b, 5)) return 'malformed o= line';
          const o = this.origin;
          o[O_LINE] = ls;
          o[O_LINE + 1] = lineEnd;
          for (let f = 0; f < 12; f++) o[O_FIELDS + f] = F[f];
          this.hasOrigin = true;
          break;
        }
        case 0x63: /* c */ {
          if (!this.scanConnection(b, ls, lineEnd, vs)) return 'malformed c= line';
          const c = this.connectionCount - 1;
          if (current >= 0) this.media[current * M + M_CONNECTIONS]++;
          else if (this.sessionConnection < 0) this.sessionConnection = c;
          else return 'more than one session-level c= line';
          break;
        }
        case 0x6d: /* m */ {
          if (current < 0) this.sessionEnd = ls;
          const nf = fields(b, vs, lineEnd, 4);
          if (nf < 3) return 'malformed m= line';
          const ps = F[2];
          const pe = F[3];
          let slash = ps;
          while (slash < pe && b[slash] !== SLASH) slash++;
          const portNumber = parseUint(b, ps, slash, 65535);
          if (portNumber < 0) return 'malformed m= port';
          let countNumber = -1;
          if (slash < pe) {
            countNumber = parseUint(b, slash + 1, pe, 65535);
            if (countNumber <= 0) return 'malformed m= port count';
          }
          current = this.addMedia();
          const m = this.media;
          const row = current * M;
          m[row + M_LINE] = ls;
          m[row + M_LINE + 1] = lineEnd;
          m[row + M_MEDIA] = F[0];
          m[row + M_MEDIA + 1] = F[1];
          m[row + M_PORT] = ps;
          m[row + M_PORT + 1] = slash;
          m[row + M_PORT_NUMBER] = portNumber;
          m[row + M_COUNT] = countNumber < 0 ? -1 : slash + 1;
          m[row + M_COUNT + 1] = pe;
          m[row + M_COUNT_NUMBER] = countNumber;
          m[row + M_PROTO] = F[4];
          m[row + M_PROTO + 1] = F[5];
          m[row + M_FORMATS] = nf > 3 ? F[6] : F[5];
          m[row + M_FORMATS + 1] = nf > 3 ? F[7] : F[5];
          m[row + M_FIRST_CONNECTION] = this.connectionCount;
          m[row + M_CONNECTIONS] = 0;
          m[row + M_RTCP_LINE] = -1;
          m[row + M_RTCP_MUX] = 0;
          m[row + M_END] = next;
          m[row + M_AFTER_LINE] = next;
          this.mediaNames[current] = internLatin1(b, F[0], F[1], true);
          this.protoNames[current] = internLatin1(b, F[4], F[5]);
          break;
        }
        default:
          break;
      }
    }
    if (first) return 'empty SDP';
    return null;
  }

  /** A c= line into a new connection row; false when malformed. */
  private scanConnection(b: Uint8Array, ls: number, lineEnd: number, vs: number): boolean {
    if (fields(b, vs, lineEnd, 3) !== 3) return false;
    const as = F[4];
    const ae = F[5];
    let slash = as;
    for (; slash < ae; slash++) {
      const c = b[slash];
      if (c === SLASH) break;
      if (c === SP) return false;
    }
    if (slash === as) return false;
    let ttlStart = -1;
    let ttlEnd = -1;
    let countStart = -1;
    let countEnd = -1;
    if (slash < ae) {
      for (let k = slash; k < ae; k++) if (b[k] === SP) return false;
      let s2 = slash + 1;
      while (s2 < ae && b[s2] !== SLASH) s2++;
      if (parseUint(b, slash + 1, s2, 0xffffffff) < 0) return false;
      if (s2 < ae) {
        if (parseUint(b, s2 + 1, ae, 0xffffffff) < 0) return false;
        ttlStart = slash + 1;
        ttlEnd = s2;
        countStart = s2 + 1;
        countEnd = ae;
      } else if (spanEqualsLower(b, F[2], F[3], 'ip6')) {
        countStart = slash + 1; // IP6 has no TTL: one suffix is a count (RFC 8866 5.7)
        countEnd = s2;
      } else {
        ttlStart = slash + 1;
        ttlEnd = s2;
      }
    }
    const row = this.addConnection() * C_STRIDE;
    const c = this.connections;
    c[row + C_LINE] = ls;
    c[row + C_LINE + 1] = lineEnd;
    c[row + C_NETTYPE] = F[0];
    c[row + C_NETTYPE + 1] = F[1];
    c[row + C_ADDRTYPE] = F[2];
    c[row + C_ADDRTYPE + 1] = F[3];
    c[row + C_ADDRESS] = as;
    c[row + C_ADDRESS + 1] = slash;
    c[row + C_TTL] = ttlStart;
    c[row + C_TTL + 1] = ttlEnd;
    c[row + C_COUNT] = countStart;
    c[row + C_COUNT + 1] = countEnd;
    return true;
  }

  /** a=rtcp:port [nettype addrtype connection-address] (RFC 3605), the value in b[vs, ve), into media row `row`. */
  private scanRtcp(b: Uint8Array, row: number, ls: number, lineEnd: number, vs: number, ve: number): boolean {
    let i = vs;
    while (i < ve && isDigit(b[i])) i++;
    const portNumber = parseUint(b, vs, i, 65535);
    if (portNumber < 0) return false;
    let hasAddress = false;
    if (i !== ve) {
      if (b[i] !== SP || fields(b, i, ve, 3) !== 3 || !fieldHasNoSpace(b, 2)) return false;
      hasAddress = true;
    }
    const m = this.media;
    m[row + M_RTCP_LINE] = ls;
    m[row + M_RTCP_LINE + 1] = lineEnd;
    m[row + M_RTCP_PORT] = vs;
    m[row + M_RTCP_PORT + 1] = i;
    m[row + M_RTCP_PORT_NUMBER] = portNumber;
    for (let f = 0; f < 6; f++) m[row + M_RTCP_NETTYPE + f] = hasAddress ? F[f] : -1;
    return true;
  }
}

/**
 * Field bounds of the line being read: field k is [F[2k], F[2k+1]). A scratch
 * table, so splitting a line allocates nothing.
 */
const F = new Int32Array(12);

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

/** "rtcp" (any case) at b[i, i + 4). */
function isRtcpName(b: Uint8Array, i: number): boolean {
  return (b[i] | 0x20) === 0x72 && (b[i + 1] | 0x20) === 0x74 && (b[i + 2] | 0x20) === 0x63 && (b[i + 3] | 0x20) === 0x70;
}

/**
 * The shared layout, or a new one when it is taken: a caller that reads a
 * layout while calling out (the rewriter asks its context about each stream)
 * takes it, so a nested parse never overwrites what it is reading.
 */
const shared = new SdpLayout();

export function acquireSdpLayout(): SdpLayout {
  const l = shared.busy ? new SdpLayout() : shared;
  l.busy = true;
  return l;
}

export function releaseSdpLayout(l: SdpLayout): void {
  l.busy = false;
}

/** The line end a layout's description uses, as text. */
export function layoutEol(l: SdpLayout): string {
  return l.crlf ? '\r\n' : '\n';
}

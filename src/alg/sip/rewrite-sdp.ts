/**
 * The SDP half of the outbound rewrite: o=, session and media c=, every m=
 * port except port 0 (disabled) and ports below 1024, and a=rtcp (RFC 3605).
 * RTP and RTCP are mapped separately through mapMedia; when RTCP is implicit
 * (RTP port + 1) and its public port is not the public RTP port + 1, an
 * a=rtcp line is added so the peer still finds it. a=ssrc (including cname),
 * a=candidate and every other attribute are left alone: cname is an opaque
 * identifier (RFC 7022) that must match what RTCP SDES carries, and RTCP is
 * not rewritten.
 */
import * as caseModule from '../text/case.js';
import * as internModule from '../text/intern.js';
import type { Endpoint, MediaKind } from './context.js';
import type { SdpLayout } from '../sdp/layout.js';
import * as layoutModule from '../sdp/layout.js';
import type { MediaStreamSummary } from './summary.js';
import type { Translator } from './translator.js';
import * as translatorModule from './translator.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { spanEqualsLower } = caseModule;
const { internLatin1 } = internModule;
const { layoutEol, SdpOffsets } = layoutModule;
const { C_ADDRTYPE, C_ADDRESS, M_PORT, M_PORT_NUMBER, M_COUNT_NUMBER, M_FIRST_CONNECTION, M_CONNECTIONS, M_RTCP_LINE, M_RTCP_PORT, M_RTCP_PORT_NUMBER, M_RTCP_ADDRTYPE, M_RTCP_ADDRESS, M_RTCP_MUX, M_END, M_AFTER_LINE, O_FIELDS } = SdpOffsets;
const { validEndpoint } = translatorModule;

/**
 * Media ports below this are never mapped (DESIGN.md safety rule 4: they open
 * nothing). They are placeholders in practice: "m=application 9 TCP/BFCP" for
 * an active TCP endpoint, port 0 for a disabled stream.
 */
export const MIN_MEDIA_PORT = 1024;

function family(addr: string): 'IP4' | 'IP6' {
  return addr.includes(':') ? 'IP6' : 'IP4';
}

/** "RTP" (any case) at proto[i, i + 3). */
function rtpAt(proto: string, i: number): boolean {
  return (proto.charCodeAt(i) | 0x20) === 0x72 && (proto.charCodeAt(i + 1) | 0x20) === 0x74 && (proto.charCodeAt(i + 2) | 0x20) === 0x70;
}

/** An RTP profile: "RTP" as one "/"-separated part of the proto (RTP/AVP, UDP/TLS/RTP/SAVPF). */
function isRtpProto(proto: string): boolean {
  // Each part starts at 0 or after a "/" and ends at the end or a "/".
  for (let i = 0; i + 3 <= proto.length; ) {
    if (rtpAt(proto, i) && (i + 3 === proto.length || proto.charCodeAt(i + 3) === 0x2f)) return true;
    const slash = proto.indexOf('/', i);
    if (slash < 0) return false;
    i = slash + 1;
  }
  return false;
}

/** The span at row[k], row[k + 1] of a layout, as interned text. */
function textAt(b: Uint8Array, row: Int32Array, k: number): string {
  return internLatin1(b, row[k], row[k + 1]);
}

function streamSummary(l: SdpLayout, k: number, kind: MediaKind, addr: string, port: number, mapped: Endpoint | null): MediaStreamSummary {
  const row = k * l.mediaStride;
  const count = l.media[row + M_COUNT_NUMBER];
  // A plain literal: object spread is an order of magnitude slower here.
  return {
    index: k,
    mediaType: l.mediaNames[k],
    proto: l.protoNames[k],
    kind,
    original: { addr, port },
    mapped,
    disabled: l.media[row + M_PORT_NUMBER] === 0,
    count: count < 0 ? 1 : count,
    rtcpMux: l.media[row + M_RTCP_MUX] === 1,
  };
}

/** Replaces an SDP address at row[at] (and its addrtype at row[typeAt], when present, if the family changes). */
function replaceAddress(t: Translator, row: Int32Array, typeAt: number, at: number, to: string): void {
  const b = t.b;
  if (row[typeAt] >= 0) {
    const fam = family(to);
    if (!spanEqualsLower(b, row[typeAt], row[typeAt + 1], fam === 'IP6' ? 'ip6' : 'ip4')) t.replaceRange(row[typeAt], row[typeAt + 1], fam);
  }
  t.replaceRange(row[at], row[at + 1], to);
}

/** Rewrites connection row c, whose address reads `addr`, to `to` (nothing when null or the same). */
function rewriteConnection(t: Translator, l: SdpLayout, c: number, addr: string, to: string | null): void {
  if (to === null || to === addr) return;
  const o = c * l.connectionStride;
  replaceAddress(t, l.connections, o + C_ADDRTYPE, o + C_ADDRESS, to);
}

/** Text to insert a whole line at offset `at`, which ends a section (it may lack its line end). */
function lineAt(b: Uint8Array, at: number, line: string, eol: string): string {
  return at > 0 && b[at - 1] === 0x0a ? line + eol : eol + line;
}

/** Rewrites an outbound SDP (scanned into `l`); pushes one summary per RTP/data port and per RTCP port. */
export function rewriteSdpOutbound(t: Translator, l: SdpLayout, out: MediaStreamSummary[]): void {
  const b = t.b;
  const ctx = t.ctx;
  const m = l.media;
  const conns = l.connections;
  const session = l.sessionConnection;
  const eol = layoutEol(l);
  // Streams without a c= of their own (m= index), with the address their RTP was mapped to.
  const inheriting: number[] = [];
  const inheritedMapped: (string | null)[] = [];
  // Added a=rtcp lines go in after any added c= at the same offset (c= precedes a= in a section).
  const rtcpLines: { at: number; text: string }[] = [];
  let firstMapped: string | null = null;
  // Each address is read once; the session c= serves every stream without its own.
  const sessionAddr = session >= 0 ? textAt(b, conns, session * l.connectionStride + C_ADDRESS) : '';

  for (let k = 0; k < l.mediaCount; k++) {
    const row = k * l.mediaStride;
    const ownConnection = m[row + M_CONNECTIONS] > 0 ? m[row + M_FIRST_CONNECTION] : -1;
    const conn = ownConnection >= 0 ? ownConnection : session;
    const addr = ownConnection >= 0 ? textAt(b, conns, ownConnection * l.connectionStride + C_ADDRESS) : sessionAddr;
    const portNumber = m[row + M_PORT_NUMBER];
    const disabled = portNumber === 0;
    const mediaName = l.mediaNames[k];
    const protoName = l.protoNames[k];
    const rtp = isRtpProto(protoName);
    const countNumber = m[row + M_COUNT_NUMBER];
    const count = countNumber < 0 ? 1 : countNumber;
    const kind: MediaKind = rtp ? 'rtp' : 'data';
    let rtpMap: Endpoint | null = null;
    if (conn >= 0 && !disabled && portNumber >= MIN_MEDIA_PORT && ctx.isPrivate(addr, portNumber, 'sdp-media')) {
      rtpMap = validEndpoint(ctx.mapMedia({ addr, port: portNumber, kind, mediaType: mediaName, proto: protoName, index: k, count }));
      if (rtpMap && rtpMap.port !== portNumber) t.replaceNumberRange(m[row + M_PORT], m[row + M_PORT + 1], rtpMap.port);
    }
    out.push(streamSummary(l, k, kind, addr, portNumber, rtpMap));
    if (rtpMap && firstMapped === null) firstMapped = rtpMap.addr;

    if (rtp && conn >= 0 && !disabled && portNumber >= MIN_MEDIA_PORT) {
      const hasRtcp = m[row + M_RTCP_LINE] >= 0;
      const hasRtcpAddress = hasRtcp && m[row + M_RTCP_ADDRESS] >= 0;
      const rtcpPort = hasRtcp ? m[row + M_RTCP_PORT_NUMBER] : portNumber + 1;
      const rtcpAddr = hasRtcpAddress ? textAt(b, m, row + M_RTCP_ADDRESS) : addr;
      let rtcpMap: Endpoint | null = null;
      if (rtcpPort >= MIN_MEDIA_PORT && rtcpPort <= 65535 && ctx.isPrivate(rtcpAddr, rtcpPort, 'sdp-media')) {
        rtcpMap = validEndpoint(ctx.mapMedia({ addr: rtcpAddr, port: rtcpPort, kind: 'rtcp', mediaType: mediaName, proto: protoName, index: k, count }));
      }
      out.push(streamSummary(l, k, 'rtcp', rtcpAddr, rtcpPort, rtcpMap));
      if (rtcpMap) {
        if (hasRtcp) {
          if (rtcpMap.port !== rtcpPort) t.replaceNumberRange(m[row + M_RTCP_PORT], m[row + M_RTCP_PORT + 1], rtcpMap.port);
          if (hasRtcpAddress && rtcpMap.addr !== rtcpAddr) replaceAddress(t, m, row + M_RTCP_ADDRTYPE, row + M_RTCP_ADDRESS, rtcpMap.addr);
        } else {
          const streamAddr = rtpMap ? rtpMap.addr : addr;
          const implicitPort = (rtpMap ? rtpMap.port : portNumber) + 1;
          if (rtcpMap.port !== implicitPort || rtcpMap.addr !== streamAddr) {
            const where = rtcpMap.addr !== streamAddr ? ` IN ${family(rtcpMap.addr)} ${rtcpMap.addr}` : '';
            const end = m[row + M_END];
            rtcpLines.push({ at: end, text: lineAt(b, end, `a=rtcp:${rtcpMap.port}${where}`, eol) });
          }
        }
      }
    }

    if (ownConnection >= 0) {
      if (ctx.isPrivate(addr, 0, 'sdp-connection')) rewriteConnection(t, l, ownConnection, addr, rtpMap ? rtpMap.addr : firstMapped ?? t.publicAddr);
    } else if (session >= 0) {
      inheriting.push(k);
      inheritedMapped.push(rtpMap ? rtpMap.addr : null);
    }
  }

  const fallback = firstMapped ?? t.publicAddr;
  if (session >= 0) {
    let finalAddr = sessionAddr;
    if (ctx.isPrivate(sessionAddr, 0, 'sdp-connection')) {
      let to = fallback;
      for (let x = 0; x < inheritedMapped.length; x++) {
        if (inheritedMapped[x] !== null) {
          to = inheritedMapped[x];
          break;
        }
      }
      if (to !== null) {
        rewriteConnection(t, l, session, sessionAddr, to);
        finalAddr = to;
      }
    }
    // A stream mapped to another address than the session c= now names gets its own c=.
    for (let x = 0; x < inheriting.length; x++) {
      const mapped = inheritedMapped[x];
      if (mapped !== null && mapped !== finalAddr) {
        const afterLine = m[inheriting[x] * l.mediaStride + M_AFTER_LINE];
        t.insert(afterLine, lineAt(b, afterLine, `c=IN ${family(mapped)} ${mapped}`, eol));
      }
    }
  }

  for (const r of rtcpLines) t.insert(r.at, r.text);

  if (l.hasOrigin && fallback !== null) {
    const o = l.origin;
    const oAddr = textAt(b, o, O_FIELDS + 10);
    if (oAddr !== fallback && ctx.isPrivate(oAddr, 0, 'sdp-origin')) replaceAddress(t, o, O_FIELDS + 8, O_FIELDS + 10, fallback);
  }
}

/** Inbound SDP is not rewritten (it names the remote side); the ALG still learns its streams. */
export function summarizeSdp(b: Uint8Array, l: SdpLayout, out: MediaStreamSummary[]): void {
  const m = l.media;
  const conns = l.connections;
  for (let k = 0; k < l.mediaCount; k++) {
    const row = k * l.mediaStride;
    const conn = m[row + M_CONNECTIONS] > 0 ? m[row + M_FIRST_CONNECTION] : l.sessionConnection;
    const addr = conn >= 0 ? textAt(b, conns, conn * l.connectionStride + C_ADDRESS) : '';
    const rtp = isRtpProto(l.protoNames[k]);
    const portNumber = m[row + M_PORT_NUMBER];
    out.push(streamSummary(l, k, rtp ? 'rtp' : 'data', addr, portNumber, null));
    if (rtp && portNumber !== 0) {
      const hasRtcp = m[row + M_RTCP_LINE] >= 0;
      const rtcpAddr = hasRtcp && m[row + M_RTCP_ADDRESS] >= 0 ? textAt(b, m, row + M_RTCP_ADDRESS) : addr;
      out.push(streamSummary(l, k, 'rtcp', rtcpAddr, hasRtcp ? m[row + M_RTCP_PORT_NUMBER] : portNumber + 1, null));
    }
  }
}

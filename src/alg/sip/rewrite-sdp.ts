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
import { type Span, internLatin1, spanEqualsLower } from './bytes.js';
import type { Endpoint, MediaKind } from './context.js';
import type { Sdp, SdpConnection, SdpMedia } from '../sdp/sdp.js';
import type { MediaStreamSummary } from './summary.js';
import { type Translator, validEndpoint } from './translator.js';

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

function text(b: Uint8Array, s: Span): string {
  return internLatin1(b, s.start, s.end);
}

function streamSummary(m: SdpMedia, kind: MediaKind, addr: string, port: number, mapped: Endpoint | null): MediaStreamSummary {
  // A plain literal: object spread is an order of magnitude slower here.
  return {
    index: m.index,
    mediaType: m.mediaName,
    proto: m.protoName,
    kind,
    original: { addr, port },
    mapped,
    disabled: m.portNumber === 0,
    count: m.countNumber ?? 1,
    rtcpMux: m.rtcpMux,
  };
}

/** Replaces an SDP address (and its addrtype when the family changes). */
function replaceAddress(t: Translator, addrtype: Span | null, address: Span, to: string): void {
  const b = t.b;
  if (addrtype) {
    const fam = family(to);
    if (!spanEqualsLower(b, addrtype.start, addrtype.end, fam === 'IP6' ? 'ip6' : 'ip4')) t.replace(addrtype, fam);
  }
  t.replace(address, to);
}

/** Rewrites a c= whose address reads `addr` to `to` (nothing when null or the same). */
function rewriteConnection(t: Translator, c: SdpConnection, addr: string, to: string | null): void {
  if (to === null || to === addr) return;
  replaceAddress(t, c.addrtype, c.address, to);
}

/** Text to insert a whole line at offset `at`, which ends a section (it may lack its line end). */
function lineAt(b: Uint8Array, at: number, line: string, eol: string): string {
  return at > 0 && b[at - 1] === 0x0a ? line + eol : eol + line;
}

interface Inherit {
  m: SdpMedia;
  mapped: string | null;
}

/** Rewrites an outbound SDP; pushes one summary per RTP/data port and per RTCP port. */
export function rewriteSdpOutbound(t: Translator, sdp: Sdp, out: MediaStreamSummary[]): void {
  const b = t.b;
  const ctx = t.ctx;
  const session = sdp.connection;
  const inheriting: Inherit[] = [];
  // Added a=rtcp lines go in after any added c= at the same offset (c= precedes a= in a section).
  const rtcpLines: { at: number; text: string }[] = [];
  let firstMapped: string | null = null;
  // Each address is read once; the session c= serves every stream without its own.
  const sessionAddr = session ? text(b, session.address) : '';

  for (const m of sdp.media) {
    const conn = m.connections.length > 0 ? m.connections[0] : session;
    const addr = m.connections.length > 0 ? text(b, m.connections[0].address) : sessionAddr;
    const disabled = m.portNumber === 0;
    const rtp = isRtpProto(m.protoName);
    const count = m.countNumber ?? 1;
    const kind: MediaKind = rtp ? 'rtp' : 'data';
    let rtpMap: Endpoint | null = null;
    if (conn && !disabled && m.portNumber >= MIN_MEDIA_PORT && ctx.isPrivate(addr, m.portNumber, 'sdp-media')) {
      rtpMap = validEndpoint(ctx.mapMedia({ addr, port: m.portNumber, kind, mediaType: m.mediaName, proto: m.protoName, index: m.index, count }));
      if (rtpMap && rtpMap.port !== m.portNumber) t.replaceNumber(m.port, rtpMap.port);
    }
    out.push(streamSummary(m, kind, addr, m.portNumber, rtpMap));
    if (rtpMap && firstMapped === null) firstMapped = rtpMap.addr;

    if (rtp && conn && !disabled && m.portNumber >= MIN_MEDIA_PORT) {
      const r = m.rtcp;
      const rtcpPort = r ? r.portNumber : m.portNumber + 1;
      const rtcpAddr = r && r.address ? text(b, r.address) : addr;
      let rtcpMap: Endpoint | null = null;
      if (rtcpPort >= MIN_MEDIA_PORT && rtcpPort <= 65535 && ctx.isPrivate(rtcpAddr, rtcpPort, 'sdp-media')) {
        rtcpMap = validEndpoint(ctx.mapMedia({ addr: rtcpAddr, port: rtcpPort, kind: 'rtcp', mediaType: m.mediaName, proto: m.protoName, index: m.index, count }));
      }
      out.push(streamSummary(m, 'rtcp', rtcpAddr, rtcpPort, rtcpMap));
      if (rtcpMap) {
        if (r) {
          if (rtcpMap.port !== r.portNumber) t.replaceNumber(r.port, rtcpMap.port);
          if (r.address && rtcpMap.addr !== rtcpAddr) replaceAddress(t, r.addrtype, r.address, rtcpMap.addr);
        } else {
          const streamAddr = rtpMap ? rtpMap.addr : addr;
          const implicitPort = (rtpMap ? rtpMap.port : m.portNumber) + 1;
          if (rtcpMap.port !== implicitPort || rtcpMap.addr !== streamAddr) {
            const where = rtcpMap.addr !== streamAddr ? ` IN ${family(rtcpMap.addr)} ${rtcpMap.addr}` : '';
            rtcpLines.push({ at: m.end, text: lineAt(b, m.end, `a=rtcp:${rtcpMap.port}${where}`, sdp.eol) });
          }
        }
      }
    }

    if (m.connections.length > 0) {
      if (ctx.isPrivate(addr, 0, 'sdp-connection')) rewriteConnection(t, m.connections[0], addr, rtpMap ? rtpMap.addr : firstMapped ?? t.publicAddr);
    } else if (session) {
      inheriting.push({ m, mapped: rtpMap ? rtpMap.addr : null });
    }
  }

  const fallback = firstMapped ?? t.publicAddr;
  if (session) {
    let finalAddr = sessionAddr;
    if (ctx.isPrivate(sessionAddr, 0, 'sdp-connection')) {
      let to = fallback;
      for (const x of inheriting) {
        if (x.mapped !== null) {
          to = x.mapped;
          break;
        }
      }
      if (to !== null) {
        rewriteConnection(t, session, sessionAddr, to);
        finalAddr = to;
      }
    }
    // A stream mapped to another address than the session c= now names gets its own c=.
    for (const x of inheriting) {
      if (x.mapped !== null && x.mapped !== finalAddr) {
        t.insert(x.m.afterLine, lineAt(b, x.m.afterLine, `c=IN ${family(x.mapped)} ${x.mapped}`, sdp.eol));
      }
    }
  }

  for (const l of rtcpLines) t.insert(l.at, l.text);

  const o = sdp.origin;
  if (o && fallback !== null) {
    const oAddr = text(b, o.address);
    if (oAddr !== fallback && ctx.isPrivate(oAddr, 0, 'sdp-origin')) replaceAddress(t, o.addrtype, o.address, fallback);
  }
}

/** Inbound SDP is not rewritten (it names the remote side); the ALG still learns its streams. */
export function summarizeSdp(b: Uint8Array, sdp: Sdp, out: MediaStreamSummary[]): void {
  for (const m of sdp.media) {
    const conn = m.connections.length > 0 ? m.connections[0] : sdp.connection;
    const addr = conn ? text(b, conn.address) : '';
    const rtp = isRtpProto(m.protoName);
    out.push(streamSummary(m, rtp ? 'rtp' : 'data', addr, m.portNumber, null));
    if (rtp && m.portNumber !== 0) {
      const r = m.rtcp;
      out.push(streamSummary(m, 'rtcp', r && r.address ? text(b, r.address) : addr, r ? r.portNumber : m.portNumber + 1, null));
    }
  }
}

/**
 * Anchoring an SDP on the relay: what the other side of the call reads is
 * the relay's address and the relay's ports, never the phone's.
 *
 * readSdpStreams() says what a description offers or answers (per m= line:
 * address and ports, RTCP, rtcp-mux, direction, hold); anchorSdp() makes the
 * byte edits that put the relay in its place: o= and every c= to the relay
 * address (a hold's c=0.0.0.0 stays as it is), each relayed m= port to the
 * relay port the reader will send to (any "/count" dropped: one pair per
 * stream), a=rtcp to the relay's RTCP port and address, and, for plain
 * phones, the ICE lines removed (candidates naming the phone's addresses
 * would lead an ICE agent around the relay, and a relay that answers no
 * connectivity checks would make it fail).
 *
 * Pure, on the SIP codec's SDP parser (src/alg/sdp) and its edits.
 */
import { parseSdp, sdpAttributes, type Sdp, type SdpAttribute, type SdpConnection, type SdpMedia } from '../../alg/sdp/index.js';
import { edit, type Edit } from '../../alg/text/edit.js';
import { latin1 } from '../../alg/text/latin1.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpStream {
  index: number;
  media: string;
  proto: string;
  /** Carried over UDP (RTP profiles, UDPTL, DTLS): the relay can carry it. TCP-based streams are left as they are. */
  relayable: boolean;
  /** RTP profile: RTCP goes with it and packets are checked to be RTP. */
  rtp: boolean;
  /** m= port 0: rejected or disabled. */
  disabled: boolean;
  address: string;
  port: number;
  rtcpAddress: string;
  rtcpPort: number;
  rtcpMux: boolean;
  direction: Direction;
  /** The sender does not want media now: c=0.0.0.0 (RFC 2543 hold), sendonly or inactive. */
  hold: boolean;
  /** c=0.0.0.0 (or ::): kept as is in the anchored SDP. */
  nullAddress: boolean;
}

export type SdpRead = { ok: true; sdp: Sdp; streams: SdpStream[] } | { ok: false; reason: string };

const ICE_ATTRIBUTES = new Set(['candidate', 'ice-ufrag', 'ice-pwd', 'ice-options', 'ice-lite', 'ice-mismatch', 'remote-candidates', 'end-of-candidates', 'ice-pacing']);
const DIRECTIONS = new Set<Direction>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function isNullAddress(a: string): boolean {
  return a === '0.0.0.0' || a === '::' || a === '0:0:0:0:0:0:0:0';
}

/** UDP-based transports: RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, udptl, UDP/BFCP... (not TCP/..., TCP/TLS/..., TCP/MSRP). */
function isUdpProto(proto: string): boolean {
  const p = proto.toUpperCase();
  return !p.startsWith('TCP') && !p.includes('/TCP') && p !== 'SCTP' && !p.startsWith('SCTP/');
}

function isRtpProto(proto: string): boolean {
  return proto.toUpperCase().split('/').includes('RTP');
}

function directionOf(b: Uint8Array, attrs: SdpAttribute[]): Direction | null {
  for (const a of attrs) {
    if (a.value !== null) continue;
    const name = latin1(b, a.name.start, a.name.end).toLowerCase() as Direction;
    if (DIRECTIONS.has(name)) return name;
  }
  return null;
}

/** The streams of the description in b[start, end). */
export function readSdpStreams(b: Uint8Array, start: number, end: number): SdpRead {
  const r = parseSdp(b, start, end);
  if (!r.ok) return r;
  const sdp = r.sdp;
  const sessionDirection = directionOf(b, sdpAttributes(b, sdp, null)) ?? 'sendrecv';
  const streams: SdpStream[] = [];
  for (const m of sdp.media) {
    const conn: SdpConnection | null = m.connections[0] ?? sdp.connection;
    const address = conn ? latin1(b, conn.address.start, conn.address.end) : '';
    const direction = directionOf(b, sdpAttributes(b, sdp, m)) ?? sessionDirection;
    const rtp = isRtpProto(m.protoName);
    const nullAddress = isNullAddress(address);
    const rtcpAddress = m.rtcp?.address ? latin1(b, m.rtcp.address.start, m.rtcp.address.end) : address;
    streams.push({
      index: m.index,
      media: m.mediaName,
      proto: m.protoName,
      relayable: isUdpProto(m.protoName),
      rtp,
      disabled: m.portNumber === 0,
      address,
      port: m.portNumber,
      rtcpAddress,
      rtcpPort: m.rtcp ? m.rtcp.portNumber : m.portNumber + 1,
      rtcpMux: m.rtcpMux,
      direction,
      hold: nullAddress || direction === 'sendonly' || direction === 'inactive',
      nullAddress,
    });
  }
  return { ok: true, sdp, streams };
}

export interface AnchorOptions {
  /** The relay's address as the other side will send to it (IPv4 dotted quad or IPv6 text). */
  relayAddress: string;
  /** The relay's RTP port for stream k (RTCP is the next one), or null to leave the stream as it is. */
  relayPort(stream: SdpStream): number | null;
  removeIce: boolean;
}

function family(addr: string): string {
  return addr.includes(':') ? 'IP6' : 'IP4';
}

/** Replaces an address (and its addrtype when the family differs). */
function replaceAddress(b: Uint8Array, out: Edit[], addrtype: { start: number; end: number } | null, address: { start: number; end: number }, to: string): void {
  if (addrtype && latin1(b, addrtype.start, addrtype.end).toUpperCase() !== family(to)) out.push(edit(addrtype.start, addrtype.end, family(to)));
  if (latin1(b, address.start, address.end) !== to) out.push(edit(address.start, address.end, to));
}

function anchorConnection(b: Uint8Array, out: Edit[], c: SdpConnection, relay: string): void {
  const a = latin1(b, c.address.start, c.address.end);
  if (isNullAddress(a)) return;
  replaceAddress(b, out, c.addrtype, c.address, relay);
  // A multicast TTL or count means nothing once the relay's unicast address is there.
  const suffixEnd = c.count?.end ?? c.ttl?.end;
  if (suffixEnd !== undefined) out.push(edit(c.address.end, suffixEnd, ''));
}

/** The offset just past a line's end (CR LF, LF, or nothing at the end of the description). */
function afterLineEnd(b: Uint8Array, lineEnd: number, end: number): number {
  if (lineEnd < end && b[lineEnd] === 0x0d) lineEnd++;
  if (lineEnd < end && b[lineEnd] === 0x0a) lineEnd++;
  return lineEnd;
}

function removeIceLines(b: Uint8Array, sdp: Sdp, media: SdpMedia | null, out: Edit[]): void {
  for (const a of sdpAttributes(b, sdp, media)) {
    const name = latin1(b, a.name.start, a.name.end).toLowerCase();
    if (ICE_ATTRIBUTES.has(name)) out.push(edit(a.line.start, afterLineEnd(b, a.line.end, sdp.body.end), ''));
  }
}

/** The edits that anchor a read description (readSdpStreams) on the relay. */
export function anchorSdp(b: Uint8Array, read: { sdp: Sdp; streams: SdpStream[] }, o: AnchorOptions): Edit[] {
  const { sdp, streams } = read;
  const out: Edit[] = [];
  const relay = o.relayAddress;
  if (sdp.origin) replaceAddress(b, out, sdp.origin.addrtype, sdp.origin.address, relay);
  if (sdp.connection) anchorConnection(b, out, sdp.connection, relay);
  if (o.removeIce) removeIceLines(b, sdp, null, out);
  for (const m of sdp.media) {
    const s = streams[m.index];
    for (const c of m.connections) anchorConnection(b, out, c, relay);
    const port = s.relayable && !s.disabled ? o.relayPort(s) : null;
    if (port !== null) {
      out.push(edit(m.port.start, m.count ? m.count.end : m.port.end, String(port)));
      if (m.rtcp) {
        out.push(edit(m.rtcp.port.start, m.rtcp.port.end, String(port + 1)));
        if (m.rtcp.address && !s.nullAddress) replaceAddress(b, out, m.rtcp.addrtype, m.rtcp.address, relay);
      }
    }
    if (o.removeIce) removeIceLines(b, sdp, m, out);
  }
  return out;
}

/**
 * Link-layer framing of captured packets: find the IP packet inside a frame, and
 * put a translated IP packet back into the frame it came from, link header (VLAN
 * tags included) untouched. The engine only ever sees IP packets.
 *
 * Decoding never throws: a frame that is short, not IP, or of a link type we do not
 * know comes back as kind 'other' (with `problem` saying why when it is malformed or
 * unsupported), which a dataplane passes through unchanged.
 */

/** LINKTYPE_* values as they appear in pcap and pcapng files. */
export const LinkType = {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as some systems number it in files. */
  RAW_DLT12: 12,
  /** DLT_RAW on OpenBSD. */
  RAW_DLT14: 14,
  RAW: 101,
  /** OpenBSD loopback: like NULL but the family is in network byte order. */
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  /** Pre-standard 802.1ad outer tag, still emitted by some switches. */
  QINQ_LEGACY: 0x9100,
} as const;

export type LinkPayloadKind = 'ipv4' | 'ipv6' | 'other';

export interface LinkFrame {
  kind: LinkPayloadKind;
  /** Bytes of link header before the payload, VLAN tags included. */
  headerLength: number;
  /**
   * View into the frame. For IP: exactly the IP packet, its length taken from the IP
   * header (clamped to the bytes present), so Ethernet padding is left out.
   * Otherwise: everything after the link header.
   */
  payload: Uint8Array;
  /** Bytes after the payload: Ethernet padding, an FCS, vendor trailers. */
  trailerLength: number;
  /** The IP header claims more bytes than the capture holds (snap length, or a bad length). */
  ipTruncated: boolean;
  /** The innermost protocol field of an Ethernet or Linux cooked header. */
  etherType?: number;
  /** VLAN ids of the 802.1Q / 802.1ad tags, outermost first. */
  vlanIds?: number[];
  /** Address family of a NULL or LOOP header. */
  addressFamily?: number;
  /** Why the frame could not be decoded, when it is malformed or unsupported. */
  problem?: string;
}

const ETHERNET_HEADER_LENGTH = 14;
const SLL_HEADER_LENGTH = 16;
const SLL2_HEADER_LENGTH = 20;
const NULL_HEADER_LENGTH = 4;
const VLAN_TAG_LENGTH = 4;
/** Real networks stack two tags, rarely three; more is a malformed or hostile frame. */
const MAX_VLAN_TAGS = 8;
/** Minimum Ethernet frame without its FCS. */
const ETHERNET_MIN_FRAME = 60;
/** Values below this in the EtherType position are IEEE 802.3 lengths. */
const ETHERTYPE_MIN = 0x0600;
const AF_INET = 2;
/** AF_INET6 differs by system: Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30. */
const AF_INET6_VALUES: ReadonlySet<number> = new Set([10, 23, 24, 28, 30]);
const AF_INET6_DEFAULT = 24;
/** Linux ARPHRD_NONE: what a TUN device reports, and masq's own frames have no link address. */
const ARPHRD_NONE = 0xfffe;
/** Linux cooked packet type PACKET_OUTGOING: the gateway sent it. */
const PACKET_OUTGOING = 4;

interface LinkHeader {
  kind: LinkPayloadKind;
  headerLength: number;
  /** Where the innermost EtherType is, for rewriting it. */
  protocolOffset?: number;
  etherType?: number;
  vlanIds?: number[];
  addressFamily?: number;
  familyLittleEndian?: boolean;
  problem?: string;
}

function u16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function kindOfEtherType(etherType: number): LinkPayloadKind {
  if (etherType === EtherType.IPV4) return 'ipv4';
  if (etherType === EtherType.IPV6) return 'ipv6';
  return 'other';
}

function isVlanTag(etherType: number): boolean {
  return etherType === EtherType.VLAN || etherType === EtherType.QINQ || etherType === EtherType.QINQ_LEGACY;
}

function unparsed(problem: string): LinkHeader {
  return { kind: 'other', headerLength: 0, problem };
}

/**
 * Follows VLAN tags from the EtherType at protocolOffset, the fixed header ending at
 * fixedEnd. Each tag is TCI then the next EtherType.
 */
function withVlanTags(frame: Uint8Array, protocolOffset: number, fixedEnd: number, name: string): LinkHeader {
  if (frame.length < fixedEnd) return unparsed(`${name} header truncated: ${fixedEnd} bytes needed, ${frame.length} present`);
  let etherType = u16(frame, protocolOffset);
  let end = fixedEnd;
  const vlanIds: number[] = [];
  while (isVlanTag(etherType)) {
    if (vlanIds.length === MAX_VLAN_TAGS) return unparsed(`more than ${MAX_VLAN_TAGS} VLAN tags`);
    if (frame.length < end + VLAN_TAG_LENGTH) return unparsed(`VLAN tag truncated at byte ${end}`);
    vlanIds.push(u16(frame, end) & 0x0fff);
    protocolOffset = end + 2;
    etherType = u16(frame, protocolOffset);
    end += VLAN_TAG_LENGTH;
  }
  const header: LinkHeader = { kind: 'other', headerLength: end, protocolOffset, etherType };
  if (vlanIds.length > 0) header.vlanIds = vlanIds;
  if (etherType >= ETHERTYPE_MIN) header.kind = kindOfEtherType(etherType);
  return header;
}

function loopbackHeader(frame: Uint8Array, networkOrder: boolean): LinkHeader {
  if (frame.length < NULL_HEADER_LENGTH) {
    return unparsed(`loopback header truncated: ${NULL_HEADER_LENGTH} bytes needed, ${frame.length} present`);
  }
  const view = new DataView(frame.buffer, frame.byteOffset, NULL_HEADER_LENGTH);
  // NULL is in the writer's host order: a family is a small number, so whichever
  // reading has zero high bytes is the right one.
  const littleEndian = !networkOrder && (view.getUint32(0, true) & 0xffff0000) === 0;
  const family = view.getUint32(0, littleEndian);
  const kind: LinkPayloadKind = family === AF_INET ? 'ipv4' : AF_INET6_VALUES.has(family) ? 'ipv6' : 'other';
  return { kind, headerLength: NULL_HEADER_LENGTH, addressFamily: family, familyLittleEndian: littleEndian };
}

function rawHeader(frame: Uint8Array): LinkHeader {
  if (frame.length === 0) return unparsed('empty frame');
  const version = frame[0] >> 4;
  if (version === 4) return { kind: 'ipv4', headerLength: 0 };
  if (version === 6) return { kind: 'ipv6', headerLength: 0 };
  return unparsed(`raw IP frame with IP version ${version}`);
}

function parseLinkHeader(linkType: number, frame: Uint8Array): LinkHeader {
  switch (linkType) {
    case LinkType.ETHERNET:
      return withVlanTags(frame, 12, ETHERNET_HEADER_LENGTH, 'Ethernet');
    case LinkType.LINUX_SLL:
      return withVlanTags(frame, 14, SLL_HEADER_LENGTH, 'Linux cooked (SLL)');
    case LinkType.LINUX_SLL2:
      return withVlanTags(frame, 0, SLL2_HEADER_LENGTH, 'Linux cooked (SLL2)');
    case LinkType.NULL:
      return loopbackHeader(frame, false);
    case LinkType.LOOP:
      return loopbackHeader(frame, true);
    case LinkType.RAW:
    case LinkType.RAW_DLT12:
    case LinkType.RAW_DLT14:
      return rawHeader(frame);
    case LinkType.IPV4:
      return { kind: 'ipv4', headerLength: 0 };
    case LinkType.IPV6:
      return { kind: 'ipv6', headerLength: 0 };
    default:
      return unparsed(`unsupported link type ${linkType}`);
  }
}

export function isSupportedLinkType(linkType: number): boolean {
  return (Object.values(LinkType) as number[]).includes(linkType);
}

/**
 * The length of the IP packet at the start of `bytes`, from its own header: IPv4
 * total length, IPv6 40 + payload length. Clamped to the bytes present (truncated
 * then says so). A length the header cannot vouch for (IPv4 total length below 20,
 * as TSO captures show; an IPv6 jumbogram's 0) means "all of it".
 */
export function ipPacketLength(kind: 'ipv4' | 'ipv6', bytes: Uint8Array): { length: number; truncated: boolean } {
  const all = { length: bytes.length, truncated: false };
  if (kind === 'ipv4') {
    if (bytes.length < 4) return { length: bytes.length, truncated: true };
    const totalLength = u16(bytes, 2);
    if (totalLength < 20) return all;
    if (totalLength > bytes.length) return { length: bytes.length, truncated: true };
    return { length: totalLength, truncated: false };
  }
  if (bytes.length < 40) return { length: bytes.length, truncated: true };
  const payloadLength = u16(bytes, 4);
  if (payloadLength === 0) return all;
  if (40 + payloadLength > bytes.length) return { length: bytes.length, truncated: true };
  return { length: 40 + payloadLength, truncated: false };
}

export function decodeLinkFrame(linkType: number, frame: Uint8Array): LinkFrame {
  const header = parseLinkHeader(linkType, frame);
  const rest = frame.subarray(header.headerLength);
  const decoded: LinkFrame = {
    kind: header.kind,
    headerLength: header.headerLength,
    payload: rest,
    trailerLength: 0,
    ipTruncated: false,
  };
  if (header.etherType !== undefined) decoded.etherType = header.etherType;
  if (header.vlanIds) decoded.vlanIds = header.vlanIds;
  if (header.addressFamily !== undefined) decoded.addressFamily = header.addressFamily;
  if (header.problem !== undefined) decoded.problem = header.problem;
  if (header.kind !== 'other') {
    const { length, truncated } = ipPacketLength(header.kind, rest);
    decoded.payload = rest.subarray(0, length);
    decoded.trailerLength = rest.length - length;
    decoded.ipTruncated = truncated;
  }
  return decoded;
}

function concat(header: Uint8Array, payload: Uint8Array, minLength = 0): Uint8Array {
  const out = new Uint8Array(Math.max(header.length + payload.length, minLength));
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}

/**
 * A new frame: the original's first headerLength bytes, then newPayload. Whatever
 * followed the old payload (padding, FCS) is dropped; an Ethernet frame that was
 * padded is padded again with zeros to 60 bytes, as the wire would show it.
 */
export function reframe(linkType: number, frame: Uint8Array, headerLength: number, newPayload: Uint8Array): Uint8Array {
  if (!Number.isInteger(headerLength) || headerLength < 0 || headerLength > frame.length) {
    throw new RangeError(`header length ${headerLength} outside the ${frame.length}-byte frame`);
  }
  const wasPadded = linkType === LinkType.ETHERNET && decodeLinkFrame(linkType, frame).trailerLength > 0;
  return concat(frame.subarray(0, headerLength), newPayload, wasPadded ? ETHERNET_MIN_FRAME : 0);
}

function ipKind(ip: Uint8Array): 'ipv4' | 'ipv6' {
  const version = ip.length > 0 ? ip[0] >> 4 : -1;
  if (version === 4) return 'ipv4';
  if (version === 6) return 'ipv6';
  throw new RangeError(`not an IP packet: version ${version < 0 ? 'missing' : version}`);
}

function etherTypeOf(kind: 'ipv4' | 'ipv6'): number {
  return kind === 'ipv4' ? EtherType.IPV4 : EtherType.IPV6;
}

function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >> 8;
  bytes[offset + 1] = value & 0xff;
}

function writeFamily(header: Uint8Array, kind: 'ipv4' | 'ipv6', littleEndian: boolean, current?: number): void {
  const keep = current !== undefined && (kind === 'ipv4' ? current === AF_INET : AF_INET6_VALUES.has(current));
  const family = keep ? current : kind === 'ipv4' ? AF_INET : AF_INET6_DEFAULT;
  new DataView(header.buffer, header.byteOffset, NULL_HEADER_LENGTH).setUint32(0, family, littleEndian);
}

/** A link header for a frame with no original: zero addresses, the right protocol. */
function defaultHeader(linkType: number, kind: 'ipv4' | 'ipv6'): Uint8Array {
  switch (linkType) {
    case LinkType.ETHERNET: {
      const header = new Uint8Array(ETHERNET_HEADER_LENGTH);
      writeU16(header, 12, etherTypeOf(kind));
      return header;
    }
    case LinkType.LINUX_SLL: {
      const header = new Uint8Array(SLL_HEADER_LENGTH);
      writeU16(header, 0, PACKET_OUTGOING);
      writeU16(header, 2, ARPHRD_NONE);
      writeU16(header, 14, etherTypeOf(kind));
      return header;
    }
    case LinkType.LINUX_SLL2: {
      const header = new Uint8Array(SLL2_HEADER_LENGTH);
      writeU16(header, 0, etherTypeOf(kind));
      writeU16(header, 8, ARPHRD_NONE);
      header[10] = PACKET_OUTGOING;
      return header;
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      const header = new Uint8Array(NULL_HEADER_LENGTH);
      writeFamily(header, kind, linkType === LinkType.NULL);
      return header;
    }
    default:
      return new Uint8Array(0);
  }
}

export interface WrapOptions {
  /** Ethernet: swap source and destination MAC of the template (a reply to it). */
  reverseDirection?: boolean;
}

/**
 * A frame around an IP packet that has no original frame, such as an ICMP error
 * the engine generates. With a template frame of the same link type, its link
 * header (addresses, VLAN tags) is reused with the protocol field set for `ip`;
 * without one, addresses are zero. RangeError when `ip` is not IPv4/IPv6, the
 * link type cannot carry it, or the template's header is malformed.
 */
export function wrapIpPacket(linkType: number, ip: Uint8Array, template?: Uint8Array, options: WrapOptions = {}): Uint8Array {
  const kind = ipKind(ip);
  if (!isSupportedLinkType(linkType)) throw new RangeError(`unsupported link type ${linkType}`);
  if ((linkType === LinkType.IPV4 && kind !== 'ipv4') || (linkType === LinkType.IPV6 && kind !== 'ipv6')) {
    throw new RangeError(`link type ${linkType} cannot carry an ${kind} packet`);
  }
  const headerless = linkType === LinkType.RAW || linkType === LinkType.RAW_DLT12 || linkType === LinkType.RAW_DLT14
    || linkType === LinkType.IPV4 || linkType === LinkType.IPV6;
  if (headerless) return ip.slice();
  if (!template) return concat(defaultHeader(linkType, kind), ip);

  const parsed = parseLinkHeader(linkType, template);
  if (parsed.problem !== undefined) throw new RangeError(`template frame unusable: ${parsed.problem}`);
  const header = template.slice(0, parsed.headerLength);
  if (parsed.protocolOffset !== undefined) writeU16(header, parsed.protocolOffset, etherTypeOf(kind));
  if (parsed.familyLittleEndian !== undefined) writeFamily(header, kind, parsed.familyLittleEndian, parsed.addressFamily);
  if (options.reverseDirection && linkType === LinkType.ETHERNET) {
    const destination = header.slice(0, 6);
    header.copyWithin(0, 6, 12);
    header.set(destination, 6);
  }
  return concat(header, ip);
}

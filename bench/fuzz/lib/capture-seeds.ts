/**
 * Capture files for the pcap, pcapng and translate targets: small files
 * written here (every link type the readers know, both byte orders, both
 * resolutions, pcapng with options, several sections and interfaces, and the
 * odd timestamps of issue 17), and the heads of the shared captures.
 */
import { writePcap } from '../../../src/wire/pcap-file.js';
import { writePcapng } from '../../../src/wire/pcapng.js';
import { LinkType, wrapIpPacket } from '../../../src/wire/link-layer.js';
import type { CaptureRecord } from '../../../src/wire/capture-types.js';
import { isPcapng } from '../../../src/wire/pcapng.js';
import { Blocks } from '../../../test/wire/pcapng-blocks.js';
import { ALL_CAPTURES, captureFile } from '../captures.js';
import { udp, tcp } from './packet-seeds.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { utf8 } from '../target.js';

const INVITE = utf8('INVITE sip:b@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: cap1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.2>\r\nContent-Type: application/sdp\r\nContent-Length: 59\r\n\r\nv=0\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n');

function ipPackets(): Uint8Array[] {
  return [
    udp('10.0.0.2', 5060, '198.51.100.10', 5060, INVITE),
    udp('198.51.100.10', 5060, '10.0.0.2', 5060, 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'),
    tcp('10.0.0.2', 40000, '198.51.100.10', 80, TCP_SYN),
    tcp('198.51.100.10', 80, '10.0.0.2', 40000, TCP_SYN | TCP_ACK),
    tcp('10.0.0.2', 40000, '198.51.100.10', 80, TCP_ACK | TCP_PSH, utf8('GET / HTTP/1.0\r\n\r\n')),
  ];
}

function records(linkType: number): CaptureRecord[] {
  return ipPackets().map((ip, i) => ({ linkType, tsSec: 1_700_000_000 + i, tsNsec: i * 1000, data: wrapIpPacket(linkType, ip), origLength: wrapIpPacket(linkType, ip).length, interfaceIndex: 0 }));
}

const LINK_TYPES = [LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP, LinkType.IPV4];

export function pcapSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const lt of LINK_TYPES) out.push(writePcap(records(lt), { linkType: lt }));
  out.push(writePcap(records(LinkType.ETHERNET), { linkType: LinkType.ETHERNET, byteOrder: 'big', resolution: 'nano', snapLength: 64 }));
  out.push(writePcap([], { linkType: LinkType.ETHERNET }));
  return [...out, ...captureHeads('pcap')];
}

export function pcapngSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const lt of LINK_TYPES) out.push(writePcapng(records(lt), { resolution: 'micro', application: 'masq fuzz' }));
  out.push(writePcapng(records(LinkType.ETHERNET), { resolution: 'nano', snapLength: 128 }));
  const pkt = Array.from(wrapIpPacket(LinkType.ETHERNET, ipPackets()[0]));
  const b = new Blocks(true);
  // if_tsresol (2^-10 s) and a negative if_tsoffset, a Simple Packet Block, a second section in the other byte order.
  b.shb(true, [...b.option(4, Array.from(utf8('fuzz'))), ...b.endOfOptions()]);
  b.idb(LinkType.ETHERNET, 0, [...b.option(9, [0x8a]), ...b.option(14, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), ...b.endOfOptions()]);
  b.epb(0, 0xffffffff, 0xfffffff0, pkt);
  b.spb(pkt.length, pkt);
  b.shb(false);
  b.idb(LinkType.RAW, 65535);
  b.epb(0, 0, 1, Array.from(ipPackets()[2]));
  out.push(concat(b.parts));
  return [...out, ...captureHeads('pcapng')];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The first 6 KB of each shared capture of the format (a cut tail is an issue for the reader, not an error). */
export function captureHeads(format: 'pcap' | 'pcapng', bytes = 6144): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const name of ALL_CAPTURES) {
    const f = captureFile(name);
    if (f && (isPcapng(f) ? 'pcapng' : 'pcap') === format) out.push(f.slice(0, bytes));
  }
  return out;
}

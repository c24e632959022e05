/**
 * Seeds from the shared real captures (../shared/captures, or MASQ_CAPTURES),
 * used in place and never copied into the repository. When the folder is
 * absent (CI, a fresh clone) the targets run on their other seeds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCapture } from '../../src/wire/capture.js';
import { decodeLinkFrame } from '../../src/wire/link-layer.js';
import { FUZZ_DIR } from './registry.js';

export function capturesDir(): string | null {
  const dir = process.env.MASQ_CAPTURES ?? resolve(FUZZ_DIR, '../../../shared/captures');
  return existsSync(dir) ? dir : null;
}

/** The bytes of a capture file, or null when the captures are not here. */
export function captureFile(name: string): Uint8Array | null {
  const dir = capturesDir();
  if (!dir || !existsSync(join(dir, name))) return null;
  return new Uint8Array(readFileSync(join(dir, name)));
}

const packetCache = new Map<string, Uint8Array[]>();

/** The IPv4 and IPv6 packets of a capture (link headers removed), at most `max`. */
export function capturePackets(name: string, max = 4000): Uint8Array[] {
  const key = `${name}:${max}`;
  const hit = packetCache.get(key);
  if (hit) return hit;
  const bytes = captureFile(name);
  const out: Uint8Array[] = [];
  if (bytes) {
    for (const r of readCapture(bytes).records) {
      const f = decodeLinkFrame(r.linkType, r.data);
      if (f.kind !== 'other') out.push(f.payload.slice());
      if (out.length >= max) break;
    }
  }
  packetCache.set(key, out);
  return out;
}

export const ALL_CAPTURES = [
  'sip.pcap', 'sip_hello.pcapng', 'sip_invalid-content-length.pcap', 'sip_sip-junk-before-request.pcap', 'http_on_sip_port.pcap',
  'FAX-Call-t38-CA-TDM-SIP-FB-1.pcap', 'h323.pcap', 'h323-overflow.pcap', 'ftp.pcap', 'ftp_ipv4.pcap', 'ftp_ipv6.pcap', 'ftp_failed.pcap',
  'ftp_ftp-many-port-expected.pcap', 'rtsp.pcap', 'rtsp_setup_http.pcapng', 'stun.pcap', 'stun_classic.pcap', 'stun_tcp_multiple_msgs_same_pkt.pcap',
  'stun_google_meet.pcapng', 'stun_zoom.pcapng', 'stun_wa_call.pcapng', 'stun_signal.pcapng', 'stun_msteams_unidir.pcapng', 'rtp.pcapng',
  'rtcp_multiple_pkts_in_the_same_datagram.pcap', 'tftp.pcap', 'irc.pcap', 'pptp.pcap',
] as const;

/** Transport payloads of the IPv4 UDP (17) or TCP (6) packets of a capture, empty ones left out. */
export function capturePayloads(name: string, proto: 6 | 17, max = 4000): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of capturePackets(name)) {
    if (p.length < 20 || p[0] >> 4 !== 4 || p[9] !== proto) continue;
    const hl = (p[0] & 15) * 4;
    const total = Math.min(p.length, (p[2] << 8) | p[3]);
    const l4 = proto === 17 ? 8 : ((p[hl + 12] >> 4) & 15) * 4;
    if (hl + l4 >= total) continue;
    out.push(p.slice(hl + l4, total));
    if (out.length >= max) break;
  }
  return out;
}

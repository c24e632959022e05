/**
 * Captures taken on the sending host show packets before the NIC filled in
 * their checksums (checksum offload): the IPv4 header or TCP/UDP checksum is
 * zero or partial in the file although it was right on the wire. The pcap
 * dataplane repairs these before translation, so the engine sees what the
 * gateway would have received; each repair is counted.
 */
import { finishChecksum, pseudoHeaderSum, sumWords } from '../../wire/checksum.js';
import { fillIpv4HeaderChecksum, ipv4, ipv4HeaderChecksumValid, PROTO_TCP, PROTO_UDP, read16, write16 } from '../../wire/ipv4.js';
import { fillTcpChecksum, tcpChecksumValid } from '../../wire/tcp.js';

export interface OffloadRepairs {
  ipHeader: number;
  transport: number;
}

/** Repairs the packet's checksums in place; `ip` must be a structurally valid IPv4 packet. */
export function repairOffloadedChecksums(ip: Uint8Array, repairs: OffloadRepairs): void {
  if (ip.length < 20 || ip[0] >> 4 !== 4) return;
  const hl = ipv4.headerLength(ip, 0);
  const total = ipv4.totalLength(ip, 0);
  if (hl < 20 || total < hl || total > ip.length) return;
  if (!ipv4HeaderChecksumValid(ip, 0)) {
    fillIpv4HeaderChecksum(ip, 0);
    repairs.ipHeader++;
  }
  // A fragment's transport checksum covers bytes in other fragments: nothing to check here.
  if (ipv4.moreFragments(ip, 0) || ipv4.fragmentOffset(ip, 0) !== 0) return;
  const proto = ipv4.protocol(ip, 0);
  if (proto === PROTO_TCP && total - hl >= 20 && !tcpChecksumValid(ip, 0)) {
    fillTcpChecksum(ip, 0);
    repairs.transport++;
  } else if (proto === PROTO_UDP && total - hl >= 8) {
    // The datagram is what its length field says; bytes after it in the IP payload are not
    // covered by its checksum (RFC 768). A length that does not fit is left for the engine.
    const length = read16(ip, hl + 4);
    if (length < 8 || length > total - hl) return;
    const stored = read16(ip, hl + 6);
    const right = udpChecksum(ip, hl, length);
    if (stored !== 0 && stored !== right) {
      write16(ip, hl + 6, right);
      repairs.transport++;
    }
  }
}

/** The checksum of the UDP datagram of `length` bytes at `hl`, over exactly those bytes. */
function udpChecksum(ip: Uint8Array, hl: number, length: number): number {
  let acc = pseudoHeaderSum(ipv4.src(ip, 0), ipv4.dst(ip, 0), PROTO_UDP, length);
  acc = sumWords(ip, hl, hl + 6, acc);
  acc = sumWords(ip, hl + 8, hl + length, acc);
  const c = finishChecksum(acc);
  return c === 0 ? 0xffff : c; // 0 on the wire means "no checksum"
}

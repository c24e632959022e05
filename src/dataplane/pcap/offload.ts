/**
 * Captures taken on the sending host show packets before the NIC filled in
 * their checksums (checksum offload): the IPv4 header or TCP/UDP checksum is
 * zero or partial in the file although it was right on the wire. The pcap
 * dataplane repairs these before translation, so the engine sees what the
 * gateway would have received; each repair is counted.
 */
import { fillIpv4HeaderChecksum, ipv4, ipv4HeaderChecksumValid, PROTO_TCP, PROTO_UDP } from '../../wire/ipv4.js';
import { fillTcpChecksum, tcpChecksumValid } from '../../wire/tcp.js';
import { fillUdpChecksum, udpChecksumValid } from '../../wire/udp.js';

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
  } else if (proto === PROTO_UDP && total - hl >= 8 && !udpChecksumValid(ip, 0)) {
    fillUdpChecksum(ip, 0);
    repairs.transport++;
  }
}

/** A plain IPv4 router: forwards by its routing table, answers pings to itself. */
import { buildIcmpEcho, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HEADER, icmp } from '../../wire/icmp.js';
import { ipv4, PROTO_ICMP } from '../../wire/ipv4.js';
import { SimNode, type SimInterface } from './node.js';

export class SimRouter extends SimNode {
  constructor(name: string) {
    super(name);
    this.forwarding = true;
  }

  protected deliverLocal(packet: Uint8Array, _iface: SimInterface): void {
    answerPing(this, packet);
  }
}

/** Echo replies for nodes that are not hosts (routers, NAT boxes). */
export function answerPing(node: SimNode, packet: Uint8Array): void {
  const hl = ipv4.headerLength(packet, 0);
  const end = ipv4.totalLength(packet, 0);
  if (ipv4.protocol(packet, 0) !== PROTO_ICMP || end - hl < ICMP_HEADER || icmp.type(packet, hl) !== ICMP_ECHO_REQUEST) return;
  node.send(
    buildIcmpEcho(
      ipv4.dst(packet, 0),
      ipv4.src(packet, 0),
      ICMP_ECHO_REPLY,
      icmp.identifier(packet, hl),
      icmp.sequence(packet, hl),
      packet.slice(hl + ICMP_HEADER, end),
    ),
  );
}

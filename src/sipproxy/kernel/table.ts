/**
 * The nftables table masq owns (one, named in the configuration): the
 * relay's pinholes and, when the kernel forwards media, its NAT maps.
 *
 *   set live       relay ports of live calls: the only relay ports that
 *                  accept packets (the input chain drops the rest of the range)
 *   set sync       the session's batch markers (net/nft-session.ts)
 *   map peer       (source, source port, relay port) -> the other leg's media address (DNAT)
 *   map via        relay port -> the relay's address and the other leg's relay port (SNAT)
 *   set forwarded  the two directions of each forwarded stream, with counters
 *
 * Packets to and from relay ports are not tracked by conntrack unless their
 * stream is in the kernel (the notrack chains): entries made while the relay
 * still worked in user space would otherwise keep the first kernel packets
 * away from the NAT (a NAT rule only sees a connection's first packet).
 *
 * The table is deleted and made afresh at start (what a crashed run left is
 * gone) and deleted at exit.
 */
import { nftScript } from '../../net/nft-session.js';

export interface TableOptions {
  name: string;
  relayAddress: string;
  minPort: number;
  maxPort: number;
  pinholes: boolean;
  kernel: boolean;
  nft?: string;
}

export function tableId(name: string): string {
  return `ip ${name}`;
}

export function tableScript(o: TableOptions): string {
  const range = `${o.minPort}-${o.maxPort}`;
  const relay = o.relayAddress;
  const lines = [
    `table ip ${o.name} {`,
    '  set live { type inet_service; }',
    '  set sync { type mark; flags timeout; }',
  ];
  if (o.kernel) {
    lines.push(
      '  map peer { type ipv4_addr . inet_service . inet_service : ipv4_addr . inet_service; }',
      '  map via { type inet_service : ipv4_addr . inet_service; }',
      '  set forwarded { type ipv4_addr . inet_service . ipv4_addr . inet_service; counter; }',
      '  chain notrack_in { type filter hook prerouting priority raw; policy accept;',
      `    ip daddr ${relay} udp dport ${range} ip saddr . udp sport . udp dport != @peer notrack`,
      '  }',
      '  chain notrack_out { type filter hook output priority raw; policy accept;',
      `    ip saddr ${relay} udp sport ${range} notrack`,
      '  }',
      '  chain media_dnat { type nat hook prerouting priority dstnat; policy accept;',
      `    ip daddr ${relay} udp dport ${range} dnat ip to ip saddr . udp sport . udp dport map @peer`,
      '  }',
      '  chain media_snat { type nat hook postrouting priority srcnat; policy accept;',
      `    meta l4proto udp ct status dnat ct original ip daddr ${relay} snat ip to ct original proto-dst map @via`,
      '  }',
      '  chain media_forward { type filter hook forward priority filter - 10; policy accept;',
      '    ip saddr . udp sport . ip daddr . udp dport @forwarded accept',
      '  }',
    );
  }
  if (o.pinholes) {
    lines.push(
      '  chain pinholes { type filter hook input priority filter - 10; policy accept;',
      `    ip daddr ${relay} udp dport ${range} udp dport != @live counter drop`,
      '  }',
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Makes the table afresh (a leftover one is deleted first). */
export function createTable(o: TableOptions): void {
  try {
    nftScript(`delete table ip ${o.name}\n`, o.nft);
  } catch {
    /* there was none */
  }
  nftScript(tableScript(o), o.nft);
}

/** Deletes the table; false when there was none (or nft failed). */
export function deleteTable(name: string, nft?: string): boolean {
  try {
    nftScript(`delete table ip ${name}\n`, nft);
    return true;
  } catch {
    return false;
  }
}

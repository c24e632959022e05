/**
 * The kernel fast path of a TUN gateway, as nftables text: the table, the
 * element lines that hand one flow to the kernel or take it back, and the
 * reading of the kernel's per-flow counters. Pure (kernel-offload.ts runs
 * nft).
 *
 * The kernel translates an offloaded flow statelessly, with masq's own
 * mapping, and conntrack never sees it (notrack):
 *
 *   map out   (inside addr, proto, inside port, remote addr, remote port) -> mark
 *   map in    (remote addr, proto, remote port, public addr, public port) -> mark
 *   map addr  mark -> the address to write (public outbound, inside inbound)
 *   map port  mark -> the port to write
 *
 * Inbound packets are rewritten in prerouting, before the routing decision:
 * the new destination no longer matches masq's rule for the public
 * addresses, so the main table routes them to the LAN. Outbound packets keep
 * their inside source until postrouting (the rp_filter check and the routing
 * see the packet as it came); a routing rule ahead of masq's sends packets
 * carrying the mark to the main table instead of the inside TUN device.
 *
 * Left to masq, always: TCP segments with SYN, FIN or RST (masq's TCP state
 * and timeouts follow the connection's life), fragments (masq translates
 * later fragments by their first), ICMP (errors are matched on the packet
 * they quote). An outbound packet marked for the fast path that would leave
 * with a source that is not a public address (its address element missing)
 * is dropped, never sent with the inside address.
 */
import { ipv4ToString } from '../../wire/address.js';

export interface OffloadTableSpec {
  /** The nftables table (family ip), made afresh at start and deleted at stop. */
  table: string;
  insideInterfaces: readonly string[];
  outsideInterface: string;
  /** As text ("203.0.113.1"). */
  publicAddrs: readonly string[];
  /** The mark bit that says "the kernel carries this packet"; each flow direction's mark is this bit plus a number below it. */
  markBit: number;
}

/** Marks a queue may hand out: numbers [1, MARKS_PER_QUEUE) above its base. */
export const MARKS_PER_QUEUE = 1 << 20;

/** The lowest mark bit allowed: room below it for MARKS_PER_QUEUE marks for each of up to 64 queues. */
export const MIN_MARK_BIT = 1 << 26;

/** The first mark of queue `queue` (0-based). */
export function queueMarkBase(markBit: number, queue: number): number {
  return markBit + queue * MARKS_PER_QUEUE;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

export function offloadTableScript(s: OffloadTableSpec): string {
  if (!Number.isInteger(s.markBit) || s.markBit < MIN_MARK_BIT || s.markBit > 0x80000000 || (s.markBit & (s.markBit - 1)) !== 0) {
    throw new RangeError(`markBit ${s.markBit} must be one bit, 0x${MIN_MARK_BIT.toString(16)} or above`);
  }
  const bit = hex(s.markBit);
  const outside = `"${s.outsideInterface}"`;
  const key = 'ip saddr . meta l4proto . th sport . ip daddr . th dport';
  const publics = `{ ${s.publicAddrs.join(', ')} }`;
  // One verdict-map lookup on the input interface per packet, not a comparison per rule: every
  // forwarded packet crosses these chains, offloaded or not.
  const fromInside = (chain: string) => s.insideInterfaces.map((n) => `"${n}" : jump ${chain}`);
  const dispatch = (entries: readonly string[]) => `    iifname vmap { ${entries.join(', ')} }`;
  // Port rewrites name the protocol: nft updates the checksum at that protocol's offset.
  const perProto = (first: string, dir: 'saddr' | 'daddr', port: 'sport' | 'dport') =>
    ['udp', 'tcp'].map((p) => `    meta l4proto ${p} ${first}ip ${dir} set meta mark map @addr ${p} ${port} set meta mark map @port`);
  return [
    `table ip ${s.table} {`,
    '  map out { type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service : mark; counter; }',
    '  map in { type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service : mark; counter; }',
    '  map addr { type mark : ipv4_addr; }',
    '  map port { type mark : inet_service; }',
    '  set sync { type mark; flags timeout; }',
    // Outbound: marked before routing (the fwmark rule keeps it from the inside TUN device),
    // rewritten after it.
    '  chain mark_outbound {',
    `    meta mark set ${key} map @out notrack`,
    '  }',
    // Inbound: marked and rewritten in one rule; a packet not in the map stops the rule before
    // anything is set, and goes on to masq as it came.
    '  chain rewrite_inbound {',
    ...perProto(`meta mark set ${key} map @in notrack `, 'daddr', 'dport'),
    '  }',
    '  chain rewrite_outbound {',
    ...perProto('', 'saddr', 'sport'),
    `    ip saddr != ${publics} counter drop`,
    '  }',
    // raw: before conntrack, so that the kernel's tracking never holds these packets.
    '  chain prerouting { type filter hook prerouting priority raw; policy accept;',
    '    ip frag-off & 0x3fff != 0 return',
    '    tcp flags & (fin | syn | rst) != 0 return',
    dispatch([...fromInside('mark_outbound'), `${outside} : jump rewrite_inbound`]),
    '  }',
    '  chain postrouting { type filter hook postrouting priority srcnat; policy accept;',
    `    meta mark & ${bit} != ${bit} return`,
    dispatch(fromInside('rewrite_outbound')),
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The argument that makes the table afresh in one nft transaction (a table a
 * crashed run left behind goes, elements and all).
 */
export function offloadTableCommand(s: OffloadTableSpec): string {
  return `add table ip ${s.table}\ndelete table ip ${s.table}\n${offloadTableScript(s)}`;
}

/** One flow as the kernel translates it. */
export interface OffloadFlow {
  proto: number;
  inAddr: number;
  inPort: number;
  pubAddr: number;
  pubPort: number;
  remAddr: number;
  remPort: number;
  /** The marks of its two directions. */
  markOut: number;
  markIn: number;
}

const protoName = (p: number) => (p === 6 ? 'tcp' : 'udp');

/** The element key of a flow's outbound direction (also how kernel-offload.ts finds a flow's old elements). */
export function outKey(f: OffloadFlow): string {
  return `${ipv4ToString(f.inAddr)} . ${protoName(f.proto)} . ${f.inPort} . ${ipv4ToString(f.remAddr)} . ${f.remPort}`;
}

/** The element key of a flow's inbound direction. */
export function inKey(f: OffloadFlow): string {
  return `${ipv4ToString(f.remAddr)} . ${protoName(f.proto)} . ${f.remPort} . ${ipv4ToString(f.pubAddr)} . ${f.pubPort}`;
}

/**
 * The lines that hand flows to the kernel, in the order that is safe: what a
 * mark rewrites to exists before any packet can carry the mark.
 */
export function installCommands(table: string, flows: readonly OffloadFlow[]): string[] {
  if (flows.length === 0) return [];
  const t = `ip ${table}`;
  const join = (f: (x: OffloadFlow) => string) => flows.map(f).join(', ');
  return [
    `add element ${t} addr { ${join((f) => `${hex(f.markOut)} : ${ipv4ToString(f.pubAddr)}, ${hex(f.markIn)} : ${ipv4ToString(f.inAddr)}`)} }`,
    `add element ${t} port { ${join((f) => `${hex(f.markOut)} : ${f.pubPort}, ${hex(f.markIn)} : ${f.inPort}`)} }`,
    `add element ${t} out { ${join((f) => `${outKey(f)} : ${hex(f.markOut)}`)} }`,
    `add element ${t} in { ${join((f) => `${inKey(f)} : ${hex(f.markIn)}`)} }`,
  ];
}

/** The lines that take flows back: the keys first, so no packet is marked for a rewrite that is gone. */
export function removeCommands(table: string, flows: readonly OffloadFlow[]): string[] {
  if (flows.length === 0) return [];
  const t = `ip ${table}`;
  const join = (f: (x: OffloadFlow) => string) => flows.map(f).join(', ');
  const marks = join((f) => `${hex(f.markOut)}, ${hex(f.markIn)}`);
  return [
    `delete element ${t} out { ${join(outKey)} }`,
    `delete element ${t} in { ${join(inKey)} }`,
    `delete element ${t} addr { ${marks} }`,
    `delete element ${t} port { ${marks} }`,
  ];
}

/** What the kernel counted for one direction of a flow. */
export interface MarkCount {
  packets: number;
  bytes: number;
}

/**
 * The counters of a map's elements from `nft -j list map ip T out` (or in),
 * by mark. Throws on output that is not nft's JSON.
 */
export function parseMapCounters(json: string, into: Map<number, MarkCount> = new Map()): Map<number, MarkCount> {
  const doc = JSON.parse(json) as { nftables?: unknown };
  if (!Array.isArray(doc.nftables)) throw new Error('not nft JSON output');
  for (const item of doc.nftables as Array<Record<string, unknown>>) {
    const map = item.map as { elem?: unknown } | undefined;
    if (map === undefined || !Array.isArray(map.elem)) continue;
    for (const e of map.elem as unknown[]) {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[1] !== 'number') continue;
      const counter = (e[0] as { elem?: { counter?: { packets?: unknown; bytes?: unknown } } })?.elem?.counter;
      const packets = Number(counter?.packets ?? 0);
      const bytes = Number(counter?.bytes ?? 0);
      into.set(e[1] >>> 0, { packets: Number.isFinite(packets) ? packets : 0, bytes: Number.isFinite(bytes) ? bytes : 0 });
    }
  }
  return into;
}

/**
 * Which queue (worker thread, NAT engine) of a multi-queue gateway a packet
 * belongs to. Both directions of a flow, and the ALG state and pinholes it
 * makes, must meet on one engine:
 *
 * - From the inside, by inside host: every flow of one host, and every
 *   signalling session it starts, lands on the engine of that host.
 * - From the outside, by public port: each engine allocates public ports
 *   (and ICMP identifiers) only from its own slice of the range, so the port
 *   an answer comes back to names its engine. Static forwards belong to the
 *   engine of the host they forward to.
 *
 * The kernel runs the same decisions as an eBPF program (native/tun_steering.cc)
 * on every packet before it reaches a queue; this file is the TypeScript twin
 * for tests and for filling the program's table. Unclassifiable packets (not
 * TCP, UDP or ICMP; non-first fragments; truncated headers) go to queue 0.
 */

/** The table the outside program looks public ports up in: TCP, UDP and ICMP identifiers, 65536 each. */
export const STEERING_TABLE_SIZE = 3 * 65536;

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;

/** The table index of a public port (or ICMP identifier); -1 for other protocols. */
export function steeringKey(proto: number, port: number): number {
  switch (proto) {
    case PROTO_TCP:
      return port;
    case PROTO_UDP:
      return 65536 + port;
    case PROTO_ICMP:
      return 131072 + port;
    default:
      return -1;
  }
}

/** The queue of an inside host: the kernel truncates the program's answer to 16 bits, then takes it modulo. */
export function hostQueue(addr: number, queues: number): number {
  let h = addr >>> 0;
  h ^= h >>> 16;
  h ^= h >>> 8;
  return (h & 0xffff) % queues;
}

export type PortRange = readonly [number, number];

/**
 * Splits [first, last] into `queues` contiguous slices of nearly equal size, each starting on an even
 * port, so an RTP/RTCP pair (even, odd) never straddles two engines. A slice may be empty ([a, a-1])
 * when the range is shorter than the queue count.
 */
export function portSlices(range: PortRange, queues: number): PortRange[] {
  if (!Number.isInteger(queues) || queues < 1) throw new RangeError(`queues ${queues}: expected an integer of 1 or more`);
  const [first, last] = range;
  const size = Math.max(0, last - first + 1);
  const out: PortRange[] = [];
  let start = first;
  for (let q = 0; q < queues; q++) {
    let end = q === queues - 1 ? last : first + Math.floor((size * (q + 1)) / queues) - 1;
    // End on an odd port (the next slice starts even), unless that leaves the range.
    if (q < queues - 1 && (end & 1) === 0 && end + 1 <= last) end++;
    end = Math.min(end, last);
    if (end < start - 1) end = start - 1;
    out.push([start, end]);
    start = end + 1;
  }
  return out;
}

/** A static forward as the table sees it: its protocols, public ports and the inside host it goes to. */
export interface SteeredForward {
  protocols: readonly number[];
  ports: PortRange;
  to: number;
}

/** What one engine owns: its slices of the port ranges (TCP and UDP share them; ICMP identifiers have their own). */
export interface EngineSlice {
  range: PortRange;
  lowRange: PortRange;
  icmpRange: PortRange;
  icmpLowRange: PortRange;
}

/** The slices of every engine, in queue order. */
export function engineSlices(ports: { range: PortRange; lowRange: PortRange }, queues: number): EngineSlice[] {
  const range = portSlices(ports.range, queues);
  const lowRange = portSlices(ports.lowRange, queues);
  // ICMP identifiers have no well-known range: the engine's ICMP pool is 1024..65535 and 1..1023.
  const icmpRange = portSlices([1024, 65535], queues);
  const icmpLowRange = portSlices([1, 1023], queues);
  return range.map((r, q) => ({ range: r, lowRange: lowRange[q], icmpRange: icmpRange[q], icmpLowRange: icmpLowRange[q] }));
}

/** The outside program's table: every public port to the queue of the engine that owns it. */
export function steeringTable(slices: readonly EngineSlice[], forwards: readonly SteeredForward[]): Uint32Array {
  const table = new Uint32Array(STEERING_TABLE_SIZE);
  const fill = (base: number, [a, b]: PortRange, q: number) => table.fill(q, base + a, base + b + 1);
  slices.forEach((s, q) => {
    for (const base of [steeringKey(PROTO_TCP, 0), steeringKey(PROTO_UDP, 0)]) {
      fill(base, s.range, q);
      fill(base, s.lowRange, q);
    }
    fill(steeringKey(PROTO_ICMP, 0), s.icmpRange, q);
    fill(steeringKey(PROTO_ICMP, 0), s.icmpLowRange, q);
  });
  // A forward's replies come from its inside host, steered by host: its inbound side must meet them there.
  for (const f of forwards) {
    const q = hostQueue(f.to, slices.length);
    for (const proto of f.protocols) fill(steeringKey(proto, 0), f.ports, q);
  }
  return table;
}

/** The entries of a table that differ from zero (the map starts all zero): what the native side writes. */
export function nonZeroEntries(table: Uint32Array): { keys: Uint32Array; values: Uint32Array } {
  let n = 0;
  for (let i = 0; i < table.length; i++) if (table[i] !== 0) n++;
  const keys = new Uint32Array(n);
  const values = new Uint32Array(n);
  let j = 0;
  for (let i = 0; i < table.length; i++) {
    if (table[i] === 0) continue;
    keys[j] = i;
    values[j++] = table[i];
  }
  return { keys, values };
}

/**
 * The queue the outside program picks for an IPv4 packet (the same steps as native/tun_steering.cc):
 * the public port it is addressed to, looked up in `table`; 0 when there is none to find.
 */
export function outsideQueue(p: Uint8Array, table: Uint32Array, queues: number): number {
  return ((outsideKeyValue(p, table) ?? 0) & 0xffff) % queues;
}

function outsideKeyValue(p: Uint8Array, table: Uint32Array): number | undefined {
  const u8 = (at: number) => (at < p.length ? p[at] : undefined);
  const u16 = (at: number) => (at + 1 < p.length ? (p[at] << 8) | p[at + 1] : undefined);
  const frag = u16(6);
  if (frag === undefined || (frag & 0x1fff) !== 0) return undefined;
  const ihl = (p[0] & 0x0f) << 2;
  const proto = u8(9);
  let key: number | undefined;
  if (proto === PROTO_TCP || proto === PROTO_UDP) {
    const port = u16(ihl + 2);
    key = port === undefined ? undefined : steeringKey(proto, port);
  } else if (proto === PROTO_ICMP) {
    const type = u8(ihl);
    if (type === 0 || type === 14) {
      const id = u16(ihl + 4);
      key = id === undefined ? undefined : steeringKey(PROTO_ICMP, id);
    } else if (type === 3 || type === 11 || type === 12) {
      const quotedProto = u8(ihl + 8 + 9);
      const quotedIhl = u8(ihl + 8);
      if (quotedProto === undefined || quotedIhl === undefined) return undefined;
      const at = ihl + 8 + ((quotedIhl & 0x0f) << 2);
      if (quotedProto === PROTO_TCP || quotedProto === PROTO_UDP) {
        const port = u16(at);
        key = port === undefined ? undefined : steeringKey(quotedProto, port);
      } else if (quotedProto === PROTO_ICMP) {
        const id = u16(at + 4);
        key = id === undefined ? undefined : steeringKey(PROTO_ICMP, id);
      }
    }
  }
  return key === undefined || key < 0 ? undefined : table[key];
}

/** The queue the inside program picks: by source address (0 for a packet too short to have one). */
export function insideQueue(p: Uint8Array, queues: number): number {
  if (p.length < 16) return 0;
  return hostQueue(((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0, queues);
}

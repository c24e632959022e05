/**
 * Flows and expectations as text, in the shape of conntrack-tools' `conntrack -L`
 * (with accounting on): the original direction first, then the reply
 * direction, so people who read conntrack output read this at a glance.
 *
 *   tcp      6 7439 ESTABLISHED src=10.0.1.2 dst=198.51.100.10 sport=40000 dport=80 packets=5 bytes=300 ...
 *            src=198.51.100.10 dst=203.0.113.1 sport=80 dport=40000 packets=4 bytes=400 [ASSURED] mark=0 use=1
 *
 * test/lab/conntrack-parity.test.ts compares these lines field by field with
 * the kernel's for the same traffic; docs/operations.md lists what differs.
 */
import { tryParseIpv4 } from '../wire/address.js';
import type { EndpointJson, ExpectationJson, FlowJson, PortMappingJson } from './status-model.js';

interface Direction {
  src: EndpointJson;
  dst: EndpointJson;
  packets: number;
  bytes: number;
}

function tuple(f: FlowJson, d: Direction, reply: boolean): string {
  const addrs = `src=${d.src.address} dst=${d.dst.address}`;
  let ports: string;
  if (f.protoNumber === 1) {
    // ICMP echo: the identifier plays the port; the original is a request, the reply a reply.
    const id = reply ? d.dst.port : d.src.port;
    ports = reply ? `type=0 code=0 id=${id}` : `type=8 code=0 id=${id}`;
  } else {
    ports = `sport=${d.src.port} dport=${d.dst.port}`;
  }
  return `${addrs} ${ports} packets=${d.packets} bytes=${d.bytes}`;
}

/** One line per flow, like `conntrack -L`. */
export function formatFlow(f: FlowJson): string {
  return flowText(f, false);
}

/** `event`: the shape of a `conntrack -E` line, which carries no mark or use count. */
function flowText(f: FlowJson, event: boolean): string {
  // conntrack's original direction is the one that opened the flow.
  const fromInside = f.origin === 'outbound';
  const inToOut: Direction = { src: f.inside, dst: f.remote, packets: f.packets.out, bytes: f.bytes.out };
  const outToPublic: Direction = { src: f.remote, dst: f.public, packets: f.packets.in, bytes: f.bytes.in };
  // Reply tuples as conntrack shows them: what the answer looks like on the wire.
  const publicToRemote: Direction = { src: f.remote, dst: f.public, packets: f.packets.in, bytes: f.bytes.in };
  const insideToRemote: Direction = { src: f.inside, dst: f.remote, packets: f.packets.out, bytes: f.bytes.out };
  const original = fromInside ? inToOut : outToPublic;
  const reply = fromInside ? publicToRemote : insideToRemote;
  const parts = [`${f.proto.padEnd(8)} ${f.protoNumber} ${Math.ceil(f.timeoutSeconds)}`];
  if (f.tcpState) parts.push(f.tcpState);
  parts.push(tuple(f, original, false));
  if (!f.replied) parts.push('[UNREPLIED]');
  parts.push(tuple(f, reply, true));
  // The kernel never assures an ICMP echo: a replied one is just seen both ways.
  if (f.replied && f.protoNumber !== 1) parts.push('[ASSURED]');
  // conntrack marks a flow its flowtable carries the same way.
  if (f.offloaded) parts.push('[OFFLOAD]');
  if (f.origin !== 'outbound') parts.push(`[${f.origin.toUpperCase()}]`);
  // conntrack's order after the flags: mark, helper, use. masq sets no marks, and a flow is held once, by its table.
  if (!event) parts.push('mark=0');
  if (f.helper) parts.push(`helper=${f.helper}`);
  if (!event) parts.push('use=1');
  return parts.join(' ');
}

/**
 * Expectations, like `conntrack -L expect`: time left, protocol, the tuple
 * the expected connection will have (src: who may connect, 0.0.0.0 and port 0
 * for anyone) and its mask, then masq's own fields: the traffic class, the
 * ALG, where it leads inside, the call (group) and why it was opened.
 */
export function formatExpectation(e: ExpectationJson): string {
  const anyAddr = e.remote.address === '*';
  const outbound = e.direction === 'outbound';
  // An outbound expectation is the connection the inside host will dial: from it, to the remote.
  const src = outbound ? e.inside.address : anyAddr ? '0.0.0.0' : e.remote.address;
  const sport = outbound ? e.inside.port : e.remote.port;
  const dst = outbound ? e.remote.address : e.public.address;
  const dport = outbound ? e.remote.port : e.public.port;
  const flags = [e.singleUse ? 'single-use' : null, e.uses > 0 ? `used=${e.uses}` : null].filter(Boolean);
  return [
    `${Math.ceil(e.timeoutSeconds)} proto=${PROTO_NUMBERS[e.proto] ?? e.proto}`,
    `src=${src} dst=${dst} sport=${sport} dport=${dport}`,
    `mask-src=${!outbound && anyAddr ? '0.0.0.0' : '255.255.255.255'} mask-dst=255.255.255.255 sport=${sport === 0 ? 0 : 65535} dport=65535`,
    `class=${e.class ?? 'data'} helper=${e.helper}`,
    ...(outbound ? [] : [`to=${e.inside.address}:${e.inside.port}`]),
    `group=${e.group}`,
    `reason=${JSON.stringify(e.reason)}`,
    ...(flags.length ? [`[${flags.join(',')}]`] : []),
  ].join(' ');
}

/** A port mapping an inside host made, in the same shape: who may come in (anyone), to where, made by which protocol. */
export function formatPortMapping(m: PortMappingJson): string {
  return [
    `${m.proto.padEnd(8)} ${m.proto === 'tcp' ? 6 : 17} ${Math.ceil(m.timeoutSeconds)}`,
    `src=* dst=${m.public.address} dport=${m.public.port}`,
    `to=${m.inside.address}:${m.inside.port}`,
    `[PORTMAP] by=${m.owner}`,
    ...(m.description ? [`description=${JSON.stringify(m.description)}`] : []),
  ].join(' ');
}

const PROTO_NUMBERS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

/** conntrack's output options that change a line: `-o extended` (the layer 3 protocol first), `-o id`. */
export interface LineOptions {
  extended?: boolean;
  id?: boolean;
}

/** A flow line with conntrack's output options. */
export function formatFlowLine(f: FlowJson, o: LineOptions = {}, event = false): string {
  let line = flowText(f, event);
  if (o.extended) line = `ipv4     2 ${line}`;
  if (o.id) line = `${line} id=${f.id}`;
  return line;
}

export type EventAction = 'new' | 'update' | 'destroy';

/** The type column of `conntrack -E`: right-aligned in nine characters. */
export function eventTag(action: EventAction): string {
  return `[${action.toUpperCase()}]`.padStart(9);
}

/** A flow event as `conntrack -E` prints it; a destroyed flow has no time left to show. */
export function formatFlowEvent(action: EventAction, f: FlowJson, o: LineOptions = {}): string {
  let line = formatFlowLine(f, o, true);
  if (action === 'destroy') line = line.replace(/^((?:ipv4 {5}2 )?\S+ +\d+) \d+ /, '$1 ');
  return `${eventTag(action)} ${line}`;
}

/** An expectation event as `conntrack -E expect` prints it. */
export function formatExpectationEvent(action: EventAction, e: ExpectationJson): string {
  return `${eventTag(action)} ${formatExpectation(e)}`;
}

/** Stable order: protocol, then inside endpoint, then remote. */
export function sortFlows(flows: FlowJson[]): FlowJson[] {
  // Numerically: address, then port.
  const key = (e: EndpointJson) => (tryParseIpv4(e.address) ?? 0) * 65536 + e.port;
  return [...flows].sort((a, b) => a.proto.localeCompare(b.proto) || key(a.inside) - key(b.inside) || key(a.remote) - key(b.remote));
}

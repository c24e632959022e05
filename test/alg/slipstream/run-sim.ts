/**
 * One slipstreaming scenario through the NAT engine with its ALG attached
 * (or the engine alone when masq has no such ALG yet): the victim's traffic
 * out, the attacker's answers in, then the attacker's attempt to reach the
 * goal from outside. The harness checks every packet's pinholes as it goes
 * (only toward the sender, never below 1024, within caps).
 */
import { findAlg } from '../../../src/alg/registry.js';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { buildUdpPacket } from '../../../src/wire/udp.js';
import { buildTcpPacket, TCP_SYN } from '../../../src/wire/tcp.js';
import { ipv4 } from '../../../src/wire/ipv4.js';
import { AlgHarness, GATEWAY_PUBLIC } from '../alg-harness.js';
import type { SlipstreamHosts, SlipstreamScenario } from './scenario.js';

export const SIM_HOSTS: SlipstreamHosts = { victim: '10.0.0.2', other: '10.0.0.3', server: '198.51.100.66', mss: 64 };

export interface SimOutcome {
  /** Whether masq has the scenario's ALG (false: the engine alone ran it). */
  algPresent: boolean;
  /** The ALG's pinholes after the exchange, as text. */
  pinholes: string[];
  /** Public ports the attacker tried, and whether any reached the goal. */
  reached: boolean;
  tried: number[];
}

export function runInSim(s: SlipstreamScenario, hosts: SlipstreamHosts = SIM_HOSTS): SimOutcome {
  const algPresent = findAlg(s.alg) !== undefined;
  const h = new AlgHarness({ alg: algPresent ? s.alg : null });
  const traffic = s.craft(hosts);
  const server = `${hosts.server}:${s.serverPort}`;
  if (traffic.transport === 'tcp') {
    const c = h.tcp(`${hosts.victim}:${s.victimPort || 41000}`, server);
    if (!c) throw new Error('the engine refused the victim\'s connection');
    c.send('out', traffic.stream, traffic.cuts);
    if (traffic.reply) c.send('in', traffic.reply, []);
  } else {
    traffic.datagrams.forEach((d, i) => {
      h.udp(`${hosts.victim}:${s.victimPort}`, server, d, 'out');
      const reply = traffic.replies?.[i];
      if (reply) h.udp(`${hosts.victim}:${s.victimPort}`, server, reply, 'in');
    });
  }
  const goal = s.goal(hosts);
  const pinholes = h.engine.expectations.list();
  // The attacker tries the goal's port on the public address, and every public port a pinhole holds.
  const tried = [...new Set([goal.port, ...pinholes.map((e) => e.publicPort)])];
  let reached = false;
  for (const port of tried) {
    for (const proto of ['tcp', 'udp'] as const) {
      const pkt =
        proto === 'tcp'
          ? buildTcpPacket({ src: parseIpv4(hosts.server), dst: parseIpv4(GATEWAY_PUBLIC), srcPort: 40000, dstPort: port, seq: 1, ack: 0, flags: TCP_SYN, window: 65535, payload: new Uint8Array(0) })
          : buildUdpPacket({ src: parseIpv4(hosts.server), dst: parseIpv4(GATEWAY_PUBLIC), srcPort: 40000, dstPort: port, payload: new Uint8Array(4) });
      const v = h.process(pkt, Side.Outside).verdict;
      if (v === Verdict.ToInside && ipv4.dst(h.engine.output, 0) === parseIpv4(goal.host)) reached = true;
    }
  }
  const text = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  return {
    algPresent,
    pinholes: pinholes.map((e) => `${e.proto === 6 ? 'tcp' : 'udp'} ${text(e.publicAddr)}:${e.publicPort} -> ${text(e.insideAddr)}:${e.insidePort} from ${text(e.remoteAddr)}`),
    reached,
    tried,
  };
}

/**
 * CU-SeeMe through a masq NAT in the simulator: a LAN behind one public
 * address, the internet outside, reflectors and clients placed on either side,
 * and what every client received from every other when the run ends. The sim
 * tests and `masq lab cuseeme` build on this.
 *
 *   LAN 10.0.0.0/24 (gateway 10.0.0.1) -- NAT, public 203.0.113.1 -- internet 198.51.100.0/24
 */
import { Simulator } from '../../dataplane/sim/index.js';
import type { SimHost } from '../../dataplane/sim/index.js';
import type { NatConfigInput } from '../../nat/config.js';
import { parseEndpoint } from '../../net/udp.js';
import { CuSeeMeClient, type ClientReport } from './client.js';
import { CuSeeMeReflector, type ReflectorStats } from './reflector.js';

export const CUSEEME_PORT = 7648;
export const LAB_PUBLIC = '203.0.113.1';

export interface PlacedNode {
  name: string;
  /** An address in 10.0.0.0/24 (inside) or 198.51.100.0/24 (outside). */
  address: string;
}

export interface ScenarioClient extends PlacedNode {
  /** A reflector's name, or ADDR:PORT (a peer or the gateway's public address); absent: wait for a call. */
  target?: string;
  frames?: number;
  /** Virtual milliseconds after the start before it starts sending (OpenContinues). */
  startMs?: number;
  /** Virtual milliseconds after its start before its first frame (default 1000: everyone has joined). */
  firstFrameMs?: number;
}

export interface CuSeeMeScenario {
  seed?: number;
  /** The ALG as configured: masq's (default), the 1999 behaviour, or none at all. */
  alg?: 'multi-user' | 'historical' | 'none';
  /** More NAT configuration: autofw lines, forwards, mapping behaviour. */
  nat?: Partial<NatConfigInput>;
  reflectors?: PlacedNode[];
  clients: ScenarioClient[];
  /** Virtual seconds to run (default 6). */
  seconds?: number;
}

export interface ScenarioResult {
  clients: Record<string, ClientReport>;
  reflectors: Record<string, ReflectorStats>;
  /** The ALG's counters on the NAT, when it runs one. */
  alg: Record<string, number> | null;
  natDrops: number;
}

const isInside = (address: string) => address.startsWith('10.0.0.');

export async function runCuSeeMeScenario(s: CuSeeMeScenario): Promise<ScenarioResult> {
  const sim = new Simulator({ seed: s.seed ?? 1 });
  const internet = sim.segment('internet', { delayMs: 10 });
  const lan = sim.segment('lan', { delayMs: 1 });
  const mode = s.alg ?? 'multi-user';
  const nat = sim.nat('gw', {
    inside: [lan, '10.0.0.1/24'],
    outside: [internet, `${LAB_PUBLIC}/24`],
    config: s.nat,
    algs: mode === 'none' ? [] : [{ name: 'cuseeme', options: mode === 'historical' ? { mode: 'historical' } : undefined }],
  });
  const host = (n: PlacedNode): SimHost =>
    isInside(n.address) ? sim.host(n.name, lan, `${n.address}/24`, '10.0.0.1') : sim.host(n.name, internet, `${n.address}/24`);

  const reflectors = new Map<string, CuSeeMeReflector>();
  for (const r of s.reflectors ?? []) {
    const h = host(r);
    reflectors.set(r.name, new CuSeeMeReflector(h.bindUdp({ port: CUSEEME_PORT }), sim.scheduler));
  }
  const reflectorAddress = new Map((s.reflectors ?? []).map((r) => [r.name, r.address]));
  const clients = new Map<string, CuSeeMeClient>();
  for (const c of s.clients) {
    const h = host(c);
    let target: { addr: string; port: number } | undefined;
    if (c.target !== undefined) {
      const reflector = reflectorAddress.get(c.target);
      const e = reflector !== undefined ? { address: reflector, port: CUSEEME_PORT } : parseEndpoint(c.target, CUSEEME_PORT);
      target = { addr: e.address, port: e.port };
    }
    const client = new CuSeeMeClient(h.bindUdp({ port: CUSEEME_PORT }), sim.scheduler, {
      name: c.name,
      own: { addr: c.address, port: CUSEEME_PORT },
      target,
      frames: c.frames ?? 20,
      firstFrameMs: c.firstFrameMs ?? 1000,
    });
    clients.set(c.name, client);
    sim.scheduler.setTimeout(() => client.start(), c.startMs ?? 0);
  }
  await sim.run((s.seconds ?? 6) * 1000);
  for (const c of clients.values()) c.stop();
  const alg = nat.algs.find((a) => a.name === 'cuseeme');
  return {
    clients: Object.fromEntries([...clients].map(([n, c]) => [n, c.report()])),
    reflectors: Object.fromEntries([...reflectors].map(([n, r]) => [n, r.stats()])),
    alg: alg ? alg.counters() : null,
    natDrops: nat.droppedByEngine,
  };
}

/** What `receiver` made of `sender`: frames received out of those sent, and whether it knows who sent them. */
export interface PairOutcome {
  frames: number;
  sent: number;
  /** `sender` is a participant of its own (its frames come from one endpoint, with its name) that lists `receiver`. */
  sees: boolean;
}

export function pairOutcome(r: ScenarioResult, receiver: string, sender: string): PairOutcome {
  const rep = r.clients[receiver];
  const sent = r.clients[sender].framesSent;
  const p = rep.participants.find((q) => q.name === sender);
  const sees = p !== undefined && p.senders.length === 1 && p.senders[0] === sender && p.listsMe;
  return { frames: rep.frames[sender] ?? 0, sent, sees };
}

/**
 * Why `names` are not one complete conference: a receiver missing frames of a sender, a sender it does not see
 * as a participant of its own that lists it, packets addressed to someone else. Empty when complete.
 */
export function conferenceProblems(r: ScenarioResult, names: string[]): string[] {
  const problems: string[] = [];
  for (const receiver of names) {
    for (const sender of names) {
      if (receiver === sender) continue;
      const o = pairOutcome(r, receiver, sender);
      if (o.frames !== o.sent) problems.push(`${receiver} got ${o.frames} of ${sender}'s ${o.sent} frames`);
      if (!o.sees) problems.push(`${receiver} does not see ${sender} as a participant of its own that lists it`);
    }
    if (r.clients[receiver].misaddressed !== 0) problems.push(`${receiver} got ${r.clients[receiver].misaddressed} packets addressed to someone else`);
    if (r.clients[receiver].malformed !== 0) problems.push(`${receiver} got ${r.clients[receiver].malformed} malformed packets`);
  }
  return problems;
}

/** The conference of `masq lab cuseeme conference` and the tests: a, b, c behind the NAT, x and y outside, one reflector outside. */
export function threeBehindOneNat(alg: CuSeeMeScenario['alg'], nat: Partial<NatConfigInput> = {}): CuSeeMeScenario {
  return {
    alg,
    nat: { autofw: ['ipautofw -A -r udp 7648 7649 -c udp 7648 -u'], ...nat },
    reflectors: [{ name: 'refl', address: '198.51.100.10' }],
    clients: [
      { name: 'a', address: '10.0.0.2', target: 'refl', startMs: 0 },
      { name: 'b', address: '10.0.0.3', target: 'refl', startMs: 50 },
      { name: 'c', address: '10.0.0.4', target: 'refl', startMs: 100 },
      { name: 'x', address: '198.51.100.20', target: 'refl', startMs: 150 },
      { name: 'y', address: '198.51.100.21', target: 'refl', startMs: 200 },
    ],
  };
}

/**
 * Every receiver's view of every sender, as a table: "20/20 ok" (all frames, from a participant of its own that
 * lists the receiver), "0/20", "20/20 merged" (its frames came under an endpoint several senders shared).
 */
export function formatConference(r: ScenarioResult, names: string[]): string {
  const cell = (receiver: string, sender: string) => {
    if (receiver === sender) return '-';
    const o = pairOutcome(r, receiver, sender);
    if (o.frames === 0 || o.sees) return `${o.frames}/${o.sent}${o.sees ? ' ok' : ''}`;
    const merged = r.clients[receiver].participants.some((p) => p.senders.length > 1 && p.senders.includes(sender));
    return `${o.frames}/${o.sent} ${merged ? 'merged' : 'unknown'}`;
  };
  const width = Math.max(15, ...names.map((n) => n.length + 2));
  const pad = (t: string) => t.padEnd(width);
  const lines = [pad('to \\ from') + names.map(pad).join('')];
  for (const receiver of names) lines.push(pad(receiver) + names.map((sender) => pad(cell(receiver, sender))).join(''));
  return lines.map((l) => l.trimEnd()).join('\n');
}

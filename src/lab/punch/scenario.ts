/**
 * One punching run in the simulator: a rendezvous server and a relay on the
 * internet, two peers behind the NATs of a pair of profiles (or one of the
 * special scenarios), the real PunchClient on both, virtual time. Returns what
 * happened: the paths each side took, how long it took, how many birthday
 * probes it cost. The tests assert on it and `masq lab punch-matrix` prints it.
 */
import { Simulator, type SimHost, type Segment } from '../../dataplane/sim/index.js';
import type { NatProfile } from '../../dataplane/sim/profiles.js';
import { RelayServer } from '../../relay/relay-server.js';
import { PunchClient } from '../../rendezvous/client/punch-client.js';
import type { PathKind, PeerStatus, PunchClientOptions } from '../../rendezvous/client/types.js';
import { SessionKeys } from '../../rendezvous/protocol/keys.js';
import { RendezvousServer } from '../../rendezvous/server/server.js';
import { birthdayDurationMs, DEFAULT_BIRTHDAY } from '../../rendezvous/client/birthday.js';
import type { Outcome, PunchProfile } from './profiles.js';

const SERVER = { address: '198.51.100.10', port: 7000 };
const RELAY = { address: '198.51.100.10', port: 7100 };
const SECRET = 'lab-secret';
const SESSION = 'lab';

/** One-way delays: internet, carrier network, LAN. */
const DELAY = { internet: 10, carrier: 2, lan: 1 };

export interface PairResult {
  outcome: Outcome | 'failed';
  /** Path kinds at the end, side A and side B. */
  kinds: [PathKind | null, PathKind | null];
  /** From the moment both knew each other to the first path on both sides (ms), null if never. */
  timeToPathMs: number | null;
  /** ... to a direct path on both sides. */
  timeToDirectMs: number | null;
  /** Hello round trip measured on the final path (ms). */
  rttMs: number | null;
  /** Started relayed, later direct. */
  upgraded: boolean;
  birthdayProbes: number;
  birthdaySockets: number;
  repunches: number;
  /** Application data sent each way over the final path arrived. */
  dataDelivered: boolean;
}

export interface RunOptions {
  seed: number;
  /** Virtual time to wait for a direct path after the introduction. */
  maxMs?: number;
  /** Keep running this long after both sides are connected (e.g. to see keepalives). */
  holdMs?: number;
  client?: Partial<PunchClientOptions>;
}

interface Built {
  sim: Simulator;
  a: SimHost;
  b: SimHost;
}

function addPeer(sim: Simulator, internet: Segment, side: 'a' | 'b', p: PunchProfile): SimHost {
  const n = side === 'a' ? 1 : 2;
  if (!p.nat) return sim.host(side, internet, `192.0.2.${n * 10}/24`);
  const lan = sim.segment(`lan-${side}`, { delayMs: DELAY.lan });
  const lanCidr = `10.0.${n}.1/24`;
  if (p.behindCarrier) {
    const carrier = sim.segment(`carrier-${side}`, { delayMs: DELAY.carrier });
    sim.nat(`cgn-${side}`, { inside: [carrier, `100.64.${n}.1/24`], outside: [internet, `203.0.113.${n}/24`], config: p.nat });
    sim.nat(`home-${side}`, { inside: [lan, lanCidr], outside: [carrier, `100.64.${n}.2/24`], gateway: `100.64.${n}.1`, config: p.behindCarrier });
  } else {
    sim.nat(`nat-${side}`, { inside: [lan, lanCidr], outside: [internet, `203.0.113.${n}/24`], config: p.nat });
  }
  return sim.host(side, lan, `10.0.${n}.2/24`, `10.0.${n}.1`);
}

function buildPair(a: PunchProfile, b: PunchProfile, seed: number): Built {
  const sim = new Simulator({ seed });
  const internet = sim.segment('internet', { delayMs: DELAY.internet });
  sim.host('server', internet, `${SERVER.address}/24`);
  return { sim, a: addPeer(sim, internet, 'a', a), b: addPeer(sim, internet, 'b', b) };
}

/** The special scenarios: see SPECIAL_SCENARIOS in profiles.ts. */
export function buildSpecial(name: string, seed: number): Built {
  const sim = new Simulator({ seed });
  const internet = sim.segment('internet', { delayMs: DELAY.internet });
  sim.host('server', internet, `${SERVER.address}/24`);
  const home: NatProfile = { mapping: 'eim', filtering: 'apdf', hairpin: false };
  switch (name) {
    case 'same-lan': {
      const lan = sim.segment('lan', { delayMs: DELAY.lan });
      sim.nat('nat', { inside: [lan, '10.0.1.1/24'], outside: [internet, '203.0.113.1/24'], config: home });
      return { sim, a: sim.host('a', lan, '10.0.1.2/24', '10.0.1.1'), b: sim.host('b', lan, '10.0.1.3/24', '10.0.1.1') };
    }
    case 'carrier-hairpin':
    case 'carrier-no-hairpin': {
      const carrier = sim.segment('carrier', { delayMs: DELAY.carrier });
      sim.nat('cgn', {
        inside: [carrier, '100.64.0.1/24'],
        outside: [internet, '203.0.113.1/24'],
        config: { mapping: 'eim', filtering: 'apdf', hairpin: name === 'carrier-hairpin' },
      });
      const hosts: SimHost[] = [];
      for (const n of [1, 2]) {
        const lan = sim.segment(`lan${n}`, { delayMs: DELAY.lan });
        sim.nat(`home${n}`, { inside: [lan, `10.0.${n}.1/24`], outside: [carrier, `100.64.0.${n + 1}/24`], gateway: '100.64.0.1', config: home });
        hosts.push(sim.host(n === 1 ? 'a' : 'b', lan, `10.0.${n}.2/24`, `10.0.${n}.1`));
      }
      return { sim, a: hosts[0], b: hosts[1] };
    }
    case 'timeout-20s': {
      const short: NatProfile = { ...home, timeouts: { udp: 20, allowBelowRfc: true } };
      const hosts: SimHost[] = [];
      for (const n of [1, 2]) {
        const lan = sim.segment(`lan${n}`, { delayMs: DELAY.lan });
        sim.nat(`nat${n}`, { inside: [lan, `10.0.${n}.1/24`], outside: [internet, `203.0.113.${n}/24`], config: short });
        hosts.push(sim.host(n === 1 ? 'a' : 'b', lan, `10.0.${n}.2/24`, `10.0.${n}.1`));
      }
      return { sim, a: hosts[0], b: hosts[1] };
    }
    default:
      throw new Error(`no special scenario ${JSON.stringify(name)}`);
  }
}

/** Classifies a finished pair by the paths both sides ended on. */
function classify(kinds: [PathKind | null, PathKind | null]): Outcome | 'failed' {
  if (kinds[0] === null || kinds[1] === null) return 'failed';
  if (kinds.includes('relay')) return 'relay';
  if (kinds.includes('birthday')) return 'birthday';
  if (kinds.includes('predicted')) return 'predicted';
  return 'direct';
}

/** Runs punching between the two hosts of a built topology. */
export async function runPunch(built: Built, o: RunOptions): Promise<PairResult> {
  const { sim, a, b } = built;
  const server = sim.get('server') as SimHost;
  const keys = new SessionKeys({ secrets: { [SESSION]: SECRET } });
  const rv = await sim.complete(RendezvousServer.start(server.env, { listen: SERVER, keys, relay: RELAY }), 1000);
  const relay = await sim.complete(RelayServer.start(server.env, { listen: RELAY, keys }), 1000);
  const base: PunchClientOptions = { server: SERVER, session: SESSION, secret: SECRET, ...o.client };
  const ca = await sim.complete(PunchClient.start(a.env, { ...base, name: 'a' }), 30_000);
  const cb = await sim.complete(PunchClient.start(b.env, { ...base, name: 'b' }), 30_000);
  const maxMs = o.maxMs ?? DEFAULT_BIRTHDAY.startAfterMs + birthdayDurationMs({ ...DEFAULT_BIRTHDAY, ...o.client?.birthday }) + 5000;
  const peerOf = (c: PunchClient, other: PunchClient): PeerStatus | undefined => c.peer(other.id);
  const bothDirect = () => !!peerOf(ca, cb)?.path?.direct && !!peerOf(cb, ca)?.path?.direct;
  try {
    await sim.runUntil(bothDirect, maxMs);
    if (o.holdMs) await sim.run(o.holdMs);
    const connected = !!peerOf(ca, cb)?.path && !!peerOf(cb, ca)?.path;
    const dataDelivered = connected ? await exchangeData(sim, ca, cb) : false;
    const pa = peerOf(ca, cb);
    const pb = peerOf(cb, ca);
    const kinds: [PathKind | null, PathKind | null] = [pa?.path?.kind ?? null, pb?.path?.kind ?? null];
    const introducedAt = Math.max(pa?.introducedAt ?? Infinity, pb?.introducedAt ?? Infinity);
    const both = (f: (p: PeerStatus) => number | null) => {
      const x = pa ? f(pa) : null;
      const y = pb ? f(pb) : null;
      return x === null || y === null ? null : Math.max(x, y) - introducedAt;
    };
    return {
      outcome: classify(kinds),
      kinds,
      timeToPathMs: both((p) => p.firstPathAt),
      timeToDirectMs: both((p) => p.firstDirectAt),
      rttMs: pa?.path?.rttMs ?? pb?.path?.rttMs ?? null,
      upgraded: (pa?.history[0]?.kind === 'relay' && !!pa.path?.direct) || (pb?.history[0]?.kind === 'relay' && !!pb.path?.direct),
      birthdayProbes: (pa?.birthdayProbes ?? 0) + (pb?.birthdayProbes ?? 0),
      birthdaySockets: (pa?.birthdaySockets ?? 0) + (pb?.birthdaySockets ?? 0),
      repunches: (pa?.repunches ?? 0) + (pb?.repunches ?? 0),
      dataDelivered,
    };
  } finally {
    await sim.complete(Promise.all([ca.close(), cb.close()]), 10_000).catch(() => {});
    relay.close();
    await rv.close();
  }
}

/** Sends a datagram each way over the current paths; true if both arrived intact. */
async function exchangeData(sim: Simulator, ca: PunchClient, cb: PunchClient): Promise<boolean> {
  const got = { a: false, b: false };
  const offA = ca.on((e) => {
    if (e.type === 'data' && e.peerId === cb.id && new TextDecoder().decode(e.data) === 'from b') got.a = true;
  });
  const offB = cb.on((e) => {
    if (e.type === 'data' && e.peerId === ca.id && new TextDecoder().decode(e.data) === 'from a') got.b = true;
  });
  ca.send(cb.id, new TextEncoder().encode('from a'));
  cb.send(ca.id, new TextEncoder().encode('from b'));
  await sim.runUntil(() => got.a && got.b, 2000);
  offA();
  offB();
  return got.a && got.b;
}

export async function runPair(a: PunchProfile, b: PunchProfile, o: RunOptions): Promise<PairResult> {
  return runPunch(buildPair(a, b, o.seed), o);
}

/**
 * The simulator: build a network of segments, hosts, routers and NAT boxes,
 * then run it on virtual time. The public entry point of the sim dataplane.
 *
 *   const sim = new Simulator({ seed: 1 });
 *   const internet = sim.segment('internet');
 *   const lan = sim.segment('lan');
 *   const nat = sim.nat('home', { inside: [lan, '192.168.1.1/24'], outside: [internet, '203.0.113.1/24'], config: { mapping: 'eim', filtering: 'apdf' } });
 *   const alice = sim.host('alice', lan, '192.168.1.2/24', '192.168.1.1');
 *   const server = sim.host('server', internet, '198.51.100.10/24');
 *   ... bind sockets with host.env.bindUdp(), then: await sim.run(5_000);
 */
import { parseIpv4Prefix, prefixToString } from '../../wire/address.js';
import type { NatConfigInput } from '../../nat/config.js';
import { algNames, attachAlg, findAlg, parseAlgPort } from '../../alg/registry.js';
import type { NatEventSink } from '../../nat/events.js';
import { SimHost } from './host.js';
import { SimNatBox } from './nat-box.js';
import { deriveSeed, seededRandom } from './random.js';
import { SimRouter } from './router.js';
import { VirtualScheduler } from './scheduler.js';
import { Segment, type LinkOptions, type PacketTap } from './segment.js';

export interface SimulatorOptions {
  /** Same seed, same run: loss, jitter, port choices and ISNs all derive from it. */
  seed?: number;
}

export interface NatBoxOptions {
  inside: [Segment, string] | Array<[Segment, string]>;
  outside: [Segment, string];
  /** NAT behaviour; `inside` and `public` default from the interfaces. */
  config?: Partial<NatConfigInput>;
  /** Next hop for the default route; without one the outside segment is treated as the flat internet. */
  gateway?: string;
  onEvent?: NatEventSink;
  /** ALGs to run, by name ("sip"), on their usual ports unless `ports` ("udp/5060") are given. */
  algs?: Array<string | { name: string; ports?: string[]; options?: unknown }>;
}

/** Safety bound: a run that executes this many events without reaching its end is a bug. */
const MAX_EVENTS_PER_RUN = 50_000_000;

export class Simulator {
  readonly scheduler = new VirtualScheduler();
  readonly seed: number;
  private readonly segments = new Map<string, Segment>();
  private readonly nodes = new Map<string, SimHost | SimRouter | SimNatBox>();
  private tap: PacketTap | null = null;

  constructor(options: SimulatorOptions = {}) {
    this.seed = options.seed ?? 1;
  }

  /** Virtual milliseconds since the start. */
  get now(): number {
    return this.scheduler.now();
  }

  random(label: string): () => number {
    return seededRandom(deriveSeed(this.seed, label));
  }

  segment(name: string, link: LinkOptions = {}): Segment {
    if (this.segments.has(name)) throw new Error(`segment ${name} exists`);
    const s = new Segment(name, this.scheduler, this.random(`segment:${name}`), link, () => this.tap);
    this.segments.set(name, s);
    return s;
  }

  /**
   * A host on `segment` with `cidr` (e.g. "192.168.1.2/24"), default route via
   * `gateway`; without one, everything is on-link (a host on the flat internet).
   */
  host(name: string, segment: Segment, cidr: string, gateway?: string): SimHost {
    const h = new SimHost(name, this.scheduler, this.random(`host:${name}`));
    h.attach(segment, cidr);
    if (gateway) h.addRoute('0.0.0.0/0', gateway);
    else h.addOnLinkRoute('0.0.0.0/0');
    this.add(name, h);
    return h;
  }

  router(name: string, interfaces: Array<[Segment, string]>): SimRouter {
    const r = new SimRouter(name);
    for (const [seg, cidr] of interfaces) r.attach(seg, cidr);
    this.add(name, r);
    return r;
  }

  /** A NAT box running the masq engine between `inside` and `outside`. */
  nat(name: string, options: NatBoxOptions): SimNatBox {
    const n = new SimNatBox(name, this.scheduler, this.random(`nat:${name}`));
    const insides = (Array.isArray(options.inside[0]) ? options.inside : [options.inside]) as Array<[Segment, string]>;
    for (const [seg, cidr] of insides) n.attachInside(seg, cidr);
    n.attachOutside(options.outside[0], options.outside[1]);
    if (options.gateway) n.addRoute('0.0.0.0/0', options.gateway);
    else n.addOnLinkRoute('0.0.0.0/0', n.interfaces[n.interfaces.length - 1]);
    const config: NatConfigInput = {
      inside: insides.map(([, cidr]) => prefixToString(parseIpv4Prefix(cidr))),
      public: [options.outside[1].split('/')[0]],
      ...options.config,
    };
    const engine = n.start(config, options.onEvent);
    for (const a of options.algs ?? []) {
      const spec = typeof a === 'string' ? { name: a } : a;
      const def = findAlg(spec.name);
      if (!def) throw new Error(`unknown ALG ${JSON.stringify(spec.name)}; known: ${algNames().join(', ')}`);
      n.algs.push(attachAlg(engine, def, spec.ports ? spec.ports.map(parseAlgPort) : def.defaultPorts, spec.options));
    }
    this.add(name, n);
    return n;
  }

  get(name: string): SimHost | SimRouter | SimNatBox | undefined {
    return this.nodes.get(name);
  }

  /** Observe every packet put on any segment (for captures and debugging). */
  onPacket(tap: PacketTap | null): void {
    this.tap = tap;
  }

  /**
   * Runs the network for `ms` of virtual time. Between events it lets promise
   * continuations run, so async protocol code (await socket replies, timers)
   * behaves as on a real event loop.
   */
  async run(ms: number): Promise<void> {
    await this.runUntil(() => false, ms);
  }

  /** Runs until `done()` is true (checked after each event) or `maxMs` pass; true if done. */
  async runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    const end = this.scheduler.now() + maxMs;
    let events = 0;
    await settle();
    if (done()) return true;
    while (this.scheduler.step(end)) {
      await settle();
      if (done()) return true;
      if (++events > MAX_EVENTS_PER_RUN) throw new Error(`simulation did not finish within ${MAX_EVENTS_PER_RUN} events`);
    }
    this.scheduler.advanceTo(end);
    await settle();
    return done();
  }

  /** Runs a promise to completion on virtual time (rejects if it does not settle within maxMs). */
  async complete<T>(promise: Promise<T>, maxMs: number): Promise<T> {
    let state: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
    promise.then(
      (value) => (state = { ok: true, value }),
      (error) => (state = { ok: false, error }),
    );
    await this.runUntil(() => state !== null, maxMs);
    const s = state as { ok: true; value: T } | { ok: false; error: unknown } | null;
    if (!s) throw new Error(`did not complete within ${maxMs} ms of virtual time`);
    if (!s.ok) throw s.error;
    return s.value;
  }

  private add(name: string, node: SimHost | SimRouter | SimNatBox): void {
    if (this.nodes.has(name)) throw new Error(`node ${name} exists`);
    this.nodes.set(name, node);
  }
}

/** Lets every pending promise continuation run (a macrotask boundary drains microtasks). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A NAT box in the simulated network: a router whose forwarding runs the masq
 * engine, the same NatEngine the TUN gateway runs. Inside interfaces face the
 * private networks, one outside interface carries the public addresses.
 */
import { ipv4ToString, parseIpv4 } from '../../wire/address.js';
import { ipv4, ipv4Problem } from '../../wire/ipv4.js';
import { buildIcmpError, ICMP_DEST_UNREACHABLE, UNREACH_FRAG_NEEDED } from '../../wire/icmp.js';
import { NatEngine, Side, Verdict } from '../../nat/engine.js';
import type { NatEventSink } from '../../nat/events.js';
import type { AlgInstance } from '../../alg/registry.js';
import type { ResolvedNatConfig } from '../../nat/config.js';
import type { TimerHandle } from '../../util/clock.js';
import type { VirtualScheduler } from './scheduler.js';
import { SimNode, type SimInterface } from './node.js';
import type { Segment } from './segment.js';
import { answerPing } from './router.js';

export class SimNatBox extends SimNode {
  engine!: NatEngine;
  /** ALGs running on this box's engine (see NatBoxOptions.algs). */
  readonly algs: AlgInstance[] = [];
  private readonly inside = new Set<SimInterface>();
  private outside: SimInterface | null = null;
  private tickTimer: TimerHandle | null = null;
  droppedByEngine = 0;

  constructor(
    name: string,
    private readonly scheduler: VirtualScheduler,
    private readonly random: () => number,
  ) {
    super(name);
    this.forwarding = true;
  }

  attachInside(segment: Segment, cidr: string): SimInterface {
    const i = this.attach(segment, cidr, `in${this.inside.size}`);
    this.inside.add(i);
    return i;
  }

  /** The outside interface; every public address of the config is reachable on it. */
  attachOutside(segment: Segment, cidr: string): SimInterface {
    if (this.outside) throw new Error(`${this.name} already has an outside interface`);
    this.outside = this.attach(segment, cidr, 'out');
    return this.outside;
  }

  /** Starts the engine; call after the interfaces are attached. */
  start(config: ResolvedNatConfig | unknown, onEvent?: NatEventSink): NatEngine {
    if (!this.outside) throw new Error(`${this.name} has no outside interface`);
    this.engine = new NatEngine(config, { clock: this.scheduler, random: this.random, onEvent });
    for (const a of this.engine.config.publicAddrs) {
      if (!this.outside.addrs.includes(a)) {
        this.outside.addrs.push(a);
        this.outside.segment.alias(this.outside, a);
      }
    }
    return this.engine;
  }

  override receive(packet: Uint8Array, iface: SimInterface): void {
    if (packet.length >= 1 && ipv4.version(packet, 0) === 4 && ipv4Problem(packet, 0, packet.length) === null) {
      const dst = ipv4.dst(packet, 0);
      // Addressed to the box's own inside address: answer pings, nothing more.
      // (Its public addresses are the engine's: inside traffic to them hairpins.)
      if (this.inside.has(iface) && !this.engine.isPublic(dst) && this.ownsAddress(dst)) {
        answerPing(this, packet);
        return;
      }
      if (!this.decrementTtl(packet, iface)) return;
      if (this.inside.has(iface) && this.refuseOversized(packet, iface)) return;
    }
    const side = this.inside.has(iface) ? Side.Inside : Side.Outside;
    const verdict = this.engine.process(packet, side, this.scheduler.now());
    if (verdict === Verdict.Drop) this.droppedByEngine++;
    else this.send(this.engine.output);
    for (const e of this.engine.drainEmitted()) this.send(e.packet);
    this.scheduleTick();
  }

  /**
   * RFC 4787 REQ-13: an inside packet with DF set that will not fit the outgoing
   * link gets "fragmentation needed" back to the inside host, decided before
   * translation so the error reaches the host and quotes what it sent.
   */
  private refuseOversized(packet: Uint8Array, from: SimInterface): boolean {
    const route = this.lookup(ipv4.dst(packet, 0));
    if (!route || packet.length <= route.iface.segment.mtu || !ipv4.dontFragment(packet, 0)) return false;
    this.send(buildIcmpError(from.addrs[0], ICMP_DEST_UNREACHABLE, UNREACH_FRAG_NEEDED, packet, 8, route.iface.segment.mtu));
    return true;
  }

  protected deliverLocal(): void {
    /* receive() handles everything */
  }

  /** The engine's housekeeping (held SYNs, expectations) needs time to pass, not packets. */
  private scheduleTick(): void {
    if (this.tickTimer) return;
    this.tickTimer = this.scheduler.setTimeout(() => {
      this.tickTimer = null;
      this.engine.tick(this.scheduler.now());
      for (const e of this.engine.drainEmitted()) this.send(e.packet);
      if (!this.engine.idle) this.scheduleTick();
    }, 1000);
  }

  get publicAddress(): string {
    return this.outside ? ipv4ToString(this.outside.addrs[0]) : '';
  }

  hasPublic(addr: string): boolean {
    return this.engine.isPublic(parseIpv4(addr));
  }
}

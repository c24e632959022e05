/**
 * Helpers (ALGs) as the engine sees them: numbered hooks, the port rules that
 * attach a new flow to one, and running the flow's hook on each translated
 * packet. What a helper does with a packet is the ALG framework's business
 * (src/alg/attach.ts); here it is a function from packet to packets.
 */
import { fillTcpChecksum } from '../wire/tcp.js';
import { fillUdpChecksum } from '../wire/udp.js';
import { ipv4, IPV4, PROTO_TCP, PROTO_UDP } from '../wire/ipv4.js';
import type { NatCounters } from './counters.js';
import { DropReason } from './counters.js';
import type { FlowTable } from './flow-table.js';
import { type EmittedPacket, Side } from './verdict.js';

/**
 * A helper's view of a packet on a flow attached to it, after the engine has
 * translated the headers. It returns the packet to send (the same buffer, or a
 * new one when the payload changed), several packets (a rewritten TCP message
 * that needs more segments), an empty list (the data is held until a message
 * is complete), or null to drop the packet by policy.
 */
export type HelperFn = (flow: number, packet: Uint8Array, outbound: boolean, now: number) => Uint8Array | Uint8Array[] | null;

export interface HelperPortRule {
  proto: number;
  first: number;
  last: number;
}

/** The most helpers an engine can hold: the flow table keeps a helper id in one byte. */
const MAX_HELPERS = 255;

export class Helpers {
  private readonly hooks: (HelperFn | null)[] = [null];
  private readonly gone: (((flow: number) => void) | null)[] = [null];
  private readonly names: string[] = [''];
  private readonly rules: Array<{ helper: number; proto: number; first: number; last: number }> = [];
  constructor(
    private readonly flows: FlowTable,
    private readonly counters: NatCounters,
    private readonly emitted: EmittedPacket[],
    private readonly isPublic: (addr: number) => boolean,
  ) {}

  /**
   * Registers a helper: flows whose destination port (outbound) or inside port
   * (inbound) lies in one of `rules` are attached to it; with no rules, only
   * flows an expectation names get it. `flowGone` is told when such a flow goes
   * away, so the helper can drop its state. Returns its id.
   */
  register(hook: HelperFn, rules: readonly HelperPortRule[], flowGone: ((flow: number) => void) | undefined, name: string): number {
    const helper = this.hooks.length;
    if (helper > MAX_HELPERS) throw new RangeError('too many helpers');
    this.hooks.push(hook);
    this.gone.push(flowGone ?? null);
    this.names.push(name);
    for (const r of rules) this.rules.push({ helper, proto: r.proto, first: r.first, last: r.last });
    return helper;
  }

  /** The port rules that attach new flows to `helper` are replaced (a reload); flows attached already keep it. */
  setRules(helper: number, rules: readonly HelperPortRule[]): void {
    for (let i = this.rules.length - 1; i >= 0; i--) if (this.rules[i].helper === helper) this.rules.splice(i, 1);
    for (const r of rules) this.rules.push({ helper, proto: r.proto, first: r.first, last: r.last });
  }

  /** How many helpers are registered. */
  get count(): number {
    return this.hooks.length - 1;
  }

  /** The name a helper registered under, or null for 0 (none). */
  name(helper: number): string | null {
    return helper === 0 ? null : (this.names[helper] ?? null);
  }

  /** The helper registered under `name`, or 0. */
  idOf(name: string): number {
    const i = this.names.indexOf(name);
    return i > 0 ? i : 0;
  }

  /** Attaches a new flow to the helper whose port rules cover `port`, if any. */
  attachByPort(id: number, proto: number, port: number): void {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (r.proto === proto && port >= r.first && port <= r.last) {
        this.flows.helper[id] = r.helper;
        return;
      }
    }
  }

  /** A flow attached to a helper is going away. */
  flowGone(id: number): void {
    this.gone[this.flows.helper[id]]?.(id);
  }

  /**
   * Runs the flow's helper on a translated packet whose transport checksum may
   * still be partial (it comes back complete). Returns the packet to send, or
   * null when nothing goes now (dropped by policy, counted; or held by the
   * helper). Extra packets of a re-segmented message queue up as emitted packets.
   */
  run(id: number, pkt: Uint8Array, partial: boolean, outbound: boolean, now: number): Uint8Array | null {
    const hook = this.hooks[this.flows.helper[id]];
    if (!hook) return pkt;
    // Helpers work with complete checksums: finish an offloaded one first.
    if (partial) completeTransportChecksum(pkt);
    const out = hook(id, pkt, outbound, now);
    if (out === null) {
      this.counters.drops[DropReason.helperDrop]++;
      return null;
    }
    if (out instanceof Uint8Array) return out;
    if (out.length === 0) {
      this.counters.helperHeld++;
      return null;
    }
    const side = outbound && !this.isPublic(ipv4.dst(out[0], 0)) ? Side.Outside : Side.Inside;
    for (let i = 1; i < out.length; i++) this.emitted.push({ side, packet: out[i] });
    return out[0];
  }
}

/** Replaces a partial (offload) TCP/UDP checksum with the complete one. */
function completeTransportChecksum(b: Uint8Array): void {
  const proto = b[IPV4.PROTO];
  if (proto === PROTO_TCP) fillTcpChecksum(b, 0);
  else if (proto === PROTO_UDP) fillUdpChecksum(b, 0);
}

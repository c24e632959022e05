/**
 * A link or LAN: every interface attached to it can reach every other in one
 * hop (a switch, without ARP). Each delivery takes the link's delay (plus
 * jitter, if any) and may be lost with the link's loss probability.
 */
import type { VirtualScheduler } from './scheduler.js';

/** An interface as a segment sees it (a SimInterface is one): its addresses, and the node that receives for it. */
export interface SegmentAttachment {
  readonly addrs: readonly number[];
  readonly node: { receive(packet: Uint8Array, iface: SegmentAttachment): void };
}

export interface LinkOptions {
  /** One-way delay in ms (default 1). */
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs): reorders packets when large. */
  jitterMs?: number;
  /** Probability in [0, 1) that a packet is lost (default 0). */
  loss?: number;
  /** Largest IP packet the link carries (default 1500); bigger ones are dropped. */
  mtu?: number;
}

export type PacketTap = (segment: Segment, packet: Uint8Array, time: number) => void;

export class Segment {
  readonly delayMs: number;
  readonly jitterMs: number;
  loss: number;
  readonly mtu: number;
  private readonly byAddr = new Map<number, SegmentAttachment>();
  readonly interfaces: SegmentAttachment[] = [];
  delivered = 0;
  lost = 0;
  undeliverable = 0;

  constructor(
    readonly name: string,
    private readonly scheduler: VirtualScheduler,
    private readonly random: () => number,
    options: LinkOptions,
    private readonly tap: () => PacketTap | null,
  ) {
    this.delayMs = options.delayMs ?? 1;
    this.jitterMs = options.jitterMs ?? 0;
    this.loss = options.loss ?? 0;
    this.mtu = options.mtu ?? 1500;
  }

  attach(iface: SegmentAttachment): void {
    for (const a of iface.addrs) {
      if (this.byAddr.has(a)) throw new Error(`address ${a} is already on segment ${this.name}`);
      this.byAddr.set(a, iface);
    }
    this.interfaces.push(iface);
  }

  /** Adds an address to an interface already attached (a NAT's extra public address). */
  alias(iface: SegmentAttachment, addr: number): void {
    if (this.byAddr.has(addr)) throw new Error(`address ${addr} is already on segment ${this.name}`);
    this.byAddr.set(addr, iface);
  }

  owner(addr: number): SegmentAttachment | undefined {
    return this.byAddr.get(addr);
  }

  /** Sends `packet` toward the interface holding `nextHop`. */
  transmit(from: SegmentAttachment, nextHop: number, packet: Uint8Array): void {
    const to = this.byAddr.get(nextHop);
    if (!to || to === from) {
      this.undeliverable++;
      return;
    }
    if (packet.length > this.mtu) {
      this.undeliverable++;
      return;
    }
    this.tap()?.(this, packet, this.scheduler.now());
    if (this.loss > 0 && this.random() < this.loss) {
      this.lost++;
      return;
    }
    const delay = this.delayMs + (this.jitterMs > 0 ? this.random() * this.jitterMs : 0);
    // The receiver owns its copy: senders may reuse their buffers.
    const copy = packet.slice();
    this.scheduler.setTimeout(() => {
      this.delivered++;
      to.node.receive(copy, to);
    }, delay);
  }
}

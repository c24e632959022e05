/**
 * A NAT box that hairpins: an inside packet addressed to one of the box's own
 * public addresses goes through the engine (which translates it out and back
 * in, RFC 4787 REQ-9) instead of being taken as addressed to the box itself.
 *
 * SimNatBox treats every packet for an address it owns as its own (it answers
 * pings and drops the rest), so with `hairpin: true` nothing hairpins there.
 * This subclass changes only that case; `addHairpinNat` builds one the way
 * `Simulator.nat` builds a SimNatBox. (Folding the check into SimNatBox itself
 * is the better fix; this file exists so the traversal tests need not wait.)
 */
import { parseIpv4Prefix, prefixToString } from '../../wire/address.js';
import { ipv4, ipv4Problem } from '../../wire/ipv4.js';
import { Side, Verdict } from '../../nat/engine.js';
import type { NatConfigInput } from '../../nat/config.js';
import type { NatBoxOptions, Simulator } from './network.js';
import { SimNatBox } from './nat-box.js';
import type { SimInterface } from './node.js';
import type { Segment } from './segment.js';
import type { VirtualScheduler } from './scheduler.js';

export class HairpinNatBox extends SimNatBox {
  constructor(
    name: string,
    private readonly clock: VirtualScheduler,
    random: () => number,
  ) {
    super(name, clock, random);
  }

  override receive(packet: Uint8Array, iface: SimInterface): void {
    if (
      iface.name !== 'out' &&
      packet.length >= 20 &&
      packet[0] >> 4 === 4 &&
      ipv4Problem(packet, 0, packet.length) === null &&
      !iface.addrs.includes(ipv4.dst(packet, 0)) &&
      this.engine.isPublic(ipv4.dst(packet, 0))
    ) {
      if (!this.decrementTtl(packet, iface)) return;
      const verdict = this.engine.process(packet, Side.Inside, this.clock.now());
      if (verdict === Verdict.Drop) this.droppedByEngine++;
      else this.send(this.engine.output);
      for (const e of this.engine.drainEmitted()) this.send(e.packet);
      return;
    }
    super.receive(packet, iface);
  }
}

/** Like `sim.nat(name, options)`, with a box that hairpins. Not registered under `sim.get(name)`. */
export function addHairpinNat(sim: Simulator, name: string, options: NatBoxOptions): HairpinNatBox {
  const n = new HairpinNatBox(name, sim.scheduler, sim.random(`nat:${name}`));
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
  n.start(config, options.onEvent);
  return n;
}

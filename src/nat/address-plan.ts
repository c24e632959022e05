/**
 * Which addresses are inside (the configured prefixes) and which are ours
 * (the public addresses): the first question about every packet, so both are
 * flat typed arrays scanned without allocation.
 */
import type { Ipv4Prefix } from '../wire/address.js';

export class AddressPlan {
  private readonly insideNets: Int32Array; // pairs of (network, mask)
  private readonly publicAddrs: Uint32Array;

  constructor(inside: readonly Ipv4Prefix[], publicAddrs: readonly number[]) {
    this.insideNets = new Int32Array(inside.length * 2);
    inside.forEach((p, i) => {
      this.insideNets[2 * i] = p.network | 0;
      this.insideNets[2 * i + 1] = p.mask | 0;
    });
    this.publicAddrs = Uint32Array.from(publicAddrs);
  }

  isInside(addr: number): boolean {
    const nets = this.insideNets;
    for (let i = 0; i < nets.length; i += 2) if ((addr & nets[i + 1]) === nets[i]) return true;
    return false;
  }

  isPublic(addr: number): boolean {
    const p = this.publicAddrs;
    for (let i = 0; i < p.length; i++) if (p[i] === addr) return true;
    return false;
  }
}

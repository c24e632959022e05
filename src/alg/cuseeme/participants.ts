/**
 * The CU-SeeMe participants behind this NAT, as the ALG has seen them: for
 * each flow it handles, the inside endpoint (the workstation's address and
 * port) and the public endpoint masq gave it. Several workstations share one
 * public address, each with its own public port, so a (public address, public
 * port) names exactly one of them: that is how an OpenContinue entry or a
 * relayed header naming our public address is taken back to the right
 * workstation, and how a workstation's mention of another one (by the inside
 * address it was told) is taken out under that one's public endpoint.
 *
 * Only flows this ALG handles are here, one record per flow, gone with the
 * flow (the engine's flow limits bound the table).
 */
import type { AlgFlow } from '../helper.js';

export interface Endpoint {
  addr: number;
  port: number;
}

interface FlowRecord {
  inKey: number;
  pubKey: number;
  pubAddr: number;
  remoteAddr: number;
}

interface PublicEndpoint {
  inside: Endpoint;
  /** Flows using this public endpoint (one per remote under endpoint-independent mapping). */
  flows: number;
}

const key = (addr: number, port: number) => addr * 0x10000 + port;

export class InsideParticipants {
  private readonly flows = new Map<number, FlowRecord>();
  private readonly byPublic = new Map<number, PublicEndpoint>();
  /** Inside endpoint -> the flows it has (to tell which public endpoint it uses toward a remote). */
  private readonly byInside = new Map<number, Set<number>>();
  /** Public address -> inside endpoints behind it, with how many flows each. */
  private readonly behindAddress = new Map<number, Map<number, number>>();

  get size(): number {
    return this.byInside.size;
  }

  /** Records a flow the first time the ALG sees it. */
  note(flow: AlgFlow): void {
    if (this.flows.has(flow.id)) return;
    const inKey = key(flow.insideAddr, flow.insidePort);
    const pubKey = key(flow.publicAddr, flow.publicPort);
    this.flows.set(flow.id, { inKey, pubKey, pubAddr: flow.publicAddr, remoteAddr: flow.remoteAddr });
    const pub = this.byPublic.get(pubKey);
    if (pub) pub.flows++;
    else this.byPublic.set(pubKey, { inside: { addr: flow.insideAddr, port: flow.insidePort }, flows: 1 });
    let mine = this.byInside.get(inKey);
    if (!mine) this.byInside.set(inKey, (mine = new Set()));
    mine.add(flow.id);
    let behind = this.behindAddress.get(flow.publicAddr);
    if (!behind) this.behindAddress.set(flow.publicAddr, (behind = new Map()));
    behind.set(inKey, (behind.get(inKey) ?? 0) + 1);
  }

  forget(flowId: number): void {
    const r = this.flows.get(flowId);
    if (!r) return;
    this.flows.delete(flowId);
    const pub = this.byPublic.get(r.pubKey)!;
    if (--pub.flows === 0) this.byPublic.delete(r.pubKey);
    const mine = this.byInside.get(r.inKey)!;
    mine.delete(flowId);
    if (mine.size === 0) this.byInside.delete(r.inKey);
    const behind = this.behindAddress.get(r.pubAddr)!;
    const n = behind.get(r.inKey)! - 1;
    if (n === 0) behind.delete(r.inKey);
    else behind.set(r.inKey, n);
    if (behind.size === 0) this.behindAddress.delete(r.pubAddr);
  }

  /** Whether some participant is behind this public address. */
  isPublicAddress(addr: number): boolean {
    return this.behindAddress.has(addr);
  }

  /** The workstation a public endpoint belongs to. */
  insideOf(pubAddr: number, pubPort: number): Endpoint | undefined {
    return this.byPublic.get(key(pubAddr, pubPort))?.inside;
  }

  /** The one workstation behind a public address, when there is exactly one (the 1999 case). */
  soleInsideBehind(pubAddr: number): Endpoint | undefined {
    const behind = this.behindAddress.get(pubAddr);
    if (!behind || behind.size !== 1) return undefined;
    const inKey = behind.keys().next().value as number;
    return { addr: Math.floor(inKey / 0x10000), port: inKey % 0x10000 };
  }

  /**
   * The public endpoint of a workstation, preferably the one it uses toward
   * `remoteAddr` (with address-dependent mapping it has one per remote).
   */
  publicOf(inAddr: number, inPort: number, remoteAddr: number): Endpoint | undefined {
    const mine = this.byInside.get(key(inAddr, inPort));
    if (!mine) return undefined;
    let chosen: FlowRecord | undefined;
    for (const id of mine) {
      const r = this.flows.get(id)!;
      if (chosen === undefined || r.remoteAddr === remoteAddr) chosen = r;
      if (r.remoteAddr === remoteAddr) break;
    }
    return chosen && { addr: chosen.pubAddr, port: chosen.pubKey % 0x10000 };
  }
}

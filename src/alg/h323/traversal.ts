/**
 * H.460.18/.19, the standard H.323 firewall traversal: the endpoint keeps
 * its own binding open from inside (RAS keep-alives, call signalling opened
 * outward on the gatekeeper's request, media keep-alives), and the vendors
 * that use it tell users to turn ALGs off, because an ALG that rewrites its
 * messages breaks it. An endpoint is a traversal endpoint when its
 * registration was granted feature 18, or its messages carry H.460.18/19
 * generic data; masq then passes its traffic untouched and opens nothing. A
 * flow that carried such a message is switched off for good.
 */

export class Traversal {
  /** Inside endpoint -> until when (clock ms) it counts as a traversal endpoint. */
  private readonly endpoints = new Map<number, number>();
  private readonly flowsOff = new Set<number>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.endpoints.size;
  }

  isEndpoint(insideAddr: number, now: number): boolean {
    const until = this.endpoints.get(insideAddr);
    if (until === undefined) return false;
    if (until > now) return true;
    this.endpoints.delete(insideAddr);
    return false;
  }

  /** Marks an endpoint; returns whether it is new. */
  markEndpoint(insideAddr: number, until: number): boolean {
    const known = this.endpoints.has(insideAddr);
    if (!known && this.endpoints.size >= this.max) this.endpoints.delete(this.endpoints.keys().next().value!);
    this.endpoints.set(insideAddr, Math.max(until, this.endpoints.get(insideAddr) ?? 0));
    return !known;
  }

  forgetEndpoint(insideAddr: number): void {
    this.endpoints.delete(insideAddr);
  }

  switchOff(flow: number): void {
    this.flowsOff.add(flow);
  }

  isOff(flow: number): boolean {
    return this.flowsOff.has(flow);
  }

  forgetFlow(flow: number): void {
    this.flowsOff.delete(flow);
  }
}

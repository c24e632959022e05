/**
 * Endpoints registered with a gatekeeper through masq (RAS, UDP 1719). An
 * RRQ names the endpoint's call signalling ports; the ALG announces public
 * ports for them and, once the gatekeeper confirms (RCF with the same
 * requestSeqNum, DESIGN safety rule 6), opens a pinhole on each that admits
 * incoming calls for the granted time to live. Keep-alive RRQs refresh it;
 * an URQ, from either side, closes it.
 */

/** A call signalling port of a registered endpoint and its public endpoint. */
export interface RegisteredPort {
  insidePort: number;
  publicAddr: number;
  publicPort: number;
  /** The pinhole's expectation id, 0 before the gatekeeper confirmed. */
  expectation: number;
}

export class Registration {
  readonly ports: RegisteredPort[] = [];
  constructor(
    readonly insideAddr: number,
    public gatekeeper: number,
    readonly group: string,
  ) {}
}

/** An RRQ waiting for its confirmation. */
export interface PendingRrq {
  gatekeeper: number;
  ports: RegisteredPort[];
  keepAlive: boolean;
  /** The RRQ offered H.460.18: a confirmation granting it makes the endpoint a traversal endpoint. */
  traversalOffered: boolean;
}

export class Registrations {
  private readonly byEndpoint = new Map<number, Registration>();
  private readonly pending = new Map<number, PendingRrq>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byEndpoint.size;
  }

  get(insideAddr: number): Registration | undefined {
    return this.byEndpoint.get(insideAddr);
  }

  /** The registration of an endpoint, made when first confirmed; the oldest is forgotten past the bound (returned for its pinholes). */
  obtain(insideAddr: number, gatekeeper: number): { reg: Registration; evicted: Registration | null } {
    const known = this.byEndpoint.get(insideAddr);
    if (known) {
      known.gatekeeper = gatekeeper;
      return { reg: known, evicted: null };
    }
    let evicted: Registration | null = null;
    if (this.byEndpoint.size >= this.max) {
      evicted = this.byEndpoint.values().next().value!;
      this.byEndpoint.delete(evicted.insideAddr);
    }
    const reg = new Registration(insideAddr, gatekeeper, `reg-${insideAddr >>> 0}`);
    this.byEndpoint.set(insideAddr, reg);
    return { reg, evicted };
  }

  remove(insideAddr: number): Registration | undefined {
    const reg = this.byEndpoint.get(insideAddr);
    if (reg) this.byEndpoint.delete(insideAddr);
    return reg;
  }

  /** The public endpoint announced for one of an endpoint's call signalling ports, if registered. */
  publicPortOf(insideAddr: number, insidePort: number): RegisteredPort | undefined {
    return this.byEndpoint.get(insideAddr)?.ports.find((p) => p.insidePort === insidePort);
  }

  expectConfirm(insideAddr: number, seq: number, rrq: PendingRrq): void {
    const key = insideAddr * 65536 + seq;
    if (!this.pending.has(key) && this.pending.size >= this.max) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(key, rrq);
  }

  /** The RRQ a confirmation or rejection answers (taken out), if any. */
  takePending(insideAddr: number, seq: number): PendingRrq | undefined {
    const key = insideAddr * 65536 + seq;
    const p = this.pending.get(key);
    if (p) this.pending.delete(key);
    return p;
  }
}

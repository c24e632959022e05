/**
 * One H.323 call as the ALG tracks it: the call signalling connection and
 * call reference it runs on, the inside endpoint and its peer, and the
 * pinholes the call opened (one group, so that the end of the call removes
 * them all): the H.245 connection, RTP/RTCP pairs, T.120.
 *
 * A Q.931 connection may carry several calls (H.225.0 multipleCalls), each
 * with its own call reference; a call is keyed by both. Calls are bounded in
 * number, each inside host's apart: a host at its own bound forgets its own
 * oldest call, and only a table full of many hosts' calls forgets the oldest
 * of all. One endpoint flooding Setups then turns over its own calls, never
 * another endpoint's. A forgotten call is ended with its pinholes, so nothing
 * stays open that no state describes.
 */
import type { ExpectationClass } from '../../nat/expectations.js';

/** Public ports of one RTP/RTCP pair, by the even inside port; null: refused (the address is left as written). */
export interface MediaPair {
  publicAddr: number;
  rtp: number;
  rtcp: number;
}

/**
 * A call's expectations are in one group per traffic class: the call's own
 * name for signalling (H.245; its H.245 connection knows the call by it),
 * and one per medium. The engine caps each group (limits.expectationsPerGroup),
 * and the ALG's policy caps each class per group, so a call may hold a full
 * set of audio, video and data channels at once; the call's end ends each
 * group it used.
 */
const CLASS_BIT: Readonly<Record<ExpectationClass, number>> = { signalling: 1, audio: 2, video: 4, data: 8 };

export class CallState {
  /** The H.245 pinhole this call opened: its inside port and public endpoint. */
  h245: { insidePort: number; publicAddr: number; publicPort: number } | null = null;
  /** RTP/RTCP pairs by even inside port. */
  readonly pairs = new Map<number, MediaPair>();
  /** The call's H.245 connection, once it carried a message (-1: none yet). */
  h245Flow = -1;
  /** The call signalling connection closed while H.245 went on (H.323 allows it): the call ends with its H.245. */
  signallingGone = false;
  // What most calls never need is made on first use: a call is made per Setup, and each map costs.
  /** Remote endpoints the inside host was told to dial for H.245 (one outbound expectation each). */
  private dialled_: Set<number> | null = null;
  /** T.120 pinholes by inside port: the public port. */
  private t120_: Map<number, number> | null = null;
  /** Traffic class of the peer's logical channels (by channel number), for the pinholes of the inside host's acknowledgement. */
  private channelClass_: Map<number, ExpectationClass> | null = null;
  /** Group names by class, made once per call (not a new string per pinhole), and which ones pinholes went into. */
  private audioGroup = '';
  private videoGroup = '';
  private dataGroup = '';
  private usedGroups = 0;

  constructor(
    /** The call reference (with the flow, the call's identity). */
    readonly crv: number,
    readonly group: string,
    /** The Q.931 flow. */
    readonly flow: number,
    readonly insideAddr: number,
    /** The signalling peer: media and H.245 are admitted from it. */
    readonly peer: number,
  ) {}

  get dialled(): Set<number> {
    return (this.dialled_ ??= new Set());
  }

  get t120(): Map<number, number> {
    return (this.t120_ ??= new Map());
  }

  get channelClass(): Map<number, ExpectationClass> {
    return (this.channelClass_ ??= new Map());
  }

  /** The group for a pinhole of class `cls`, noted as used (the call's end ends it). */
  groupOf(cls: ExpectationClass): string {
    this.usedGroups |= CLASS_BIT[cls];
    switch (cls) {
      case 'signalling':
        return this.group;
      case 'audio':
        return (this.audioGroup ||= `${this.group}/audio`);
      case 'video':
        return (this.videoGroup ||= `${this.group}/video`);
      default:
        return (this.dataGroup ||= `${this.group}/data`);
    }
  }

  /**
   * The groups the call's pinholes went into. A group that never had a
   * pinhole has no flows either (a flow joins a group through a pinhole).
   */
  groups(): string[] {
    const out: string[] = [];
    if (this.usedGroups & CLASS_BIT.signalling) out.push(this.group);
    if (this.usedGroups & CLASS_BIT.audio) out.push(this.audioGroup);
    if (this.usedGroups & CLASS_BIT.video) out.push(this.videoGroup);
    if (this.usedGroups & CLASS_BIT.data) out.push(this.dataGroup);
    return out;
  }
}

/** Why a call was forgotten to make room: its host at its own bound, or the whole table full. */
export type EvictedBy = 'host' | 'table';

export class Calls {
  /** Every call by its group name, oldest first (the table's order for eviction). */
  private readonly byGroup = new Map<string, CallState>();
  /**
   * The calls on each Q.931 flow, by call reference: two small-integer keys
   * (flow id, then call reference), where one number made of both would be
   * a heap number to a Map, made anew on every lookup.
   */
  private readonly byFlow = new Map<number, Map<number, CallState>>();
  /** Each inside host's calls, oldest first. */
  private readonly byHost = new Map<number, Set<CallState>>();
  private serial = 0;

  constructor(
    private readonly max: number,
    private readonly maxPerHost: number = max,
  ) {}

  get size(): number {
    return this.byGroup.size;
  }

  /** The call on Q.931 flow `flow` with call reference `crv`. */
  get(flow: number, crv: number): CallState | undefined {
    return this.byFlow.get(flow)?.get(crv);
  }

  ofGroup(group: string): CallState | undefined {
    return this.byGroup.get(group);
  }

  /**
   * The call, made when first seen. Returns the call evicted to make room
   * (its pinholes must be removed by the caller) and why, or null: the
   * host's own oldest when the host is at its bound, else the oldest of all
   * when the table is full.
   */
  obtain(flow: number, crv: number, insideAddr: number, peer: number): { call: CallState; evicted: CallState | null; evictedBy: EvictedBy | null; created: boolean } {
    let onFlow = this.byFlow.get(flow);
    const known = onFlow?.get(crv);
    if (known) return { call: known, evicted: null, evictedBy: null, created: false };
    let evicted: CallState | null = null;
    let evictedBy: EvictedBy | null = null;
    let mine = this.byHost.get(insideAddr);
    if (mine && mine.size >= this.maxPerHost) {
      evicted = mine.values().next().value!;
      evictedBy = 'host';
    } else if (this.byGroup.size >= this.max) {
      evicted = this.byGroup.values().next().value!;
      evictedBy = 'table';
    }
    if (evicted) {
      this.remove(evicted);
      if (evicted.insideAddr === insideAddr) mine = this.byHost.get(insideAddr);
      if (evicted.flow === flow) onFlow = this.byFlow.get(flow);
    }
    const call = new CallState(crv, `call-${++this.serial}`, flow, insideAddr, peer);
    this.byGroup.set(call.group, call);
    if (!onFlow) this.byFlow.set(flow, (onFlow = new Map()));
    onFlow.set(crv, call);
    if (!mine) this.byHost.set(insideAddr, (mine = new Set()));
    mine.add(call);
    return { call, evicted, evictedBy, created: true };
  }

  remove(call: CallState): void {
    if (this.byGroup.get(call.group) !== call) return;
    this.byGroup.delete(call.group);
    const onFlow = this.byFlow.get(call.flow);
    if (onFlow?.get(call.crv) === call) {
      onFlow.delete(call.crv);
      if (onFlow.size === 0) this.byFlow.delete(call.flow);
    }
    const mine = this.byHost.get(call.insideAddr);
    if (mine?.delete(call) && mine.size === 0) this.byHost.delete(call.insideAddr);
  }

  /** How many calls inside host `insideAddr` has. */
  ofHost(insideAddr: number): number {
    return this.byHost.get(insideAddr)?.size ?? 0;
  }

  /** Every call on a Q.931 flow. */
  onFlow(flow: number): CallState[] {
    const onFlow = this.byFlow.get(flow);
    return onFlow ? [...onFlow.values()] : [];
  }
}

/**
 * What the proxy remembers of each INVITE dialog it record-routed: enough
 * to hang the call up from the middle (a BYE to each side, RFC 3261 12.2.1)
 * when its media times out or it outlives the longest call allowed: both
 * parties' URIs with their tags, Contacts and route sets beyond the proxy,
 * the flows toward them, and the CSeq each side used last.
 */
import type { Flow } from './flow.js';

export interface DialogSide {
  /** The From (caller) or To (callee) header value as written, tag included once known. */
  nameAddr: string;
  tag: string | null;
  /** The side's Contact URI (its remote target). */
  contact: string | null;
  /** Route set from the proxy toward this side (URIs with <>), nearest first. */
  routes: string[];
  /** The next hop toward this side. */
  flow: Flow | null;
  /** Highest CSeq this side has used in the dialog (0: none seen). */
  cseq: number;
}

export interface Dialog {
  callId: string;
  caller: DialogSide;
  callee: DialogSide;
  confirmed: boolean;
  createdAt: number;
}

export class Dialogs {
  private readonly byCallId = new Map<string, Dialog>();

  constructor(private readonly max = 200_000) {}

  get size(): number {
    return this.byCallId.size;
  }

  get(callId: string): Dialog | undefined {
    return this.byCallId.get(callId);
  }

  add(d: Dialog): boolean {
    if (this.byCallId.size >= this.max && !this.byCallId.has(d.callId)) return false;
    this.byCallId.set(d.callId, d);
    return true;
  }

  delete(callId: string): Dialog | undefined {
    const d = this.byCallId.get(callId);
    this.byCallId.delete(callId);
    return d;
  }

  /** Which side sent a request in the dialog: by its From tag. */
  sideOf(d: Dialog, fromTag: string | null): 'caller' | 'callee' | null {
    if (fromTag !== null && fromTag === d.caller.tag) return 'caller';
    if (fromTag !== null && fromTag === d.callee.tag) return 'callee';
    return null;
  }

  values(): IterableIterator<Dialog> {
    return this.byCallId.values();
  }
}

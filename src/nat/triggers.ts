/**
 * Port triggers: outbound traffic to a trigger port (an IRC server's 6667, a
 * game lobby) forwards a range of public ports to the inside host that sent it,
 * the last one to use it, for as long as it stays active: traffic on the trigger
 * flows or on the opened ports refreshes it (or, with `refreshByUse` false, as
 * ipautofw without -u, only traffic to the trigger port); after the idle
 * timeout it closes. Optionally only the remote the host contacted may use the
 * opened ports.
 */
import type { ResolvedTrigger } from './config.js';

export interface ActiveTrigger {
  insideAddr: number;
  publicAddr: number;
  remoteAddr: number;
  lastActivity: number;
}

export class TriggerTable {
  private readonly active: (ActiveTrigger | null)[];

  constructor(readonly rules: readonly ResolvedTrigger[]) {
    this.active = rules.map(() => null);
  }

  get any(): boolean {
    return this.rules.length > 0;
  }

  get anyActive(): boolean {
    return this.active.some((a) => a !== null);
  }

  /** The rule an outbound packet to remPort fires, or -1. */
  ruleFor(proto: number, remPort: number): number {
    for (const r of this.rules) if (r.proto === proto && remPort >= r.first && remPort <= r.last) return r.index;
    return -1;
  }

  /**
   * Records activity on rule `i` by inAddr toward remAddr. Returns true when this
   * (re)assigned the trigger to a new host or reopened it (worth an event).
   */
  fire(i: number, inAddr: number, pubAddr: number, remAddr: number, now: number): boolean {
    const cur = this.active[i];
    const live = cur !== null && cur.lastActivity + this.rules[i].idleMs > now;
    if (live && cur.insideAddr === inAddr && cur.remoteAddr === remAddr) {
      cur.lastActivity = now;
      return false;
    }
    this.active[i] = { insideAddr: inAddr, publicAddr: pubAddr, remoteAddr: remAddr, lastActivity: now };
    return true;
  }

  /** Keeps a trigger alive; one already idle past its timeout stays closed. */
  touch(i: number, now: number): void {
    const cur = this.active[i];
    if (cur && cur.lastActivity + this.rules[i].idleMs > now) cur.lastActivity = now;
  }

  /** Traffic on an opened port keeps the trigger alive, unless only the trigger port's traffic does. */
  touchByUse(i: number, now: number): void {
    if (this.rules[i].refreshByUse !== false) this.touch(i, now);
  }

  /** The live trigger that opens (proto, pubAddr, pubPort) to remAddr, or -1. */
  matchInbound(proto: number, pubAddr: number, pubPort: number, remAddr: number, now: number): number {
    for (const r of this.rules) {
      if (pubPort < r.openFirst || pubPort > r.openLast || !r.openProtos.includes(proto)) continue;
      const a = this.active[r.index];
      if (!a || a.publicAddr !== pubAddr || a.lastActivity + r.idleMs <= now) continue;
      if (r.onlyFromContacted && a.remoteAddr !== remAddr) continue;
      return r.index;
    }
    return -1;
  }

  /**
   * Outbound traffic on a trigger flow (to remPort): keeps the trigger alive if
   * it is still this host's; reopens it for this host if it lapsed (as every
   * packet to an ipautofw control port did). Returns the rule when it
   * reopened (worth an event), else -1. A live trigger another host took
   * since stays with that host: the last new flow to the trigger port holds it.
   */
  refreshFromOutbound(proto: number, remPort: number, inAddr: number, pubAddr: number, remAddr: number, now: number): number {
    const rule = this.ruleFor(proto, remPort);
    if (rule < 0) return -1;
    const a = this.active[rule];
    const live = a !== null && a.lastActivity + this.rules[rule].idleMs > now;
    if (live) {
      if (a.insideAddr === inAddr) a.lastActivity = now;
      return -1;
    }
    this.active[rule] = { insideAddr: inAddr, publicAddr: pubAddr, remoteAddr: remAddr, lastActivity: now };
    return rule;
  }

  /** Traffic from outside on an opened port keeps the trigger alive. */
  refreshFromInbound(proto: number, pubAddr: number, pubPort: number, now: number): void {
    for (const r of this.rules) {
      if (pubPort >= r.openFirst && pubPort <= r.openLast && r.openProtos.includes(proto)) {
        const a = this.active[r.index];
        if (a && a.publicAddr === pubAddr) this.touchByUse(r.index, now);
      }
    }
  }

  get(i: number): ActiveTrigger | null {
    return this.active[i];
  }

  /** Closes triggers idle past their timeout; returns what closed. */
  expire(now: number): Array<{ rule: number; trigger: ActiveTrigger }> {
    const out: Array<{ rule: number; trigger: ActiveTrigger }> = [];
    this.active.forEach((a, i) => {
      if (a && a.lastActivity + this.rules[i].idleMs <= now) {
        out.push({ rule: i, trigger: a });
        this.active[i] = null;
      }
    });
    return out;
  }

  /** Every (proto, port) a rule may open: held in every public pool so dynamic mappings avoid them. */
  *claims(): IterableIterator<[number, number]> {
    for (const r of this.rules) for (const proto of r.openProtos) for (let p = r.openFirst; p <= r.openLast; p++) yield [proto, p];
  }
}

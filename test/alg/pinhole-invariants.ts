/**
 * What every ALG's pinholes must satisfy (DESIGN safety rules 3 to 5), checked
 * on the engine's expectation table after each message: a new pinhole goes
 * only to the inside host the message travelled for, never to a port below
 * 1024 (nor 0), admits only outside addresses, and every cap holds (per class
 * per call, per class for the ALG, per call, per inside host, in all). Used by
 * the property tests in test/alg/ and by the fuzz targets in bench/fuzz/.
 */
import type { ExpectationPolicy } from '../../src/alg/definition.js';
import type { NatEngine } from '../../src/nat/engine.js';
import type { Expectation } from '../../src/nat/expectations.js';
import { EXPECTATION_CLASSES } from '../../src/nat/expectations.js';
import { ipv4ToString } from '../../src/wire/address.js';

export class PinholeViolation extends Error {
  override name = 'PinholeViolation';
}

export interface PinholeRules {
  /** The ALG's name (the helper the expectations carry). */
  alg: string;
  policy: ExpectationPolicy;
  /** The ALG may open pinholes admitting any remote address (SIP's `media: any`). */
  anyRemote?: boolean;
}

function fail(message: string, e?: Expectation): never {
  const where = e ? ` (pinhole ${e.id}: inside ${ipv4ToString(e.insideAddr)}:${e.insidePort}, public ${ipv4ToString(e.publicAddr)}:${e.publicPort}, remote ${ipv4ToString(e.remoteAddr)}:${e.remotePort}, ${e.direction} ${e.cls}, group ${JSON.stringify(e.group)}, "${e.reason}")` : '';
  throw new PinholeViolation(message + where);
}

/** Remembers which pinholes were there and whom they admitted, to tell the ones a message opened or changed. */
export class PinholeWatch {
  /** Pinhole id -> the remote it admitted (address and port as one number, no string built per pinhole). */
  private readonly known = new Map<number, number>();

  constructor(private readonly engine: NatEngine) {
    this.fresh();
  }

  /** The pinholes opened, or narrowed to another remote, since the last call. */
  fresh(): Expectation[] {
    const now = this.engine.expectations.list();
    const out: Expectation[] = [];
    for (const e of now) {
      const remote = e.remoteAddr * 0x10000 + e.remotePort;
      if (this.known.get(e.id) !== remote) {
        out.push(e);
        this.known.set(e.id, remote);
      }
    }
    // Some left the table: forget them (ids are never reused, so a stale entry would only cost memory).
    if (this.known.size > now.length) {
      const live = new Set(now.map((e) => e.id));
      for (const id of this.known.keys()) if (!live.has(id)) this.known.delete(id);
    }
    return out;
  }
}

/**
 * The pinholes `fresh` were opened (or narrowed) by one message of a flow
 * whose inside host is `sender` and whose remote is `peer`: each must be for
 * that host, on a port of 1024 or above, and admit only an outside address
 * (our own public address only when the peer itself is hairpinned from it).
 * Then the caps over the whole table.
 */
export function checkPinholes(engine: NatEngine, sender: number, fresh: readonly Expectation[], rules: PinholeRules, peer = 0): void {
  for (const e of fresh) {
    if (e.helper !== rules.alg) continue;
    if (e.insideAddr !== sender) fail(`a pinhole toward ${ipv4ToString(e.insideAddr)}, not the sender ${ipv4ToString(sender)}`, e);
    if (!engine.isInside(e.insideAddr)) fail('a pinhole toward an address that is not inside', e);
    if (e.direction === 'inbound') {
      if (e.insidePort < 1024) fail(`a pinhole to inside port ${e.insidePort} (below 1024)`, e);
      if (e.publicPort < 1024) fail(`a pinhole on public port ${e.publicPort} (below 1024)`, e);
      if (!engine.isPublic(e.publicAddr)) fail('a pinhole on an address that is not ours', e);
      if (e.remoteAddr === 0 && !rules.anyRemote) fail('a pinhole admitting any remote address', e);
    }
    if (e.remoteAddr !== 0 && (engine.isInside(e.remoteAddr) || (engine.isPublic(e.remoteAddr) && e.remoteAddr !== peer))) {
      fail(`a pinhole admitting ${ipv4ToString(e.remoteAddr)}, which is not outside`, e);
    }
  }
  checkCaps(engine, rules);
}

/** Every cap of the ALG's policy and of the engine holds over the whole table. */
export function checkCaps(engine: NatEngine, rules: PinholeRules): void {
  const limits = engine.config.limits;
  const all = engine.expectations.list();
  if (all.length > limits.expectations) fail(`${all.length} pinholes, over the table's ${limits.expectations}`);
  const perHost = new Map<number, number>();
  const perGroup = new Map<string, number>();
  const perGroupClass = new Map<string, number>();
  const perClass = new Map<string, number>();
  for (const e of all) {
    perHost.set(e.insideAddr, (perHost.get(e.insideAddr) ?? 0) + 1);
    if (e.helper !== rules.alg) continue;
    perGroup.set(e.group, (perGroup.get(e.group) ?? 0) + 1);
    perGroupClass.set(`${e.group}\u0000${e.cls}`, (perGroupClass.get(`${e.group}\u0000${e.cls}`) ?? 0) + 1);
    perClass.set(e.cls, (perClass.get(e.cls) ?? 0) + 1);
  }
  for (const [host, n] of perHost) if (n > limits.expectationsPerHost) fail(`${n} pinholes toward ${ipv4ToString(host)}, over the per-host ${limits.expectationsPerHost}`);
  for (const [group, n] of perGroup) if (n > limits.expectationsPerGroup) fail(`${n} pinholes in group ${JSON.stringify(group)}, over the per-group ${limits.expectationsPerGroup}`);
  for (const cls of EXPECTATION_CLASSES) {
    const p = rules.policy[cls];
    const n = perClass.get(cls) ?? 0;
    if (!p) {
      if (n > 0) fail(`${n} ${cls} pinholes, a class the ALG's policy leaves out`);
      continue;
    }
    if (n > p.total) fail(`${n} ${cls} pinholes, over the ALG's ${p.total}`);
  }
  for (const [key, n] of perGroupClass) {
    const [group, cls] = key.split('\u0000');
    const p = rules.policy[cls as keyof ExpectationPolicy];
    if (p && n > p.perGroup) fail(`${n} ${cls} pinholes in group ${JSON.stringify(group)}, over the ALG's ${p.perGroup} per group`);
  }
}

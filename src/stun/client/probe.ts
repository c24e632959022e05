/**
 * NAT behaviour discovery (RFC 5780 section 4) from where it runs, against an
 * RFC 5780 server (one that reports OTHER-ADDRESS and honours CHANGE-REQUEST).
 *
 * - Mapping (4.3): from one socket, Binding to the primary address, to the
 *   alternate IP with the primary port, and to the alternate IP and port;
 *   compare the mapped addresses.
 * - Filtering (4.4): from fresh sockets (so no earlier test opened the NAT to
 *   the alternate address), ask the server to answer from the other IP and
 *   port, or from the other port only.
 * - Hairpinning (4.5): send a Binding request to our own mapped address.
 * - Mapping lifetime (4.6, optional): binary search for how long an idle
 *   mapping lives, using RESPONSE-PORT from a second socket to reach the first.
 * - Port preservation: is the mapped port the local port?
 *
 * Independent tests run in parallel, each on its own socket.
 */
import type { Endpoint, NetEnv } from '../../net/udp.js';
import { getAttribute } from '../message.js';
import type { StunAttribute } from '../attributes.js';
import { canonicalIp } from '../ip-address.js';
import { RFC8489_RETRANSMIT, StunClientSocket, StunTimeoutError, type RetransmitPolicy, type StunAnswer } from './transaction.js';

export type NatBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export interface ProbeTestRecord {
  name: string;
  from: Endpoint;
  to: Endpoint;
  change?: { ip: boolean; port: boolean };
  /** 'answered' with the mapped address and the answer's source, or 'no-answer'. */
  result: 'answered' | 'no-answer' | 'error';
  mapped?: Endpoint;
  answeredFrom?: Endpoint;
  elapsedMs?: number;
  error?: string;
}

export interface BehaviourVerdict<T> {
  /** null when the tests could not tell; `reason` says why. */
  value: T | null;
  reason?: string;
}

export interface MappingLifetime {
  /** The mapping was still alive after this long idle. */
  aliveAfterMs: number;
  /** It was gone after this long; null when it outlived the search bound. */
  goneAfterMs: number | null;
}

export interface NatBehaviourResult {
  server: Endpoint;
  /** The server's OTHER-ADDRESS; null when it is not an RFC 5780 server. */
  otherAddress: Endpoint | null;
  local: Endpoint;
  mapped: Endpoint | null;
  /** No answer at all to a plain Binding request. */
  udpBlocked: boolean;
  /** Mapped address differs from the local one; null when the local address is a wildcard. */
  natDetected: boolean | null;
  mapping: BehaviourVerdict<NatBehaviour>;
  filtering: BehaviourVerdict<NatBehaviour>;
  hairpinning: BehaviourVerdict<boolean>;
  portPreservation: BehaviourVerdict<boolean>;
  /**
   * MAPPED-ADDRESS differs from XOR-MAPPED-ADDRESS in the same answer: something
   * on the path (an ALG) rewrote the address it found in the payload.
   */
  mappedAddressRewritten: BehaviourVerdict<boolean>;
  /** Present when asked for. */
  mappingLifetime?: BehaviourVerdict<MappingLifetime>;
  tests: ProbeTestRecord[];
}

export interface ProbeOptions {
  retransmit?: Partial<RetransmitPolicy>;
  /** Local address to bind (needed to tell "no NAT" from NAT when the default is a wildcard). */
  localAddress?: string;
  /** Run the hairpinning test. Default true. */
  hairpinning?: boolean;
  /** Search the mapping lifetime (slow: a few multiples of maxMs). Off by default. */
  lifetime?: { maxMs: number; resolutionMs: number } | false;
  /** 12-byte transaction ids; default env.random(). Real networks: pass crypto.randomBytes. */
  transactionIds?: () => Uint8Array;
  /** Told when each test starts and when it ends (progress for a person waiting: an unanswered test takes the whole retransmission budget). */
  onTest?: (record: ProbeTestRecord, phase: 'start' | 'end') => void;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export async function probeNatBehaviour(env: NetEnv, server: Endpoint, options: ProbeOptions = {}): Promise<NatBehaviourResult> {
  const policy: RetransmitPolicy = { ...RFC8489_RETRANSMIT, ...options.retransmit };
  const tests: ProbeTestRecord[] = [];
  const sockets: StunClientSocket[] = [];
  const open = async () => {
    const s = await StunClientSocket.open(env, policy, options.localAddress, options.transactionIds);
    sockets.push(s);
    return s;
  };
  const run = (name: string, s: StunClientSocket, to: Endpoint, attrs: StunAttribute[] = []) =>
    binding(tests, name, s, to, attrs, options.onTest);

  try {
    const a = await open();
    const local = a.local;
    // SOFTWARE makes the request big enough for the server to afford MAPPED-ADDRESS as well
    // (servers bound their answers to a multiple of the request's size).
    const t1 = await run('mapping: primary address', a, server, [{ type: 'SOFTWARE', value: 'masq stun probe' }]);
    const unknown = (reason: string) => ({ value: null, reason });
    if (!t1) {
      return {
        server,
        otherAddress: null,
        local,
        mapped: null,
        udpBlocked: true,
        natDetected: null,
        mapping: unknown('no answer from the server'),
        filtering: unknown('no answer from the server'),
        hairpinning: unknown('no answer from the server'),
        portPreservation: unknown('no answer from the server'),
        mappedAddressRewritten: unknown('no answer from the server'),
        ...(options.lifetime ? { mappingLifetime: unknown('no answer from the server') } : {}),
        tests,
      };
    }
    const ma1 = mappedOf(t1);
    const other = getAttribute(t1.message, 'OTHER-ADDRESS')?.address ?? null;
    const natDetected = ma1 === null || WILDCARDS.has(local.address) ? null : !sameAddress(ma1, local);
    const portPreservation: BehaviourVerdict<boolean> = ma1 ? { value: ma1.port === local.port } : unknown('no mapped address');
    const plain = getAttribute(t1.message, 'MAPPED-ADDRESS')?.address;
    const xored = getAttribute(t1.message, 'XOR-MAPPED-ADDRESS')?.address;
    const mappedAddressRewritten: BehaviourVerdict<boolean> =
      plain && xored ? { value: !sameAddress(plain, xored) } : unknown('the server sent only one form of the mapped address');

    const mappingP = other && ma1 ? mappingBehaviour(run, a, server, other, ma1) : Promise.resolve(unknown(noRfc5780(other, ma1)));
    const filteringP = other ? filteringBehaviour(run, open, server, other) : Promise.resolve(unknown(noRfc5780(other, ma1)));
    const [mapping, filtering] = await Promise.all([mappingP, filteringP]);
    // After the mapping tests: a hairpin send from the same socket must not disturb them.
    const hairpinning: BehaviourVerdict<boolean> =
      options.hairpinning === false ? unknown('not tested') : ma1 ? await hairpin(tests, a, ma1) : unknown('no mapped address');
    const result: NatBehaviourResult = {
      server,
      otherAddress: other,
      local,
      mapped: ma1,
      udpBlocked: false,
      natDetected,
      mapping,
      filtering,
      hairpinning,
      portPreservation,
      mappedAddressRewritten,
      tests,
    };
    if (options.lifetime) {
      result.mappingLifetime = ma1 ? await mappingLifetime(env, run, open, server, options.lifetime) : unknown('no mapped address');
    }
    return result;
  } finally {
    for (const s of sockets) s.close();
  }
}

type Run = (name: string, s: StunClientSocket, to: Endpoint, attrs?: StunAttribute[]) => Promise<StunAnswer | null>;

function noRfc5780(other: Endpoint | null, ma1: Endpoint | null): string {
  if (!ma1) return 'the server gave no mapped address';
  return other ? 'unknown' : 'the server did not report OTHER-ADDRESS (not an RFC 5780 server)';
}

function sameAddress(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && canonicalIp(a.address) === canonicalIp(b.address);
}

function mappedOf(answer: StunAnswer): Endpoint | null {
  return getAttribute(answer.message, 'XOR-MAPPED-ADDRESS')?.address ?? getAttribute(answer.message, 'MAPPED-ADDRESS')?.address ?? null;
}

async function binding(
  tests: ProbeTestRecord[],
  name: string,
  s: StunClientSocket,
  to: Endpoint,
  attrs: StunAttribute[],
  onTest?: ProbeOptions['onTest'],
): Promise<StunAnswer | null> {
  const rec = startRecord(tests, name, s, to, attrs);
  onTest?.(rec, 'start');
  try {
    return await answerInto(rec, s, to, attrs);
  } finally {
    onTest?.(rec, 'end');
  }
}

function startRecord(tests: ProbeTestRecord[], name: string, s: StunClientSocket, to: Endpoint, attrs: StunAttribute[]): ProbeTestRecord {
  const change = attrs.find((x) => x.type === 'CHANGE-REQUEST');
  const rec: ProbeTestRecord = {
    name,
    from: s.local,
    to,
    ...(change && change.type === 'CHANGE-REQUEST' ? { change: { ip: change.changeIp, port: change.changePort } } : {}),
    result: 'no-answer',
  };
  tests.push(rec);
  return rec;
}

async function answerInto(rec: ProbeTestRecord, s: StunClientSocket, to: Endpoint, attrs: StunAttribute[]): Promise<StunAnswer | null> {
  try {
    const answer = await s.request(to, attrs);
    rec.answeredFrom = answer.from;
    rec.elapsedMs = answer.elapsedMs;
    const err = getAttribute(answer.message, 'ERROR-CODE');
    if (answer.message.cls === 'error') {
      rec.result = 'error';
      rec.error = err ? `${err.code} ${err.reason}` : 'error response';
      return null;
    }
    rec.result = 'answered';
    const m = mappedOf(answer);
    if (m) rec.mapped = m;
    return answer;
  } catch (e) {
    if (e instanceof StunTimeoutError) return null;
    rec.result = 'error';
    rec.error = e instanceof Error ? e.message : String(e);
    return null;
  }
}

async function mappingBehaviour(run: Run, a: StunClientSocket, server: Endpoint, other: Endpoint, ma1: Endpoint): Promise<BehaviourVerdict<NatBehaviour>> {
  const t2 = await run('mapping: alternate address, primary port', a, { address: other.address, port: server.port });
  const ma2 = t2 && mappedOf(t2);
  if (!ma2) return { value: null, reason: 'no answer from the alternate address' };
  if (sameAddress(ma2, ma1)) return { value: 'endpoint-independent' };
  const t3 = await run('mapping: alternate address and port', a, other);
  const ma3 = t3 && mappedOf(t3);
  if (!ma3) return { value: null, reason: 'no answer from the alternate address and port' };
  return { value: sameAddress(ma3, ma2) ? 'address-dependent' : 'address-and-port-dependent' };
}

async function filteringBehaviour(
  run: Run,
  open: () => Promise<StunClientSocket>,
  server: Endpoint,
  other: Endpoint,
): Promise<BehaviourVerdict<NatBehaviour>> {
  // Both filtering tests at once, each on a socket that has only talked to the primary address.
  const test = async (name: string, changeIp: boolean, expectFrom: Endpoint) => {
    const s = await open();
    const t1 = await run(`${name}: primary address`, s, server);
    if (!t1) return { ok: false as const, reason: 'no answer from the primary address' };
    const t = await run(name, s, server, [{ type: 'CHANGE-REQUEST', changeIp, changePort: true }]);
    if (!t) return { ok: true as const, answered: false };
    if (!sameAddress(t.from, expectFrom)) {
      return { ok: false as const, reason: `the server answered a CHANGE-REQUEST from ${t.from.address}:${t.from.port}, not ${expectFrom.address}:${expectFrom.port}` };
    }
    return { ok: true as const, answered: true };
  };
  const [both, port] = await Promise.all([
    test('filtering: change IP and port', true, other),
    test('filtering: change port', false, { address: server.address, port: other.port }),
  ]);
  if (!both.ok) return { value: null, reason: both.reason };
  if (both.answered) return { value: 'endpoint-independent' };
  if (!port.ok) return { value: null, reason: port.reason };
  return { value: port.answered ? 'address-dependent' : 'address-and-port-dependent' };
}

async function hairpin(tests: ProbeTestRecord[], a: StunClientSocket, ma1: Endpoint): Promise<BehaviourVerdict<boolean>> {
  const rec: ProbeTestRecord = { name: 'hairpinning: to own mapped address', from: a.local, to: ma1, result: 'no-answer' };
  tests.push(rec);
  try {
    // The request itself comes back to us if the NAT hairpins; nobody answers it.
    const seen = await a.request(ma1, [], { acceptClasses: ['request'] });
    rec.result = 'answered';
    rec.answeredFrom = seen.from;
    rec.elapsedMs = seen.elapsedMs;
    return { value: true };
  } catch (e) {
    if (e instanceof StunTimeoutError) return { value: false };
    rec.result = 'error';
    rec.error = e instanceof Error ? e.message : String(e);
    return { value: null, reason: rec.error };
  }
}

/**
 * One trial: a fresh socket X learns its mapping, stays idle for `idleMs`, then
 * a second socket asks the server to answer to X's mapped port (RESPONSE-PORT).
 * X hearing the answer means the mapping outlived the wait.
 */
async function mappingAliveAfter(
  env: NetEnv,
  run: Run,
  open: () => Promise<StunClientSocket>,
  server: Endpoint,
  idleMs: number,
): Promise<boolean | string> {
  const x = await open();
  const t = await run(`lifetime: learn mapping, then idle ${idleMs} ms`, x, server);
  const mx = t && mappedOf(t);
  if (!mx) return 'no mapping for the lifetime test';
  if (idleMs > 0) await new Promise<void>((r) => env.scheduler.setTimeout(r, idleMs));
  const y = await open();
  try {
    await y.request(server, [{ type: 'RESPONSE-PORT', port: mx.port }], { acceptOn: x });
    return true;
  } catch (e) {
    if (e instanceof StunTimeoutError) return false;
    return e instanceof Error ? e.message : String(e);
  } finally {
    x.close();
    y.close();
  }
}

async function mappingLifetime(
  env: NetEnv,
  run: Run,
  open: () => Promise<StunClientSocket>,
  server: Endpoint,
  bound: { maxMs: number; resolutionMs: number },
): Promise<BehaviourVerdict<MappingLifetime>> {
  const check = await mappingAliveAfter(env, run, open, server, 0);
  if (check !== true) {
    return { value: null, reason: typeof check === 'string' ? check : 'the server does not answer to RESPONSE-PORT (or the NAT drops it)' };
  }
  const atMax = await mappingAliveAfter(env, run, open, server, bound.maxMs);
  if (atMax === true) return { value: { aliveAfterMs: bound.maxMs, goneAfterMs: null } };
  if (typeof atMax === 'string') return { value: null, reason: atMax };
  let lo = 0;
  let hi = bound.maxMs;
  const resolution = Math.max(1, bound.resolutionMs);
  // Binary search; log2(max / resolution) trials at most.
  for (let i = 0; i < 64 && hi - lo > resolution; i++) {
    const mid = Math.round((lo + hi) / 2);
    const alive = await mappingAliveAfter(env, run, open, server, mid);
    if (typeof alive === 'string') return { value: null, reason: alive };
    if (alive) lo = mid;
    else hi = mid;
  }
  return { value: { aliveAfterMs: lo, goneAfterMs: hi } };
}


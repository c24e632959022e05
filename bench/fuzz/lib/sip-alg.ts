/**
 * The SIP ALG in an engine for the fuzz targets: a phone (one of two inside
 * hosts, the other must never get a pinhole from its messages), a proxy
 * outside, a PBX behind a static forward; options varied per state.
 */
import { AlgHarness } from '../../../test/alg/alg-harness.js';
import { parseSipMessage } from '../../../src/alg/sip/index.js';
import { invariant } from '../target.js';

export const PROXY = '198.51.100.10:5060';

/**
 * The harness is made at the state's first input, its options drawn from
 * that input: a reproducer (inputs from fresh state) then repeats the options too.
 */
export interface LazyHarness {
  h: AlgHarness | null;
  conns?: number;
}

export function sipHarness(variant: number): AlgHarness {
  return new AlgHarness({
    alg: 'sip',
    options: { media: variant & 1 ? 'any' : 'peer', rewriteFromTo: (variant & 2) !== 0, malformed: variant & 4 ? 'drop' : 'pass', maxCalls: 64 },
    anyRemote: (variant & 1) !== 0,
    config: {
      forwards: [
        { protocol: 'udp', port: 5060, to: '10.0.0.5' },
        { protocol: 'tcp', port: 5060, to: '10.0.0.5' },
      ],
      limits: { expectations: 256, expectationsPerGroup: 16, flows: 4096 },
    },
    seed: (variant >>> 3) + 1,
  });
}

/** No ALG handler threw (the framework counts them as handlerFailures once it catches them). */
export function assertNoHandlerFailures(h: AlgHarness): void {
  const c = h.alg?.counters() ?? {};
  invariant(!c.handlerFailures, () => `the ALG's handler threw ${c.handlerFailures} times (${h.alg?.lastError ?? ''})`);
}

/** A message the ALG changed must still parse when the original did. */
export function assertStillSip(original: Uint8Array, sent: Uint8Array, transport: 'datagram' | 'stream'): void {
  if (sent.length === original.length && sent.every((v, i) => v === original[i])) return;
  const before = parseSipMessage(original, { transport });
  if (!before.ok) return;
  const after = parseSipMessage(sent, { transport });
  invariant(after.ok, () => `the ALG rewrote a message that parsed into one that does not: ${after.ok ? '' : after.reason}`);
}

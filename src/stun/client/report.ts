/** A probe result as a table for people (the CLI prints it; --json prints the result itself). */
import { endpointToString, type Endpoint } from '../../net/udp.js';
import type { BehaviourVerdict, NatBehaviourResult } from './probe.js';

/** The RFC 3489 names people still search for, from the RFC 4787 behaviours. */
export function classicNatName(r: NatBehaviourResult): string | null {
  if (r.udpBlocked) return 'UDP blocked';
  if (r.natDetected === false) return r.filtering.value === 'endpoint-independent' ? 'open internet' : 'no NAT, firewalled';
  const m = r.mapping.value;
  const f = r.filtering.value;
  if (!m || !f) return null;
  if (m !== 'endpoint-independent') return 'symmetric';
  if (f === 'endpoint-independent') return 'full cone';
  return f === 'address-dependent' ? 'restricted cone' : 'port-restricted cone';
}

function verdict<T>(v: BehaviourVerdict<T>, show: (x: T) => string): string {
  return v.value === null ? `unknown (${v.reason ?? 'not tested'})` : show(v.value);
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const ep = (e: Endpoint | null | undefined) => (e ? endpointToString(e) : '-');

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatNatReport(r: NatBehaviourResult): string {
  const rows: Array<[string, string]> = [
    ['STUN server', ep(r.server)],
    ['Other address', r.otherAddress ? `${ep(r.otherAddress)} (RFC 5780)` : 'none (not an RFC 5780 server)'],
    ['Local address', ep(r.local)],
    ['Mapped address', r.udpBlocked ? 'none: no answer (UDP blocked?)' : ep(r.mapped)],
    ['NAT', r.udpBlocked ? 'unknown (no answer)' : r.natDetected === null ? 'unknown (local address is a wildcard)' : yesNo(r.natDetected)],
    ['Mapping', verdict(r.mapping, String)],
    ['Filtering', verdict(r.filtering, String)],
    ['Hairpinning', verdict(r.hairpinning, yesNo)],
    ['Port preservation', verdict(r.portPreservation, yesNo)],
    ['ALG rewrote address', verdict(r.mappedAddressRewritten, yesNo)],
  ];
  if (r.mappingLifetime) {
    rows.push([
      'Mapping lifetime',
      verdict(r.mappingLifetime, (l) =>
        l.goneAfterMs === null ? `at least ${seconds(l.aliveAfterMs)} (the search bound)` : `between ${seconds(l.aliveAfterMs)} and ${seconds(l.goneAfterMs)}`,
      ),
    ]);
  }
  const name = classicNatName(r);
  if (name) rows.push(['Classic name', name]);
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}${v}`);
  lines.push('', 'Tests');
  const tw = Math.max(...r.tests.map((t) => t.name.length)) + 2;
  for (const t of r.tests) {
    const what =
      t.result === 'answered'
        ? `answered by ${ep(t.answeredFrom)}${t.mapped ? `, mapped ${ep(t.mapped)}` : ''}${t.elapsedMs !== undefined ? `, ${Math.round(t.elapsedMs)} ms` : ''}`
        : t.result === 'error'
          ? `error: ${t.error}`
          : 'no answer';
    lines.push(`  ${t.name.padEnd(tw)}${ep(t.from)} -> ${ep(t.to)}  ${what}`);
  }
  return lines.join('\n');
}

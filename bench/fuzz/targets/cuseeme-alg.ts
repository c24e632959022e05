/**
 * CU-SeeMe over UDP through the engine with the CU-SeeMe ALG (port 7648):
 * each input goes from one of two workstations to the reflector and from
 * the reflector back to it. The harness checks checksums and the pinhole
 * rules after every packet (the ALG opens none); here also: the ALG never
 * resizes a CU-SeeMe packet, and no handler throws.
 * (bench/fuzz/cuseeme.ts is the ALG's own structure-aware fuzzer; this
 * target adds the corpus mutations and the shared checks.)
 */
import { parseUdpPacket } from '../../../src/wire/udp.js';
import { Verdict } from '../../../src/nat/engine.js';
import { AlgHarness } from '../../../test/alg/alg-harness.js';
import { cuPacket, OPEN_CONTINUE, VIDEO } from '../../../test/alg/cuseeme/packets.js';
import { defineFuzzTarget, invariant } from '../target.js';
import { hashBytes } from '../rng.js';
import { assertNoHandlerFailures, type LazyHarness } from '../lib/sip-alg.js';

const REFLECTOR = '198.51.100.10:7648';
const PUBLIC = '203.0.113.1';

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const own of ['10.0.0.2', '10.0.0.3', PUBLIC]) {
    out.push(cuPacket({ dest: ['198.51.100.10', 7648], own: [own, 7648], dataType: VIDEO }));
    out.push(cuPacket({ dest: ['198.51.100.10', 7648], own: [own, 7648], dataType: 100 }));
    out.push(cuPacket({ dest: [own, 7648], own: ['198.51.100.10', 7648], dataType: OPEN_CONTINUE, entries: [[own, 7648], ['198.51.100.20', 7648], [PUBLIC, 7648]] }));
    out.push(cuPacket({ dest: [own, 7648], own: ['198.51.100.10', 7648], dataType: OPEN_CONTINUE, entries: [], count: 40 }));
  }
  return out;
}

function checkSent(input: Uint8Array, d: { verdict: Verdict; packets: Uint8Array[] }): void {
  if (d.verdict === Verdict.Drop) return;
  const payload = parseUdpPacket(d.packets[0]).payload;
  invariant(payload.length === input.length, () => `the ALG resized a CU-SeeMe packet from ${input.length} to ${payload.length} bytes`);
}

export default defineFuzzTarget<LazyHarness>({
  name: 'cuseeme-alg',
  description: 'CU-SeeMe datagrams through NatEngine with the CU-SeeMe ALG, both directions: checksums, no resizing, no pinholes, no handler failure',
  seeds,
  dictionary: ['\x00\x65', '\x00\x64', '\x1d\xe0', '\xcb\x00\x71\x01', '\x0a\x00\x00\x02'],
  maxLength: 1500,
  createState: () => ({ h: null }),
  resetEvery: 64,
  ciCount: 500,
  run(b, state) {
    const hash = hashBytes(b);
    const h = (state.h ??= new AlgHarness({ alg: 'cuseeme', seed: (hash >>> 3) + 1, config: { limits: { expectations: 256, expectationsPerGroup: 16, flows: 4096 } } }));
    const station = hash & 1 ? '10.0.0.3:7648' : '10.0.0.2:7648';
    if (hash & 4) h.clock.advance(hash & 8 ? 40_000 : 1_000);
    checkSent(b, h.udp(station, REFLECTOR, b, 'out'));
    checkSent(b, h.udp(station, REFLECTOR, b, 'in'));
    assertNoHandlerFailures(h);
  },
});

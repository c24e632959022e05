/**
 * The gateway's PCP and NAT-PMP request handler (answerPortmapRequest, as the
 * UDP server on port 5351 calls it) over the port mapping service and a real
 * engine, with state across inputs (mappings made, renewed, deleted, expired;
 * both protocols on, one of them off): nothing escapes; a request maps or
 * deletes only for its own host; the answer is of the request's protocol,
 * version and opcode, no larger than the protocol allows (NAT-PMP 16 bytes,
 * PCP 1100), reads back, and a success grants no longer than the policy.
 */
import { answerPortmapRequest, type Enabled } from '../../../src/gateway/portmap/pcp-handler.js';
import { decodeNatPmpResponse, NatPmpDecodeError } from '../../../src/portmap/natpmp.js';
import { decodePcpResponse, ipv4OfMapped, PCP_MAX_MESSAGE, PcpResult } from '../../../src/portmap/pcp.js';
import { defineFuzzTarget, expectOnly, invariant } from '../target.js';
import { hashBytes } from '../rng.js';
import { natPmpSeeds, pcpSeeds, PORTMAP_DICTIONARY, PORTMAP_HOSTS, natPmpGenerator, pcpGenerator } from '../lib/portmap-seeds.js';
import { createPortmapState, onlyOwnMappings, PORTMAP_MAX_LIFETIME, type PortmapState } from '../lib/portmap-state.js';
import fc from 'fast-check';

const ENABLED: Enabled[] = [{ pcp: true, natpmp: true }, { pcp: true, natpmp: true }, { pcp: true, natpmp: false }, { pcp: false, natpmp: true }];

function checkNatPmp(answer: Uint8Array, request: Uint8Array): void {
  invariant(answer.length <= 16 && answer.length >= 8, () => `a ${answer.length}-byte NAT-PMP answer`);
  invariant(answer[0] === 0 && answer[1] === (0x80 | (request[1] & 0x7f)), 'a NAT-PMP answer of another version or opcode');
  const op = request[1] & 0x7f;
  if (op <= 2) {
    const r = expectOnly(() => decodeNatPmpResponse(answer), NatPmpDecodeError);
    invariant(r, 'a NAT-PMP answer that does not read');
    if (r.op === 'map' && r.result === 0) invariant(r.lifetime <= PORTMAP_MAX_LIFETIME, () => `NAT-PMP granted ${r.lifetime} s`);
  }
}

function checkPcp(s: PortmapState, answer: Uint8Array, request: Uint8Array): void {
  invariant(answer.length <= PCP_MAX_MESSAGE && answer.length % 4 === 0, () => `a ${answer.length}-byte PCP answer`);
  invariant(answer[0] === 2 && answer[1] === (0x80 | (request[1] & 0x7f)), 'a PCP answer of another version or opcode');
  // An unsupported opcode is echoed in the error (RFC 6887 7.4): only opcodes 0 to 2 read as a response.
  if ((request[1] & 0x7f) > 2) return void invariant(answer.length === 24 && answer[3] !== PcpResult.success, 'an unknown opcode not refused');
  const r = decodePcpResponse(answer);
  invariant(Object.values(PcpResult).includes(r.result as never), () => `result code ${r.result}`);
  if (r.result === PcpResult.success && r.opcode === 'map' && r.lifetime > 0) {
    invariant(r.lifetime <= PORTMAP_MAX_LIFETIME, () => `PCP granted ${r.lifetime} s`);
    invariant(s.engine.config.publicAddrs.includes(ipv4OfMapped(r.externalAddress) ?? -1), 'a PCP mapping on an address that is not public');
  }
}

export default defineFuzzTarget<PortmapState>({
  name: 'portmap-server',
  description: 'PCP and NAT-PMP requests into the gateway handler (stateful): maps only for the sender; answers of the right protocol, opcode and size; lifetimes within policy',
  seeds: () => [...natPmpSeeds(), ...pcpSeeds()],
  dictionary: PORTMAP_DICTIONARY,
  generator: fc.oneof(natPmpGenerator, pcpGenerator),
  maxLength: PCP_MAX_MESSAGE + 64,
  createState: createPortmapState,
  resetEvery: 300,
  ciCount: 1000,
  run(b, s) {
    const h = hashBytes(b);
    const host = PORTMAP_HOSTS[h % PORTMAP_HOSTS.length];
    const enabled = ENABLED[(h >>> 4) % ENABLED.length];
    s.clock.advance((h >>> 8) % 20_000);
    const answer = onlyOwnMappings(s, host, () => answerPortmapRequest(s.service, enabled, b, host));
    if (!answer) return;
    if (b[0] === 0 && enabled.natpmp) checkNatPmp(answer, b);
    else if (enabled.pcp) checkPcp(s, answer, b);
    else checkNatPmp(answer, b);
  },
});

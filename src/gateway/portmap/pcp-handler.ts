/**
 * PCP (RFC 6887) and NAT-PMP (RFC 6886) requests on UDP port 5351, answered
 * from the port mapping service: the version byte tells them apart (0 is
 * NAT-PMP, 2 is PCP). A request yields the bytes to answer with, or null to
 * stay silent (what the RFCs say for a response or a runt).
 *
 * A host maps only for itself: PCP's client address must be the packet's
 * source (else ADDRESS_MISMATCH), THIRD_PARTY is not supported, and NAT-PMP
 * has no way to name another host. PEER reports the external endpoint of an
 * existing flow to the peer; it does not create one before traffic does.
 */
import {
  decodeNatPmpRequest,
  encodeNatPmpError,
  encodeNatPmpResponse,
  NatPmpDecodeError,
  NatPmpResult,
  type NatPmpResultCode,
} from '../../portmap/natpmp.js';
import {
  decodePcpRequest,
  encodePcpError,
  encodePcpResponse,
  ipv4OfMapped,
  isUnspecified,
  mappedIpv4,
  PcpDecodeError,
  PcpOption,
  PcpResult,
  type PcpRequest,
  type PcpResultCode,
} from '../../portmap/pcp.js';
import type { MapOutcome, PortmapService } from './service.js';

/** Errors that may clear soon (resources) are retried sooner than ones that will not (RFC 6887 7.4). */
const SHORT_ERROR_SECONDS = 30;
const LONG_ERROR_SECONDS = 1800;
const SHORT_ERRORS: ReadonlySet<number> = new Set([PcpResult.networkFailure, PcpResult.noResources, PcpResult.userExQuota, PcpResult.cannotProvideExternal]);

export interface Enabled {
  pcp: boolean;
  natpmp: boolean;
}

export function answerPortmapRequest(service: PortmapService, enabled: Enabled, request: Uint8Array, source: number): Uint8Array | null {
  if (request.length < 2) return null;
  if (request[0] === 0 && enabled.natpmp) return answerNatPmp(service, request, source);
  if (request[0] === 0 && !enabled.natpmp && !enabled.pcp) return null;
  if (!enabled.pcp) {
    // NAT-PMP only: a PCP client falls back when told the version is not supported (RFC 6887 9).
    return request[1] & 0x80 ? null : encodeNatPmpError(request[1] & 0x7f, NatPmpResult.unsupportedVersion, service.epoch());
  }
  return answerPcp(service, request, source);
}

function pcpError(service: PortmapService, request: Uint8Array, result: PcpResultCode): Uint8Array {
  return encodePcpError(request, result, SHORT_ERRORS.has(result) ? SHORT_ERROR_SECONDS : LONG_ERROR_SECONDS, service.epoch());
}

function answerPcp(service: PortmapService, bytes: Uint8Array, source: number): Uint8Array | null {
  let req: PcpRequest;
  try {
    req = decodePcpRequest(bytes);
  } catch (err) {
    if (!(err instanceof PcpDecodeError) || err.result === null) return null;
    return pcpError(service, bytes, err.result);
  }
  if (ipv4OfMapped(req.client) !== source) return pcpError(service, bytes, PcpResult.addressMismatch);
  for (const o of req.options) {
    // Options this server does not act on: mandatory ones (codes below 128) refuse the request.
    if (o.code === PcpOption.preferFailure && req.opcode === 'map') continue;
    if (o.code < 128) return pcpError(service, bytes, PcpResult.unsuppOption);
  }
  const epoch = service.epoch();
  if (req.opcode === 'announce') return encodePcpResponse({ opcode: 'announce', result: PcpResult.success, lifetime: 0, epoch, options: [] });
  if (req.protocol !== 6 && req.protocol !== 17) return pcpError(service, bytes, PcpResult.unsuppProtocol);
  if (req.internalPort === 0) return pcpError(service, bytes, PcpResult.malformedRequest);
  const proto = req.protocol === 17 ? 'udp' : 'tcp';
  if (req.opcode === 'peer') {
    const found = service.peerEndpoint(proto, source, req.internalPort, ipv4OfMapped(req.remoteAddress) ?? -1, req.remotePort);
    if (!found) return pcpError(service, bytes, PcpResult.cannotProvideExternal);
    return encodePcpResponse({ ...req, result: PcpResult.success, epoch, lifetime: Math.min(req.lifetime, found.lifetime), externalPort: found.port, externalAddress: mappedIpv4(found.addr), options: [] });
  }
  if (req.lifetime === 0) {
    // Deletion (RFC 6887 15): the mapping goes; the answer says lifetime 0.
    const m = service.find(source, proto, req.internalPort);
    if (m && !service.nonceMatches(m.id, req.nonce)) return pcpError(service, bytes, PcpResult.notAuthorized);
    if (m) service.remove('pcp', m);
    return encodePcpResponse({ ...req, result: PcpResult.success, epoch, lifetime: 0, externalPort: m?.publicPort ?? 0, externalAddress: mappedIpv4(m?.publicAddr ?? 0), options: [] });
  }
  const existing = service.find(source, proto, req.internalPort);
  if (existing && !service.nonceMatches(existing.id, req.nonce)) return pcpError(service, bytes, PcpResult.notAuthorized);
  const preferFailure = req.options.some((o) => o.code === PcpOption.preferFailure);
  const suggestedAddr = isUnspecified(req.externalAddress) ? undefined : (ipv4OfMapped(req.externalAddress) ?? undefined);
  const r = service.map({
    protocol: 'pcp',
    host: source,
    proto,
    internalPort: req.internalPort,
    externalPort: req.externalPort,
    exact: preferFailure,
    lifetime: req.lifetime,
    ...(suggestedAddr !== undefined ? { externalAddr: suggestedAddr } : {}),
  });
  if (!r.ok) return pcpError(service, bytes, pcpResultOf(r, preferFailure));
  service.rememberNonce(r.mapping.id, req.nonce);
  return encodePcpResponse({
    opcode: 'map',
    result: PcpResult.success,
    epoch,
    lifetime: r.lifetime,
    nonce: req.nonce,
    protocol: req.protocol,
    internalPort: req.internalPort,
    externalPort: r.mapping.publicPort,
    externalAddress: mappedIpv4(r.mapping.publicAddr),
    options: preferFailure ? req.options.filter((o) => o.code === PcpOption.preferFailure) : [],
  });
}

function pcpResultOf(r: Extract<MapOutcome, { ok: false }>, preferFailure: boolean): PcpResultCode {
  switch (r.why) {
    case 'quota':
      return PcpResult.userExQuota;
    case 'port-taken':
    case 'external-port':
      return preferFailure ? PcpResult.cannotProvideExternal : PcpResult.noResources;
    case 'no-port':
    case 'limit':
      return PcpResult.noResources;
    case 'bad-protocol':
      return PcpResult.unsuppProtocol;
    default:
      return PcpResult.notAuthorized;
  }
}

function answerNatPmp(service: PortmapService, bytes: Uint8Array, source: number): Uint8Array | null {
  const epoch = service.epoch();
  let req;
  try {
    req = decodeNatPmpRequest(bytes);
  } catch (err) {
    if (!(err instanceof NatPmpDecodeError) || err.answer === null) return null;
    return encodeNatPmpError(err.answer.op, err.answer.result, epoch);
  }
  if (req.op === 'external-address') {
    return encodeNatPmpResponse({ op: 'external-address', result: NatPmpResult.success, epoch, address: service.externalAddressFor(source) });
  }
  const op = req.proto === 'udp' ? 1 : 2;
  if (req.lifetime === 0) {
    // RFC 6886 3.4: lifetime 0 deletes; internal port 0 too deletes all the host's mappings of the protocol.
    if (req.internalPort === 0) {
      for (const m of service.list(source)) if (m.proto === (op === 1 ? 17 : 6)) service.remove('natpmp', m);
    } else {
      service.unmap('natpmp', source, req.proto, req.internalPort);
    }
    return encodeNatPmpResponse({ op: 'map', proto: req.proto, result: NatPmpResult.success, epoch, internalPort: req.internalPort, externalPort: 0, lifetime: 0 });
  }
  if (req.internalPort === 0) return encodeNatPmpError(op, NatPmpResult.notAuthorized, epoch);
  const r = service.map({ protocol: 'natpmp', host: source, proto: req.proto, internalPort: req.internalPort, externalPort: req.suggestedPort, exact: false, lifetime: req.lifetime });
  if (!r.ok) return encodeNatPmpError(op, natPmpResultOf(r), epoch);
  return encodeNatPmpResponse({ op: 'map', proto: req.proto, result: NatPmpResult.success, epoch, internalPort: req.internalPort, externalPort: r.mapping.publicPort, lifetime: r.lifetime });
}

function natPmpResultOf(r: Extract<MapOutcome, { ok: false }>): NatPmpResultCode {
  return r.why === 'no-port' || r.why === 'limit' || r.why === 'quota' || r.why === 'port-taken' || r.why === 'external-port' ? NatPmpResult.outOfResources : NatPmpResult.notAuthorized;
}

/**
 * PCP, NAT-PMP and UPnP IGD requests answered by the gateway's port mapping
 * service over a real engine: mappings made, renewed and deleted; a host maps
 * only for itself; the policy's limits; the epoch across a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/control/logging.js';
import { answerPortmapRequest } from '../../../src/gateway/portmap/pcp-handler.js';
import { PortmapService } from '../../../src/gateway/portmap/service.js';
import { answerUpnpAction } from '../../../src/gateway/portmap/upnp-actions.js';
import { decodeNatPmpResponse, encodeNatPmpRequest } from '../../../src/portmap/natpmp.js';
import { decodePcpResponse, encodePcpRequest, ipv4OfMapped, mappedIpv4, PcpResult, type PcpRequest } from '../../../src/portmap/pcp.js';
import { WANIP_SERVICE } from '../../../src/portmap/upnp/description.js';
import { elementText } from '../../../src/portmap/upnp/xml.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { Side, Verdict } from '../../../src/nat/engine.js';
import { describe as show, makeEngine, udpPkt } from '../../nat/packets.js';

const H = parseIpv4('10.0.0.2');
const OTHER = parseIpv4('10.0.0.3');
const ALL = { pcp: true, natpmp: true };
const RULES = [
  { hosts: ['10.0.0.100/32'], externalPorts: [1024, 65535] as const, internalPorts: [1024, 65535] as const, protocols: ['udp'] as Array<'udp' | 'tcp'>, maxLifetime: 60, maxMappings: 1 },
  { hosts: ['10.0.0.0/24'], externalPorts: [1024, 65535] as const, internalPorts: [1024, 65535] as const, protocols: ['udp', 'tcp'] as Array<'udp' | 'tcp'>, maxLifetime: 3600, maxMappings: 4 },
];

function setup(wall = () => 1_000_000) {
  const { engine, clock } = makeEngine({ mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'random' } });
  const service = new PortmapService(engine, RULES, createLogger('silent'), clock, wall);
  return { engine, clock, service };
}

function pcpMap(over: Partial<Extract<PcpRequest, { opcode: 'map' }>> = {}, client = H): Uint8Array {
  return encodePcpRequest({
    opcode: 'map',
    lifetime: 7200,
    client: mappedIpv4(client),
    nonce: new Uint8Array(12).fill(9),
    protocol: 17,
    internalPort: 4000,
    externalPort: 40000,
    externalAddress: new Uint8Array(16),
    options: [],
    ...over,
  });
}

test('PCP MAP: a mapping for the sender, the lifetime capped by policy; an outside host gets in', () => {
  const { engine, service } = setup();
  const r = decodePcpResponse(answerPortmapRequest(service, ALL, pcpMap(), H)!);
  assert.equal(r.result, PcpResult.success);
  assert.ok(r.opcode === 'map');
  assert.equal(r.externalPort, 40000);
  assert.equal(ipv4OfMapped(r.externalAddress), parseIpv4('203.0.113.1'));
  assert.equal(r.lifetime, 3600, 'capped at the rule\'s maxLifetime');
  const p = udpPkt('198.51.100.9:5555', '203.0.113.1:40000');
  assert.equal(engine.process(p, Side.Outside), Verdict.ToInside);
  assert.equal(show(p), '198.51.100.9:5555 > 10.0.0.2:4000');
  // The same nonce renews; another nonce may not touch it.
  assert.equal(decodePcpResponse(answerPortmapRequest(service, ALL, pcpMap(), H)!).result, PcpResult.success);
  assert.equal(decodePcpResponse(answerPortmapRequest(service, ALL, pcpMap({ nonce: new Uint8Array(12).fill(1) }), H)!).result, PcpResult.notAuthorized);
  // Lifetime 0 deletes.
  const del = decodePcpResponse(answerPortmapRequest(service, ALL, pcpMap({ lifetime: 0 }), H)!);
  assert.equal(del.result, PcpResult.success);
  assert.equal(del.lifetime, 0);
  assert.equal(engine.listPortMappings().length, 0);
});

test('PCP: a host maps only for itself; unsupported options and protocols are refused', () => {
  const { service } = setup();
  const code = (b: Uint8Array, from = H) => decodePcpResponse(answerPortmapRequest(service, ALL, b, from)!).result;
  assert.equal(code(pcpMap({}, OTHER), H), PcpResult.addressMismatch, 'client address is not the sender');
  assert.equal(code(pcpMap({ options: [{ code: 1, data: mappedIpv4(OTHER) }] })), PcpResult.unsuppOption, 'THIRD_PARTY');
  assert.equal(code(pcpMap({ protocol: 1 })), PcpResult.unsuppProtocol);
  assert.equal(code(pcpMap({ internalPort: 80 })), PcpResult.notAuthorized, 'internal port outside the rule');
  assert.equal(code(encodePcpRequest({ opcode: 'announce', lifetime: 0, client: mappedIpv4(H), options: [] })), PcpResult.success);
  assert.equal(code(pcpMap({ protocol: 6 }), parseIpv4('10.0.0.100')), PcpResult.addressMismatch);
});

test('PCP PREFER_FAILURE: a taken port fails instead of moving; without it another port is given', () => {
  const { engine, service } = setup();
  engine.mapPort({ proto: 17, insideAddr: OTHER, insidePort: 5000, publicPort: 40000, lifetimeMs: 60_000, owner: 'test' });
  const exact = decodePcpResponse(answerPortmapRequest(service, ALL, pcpMap({ options: [{ code: 2, data: new Uint8Array(0) }] }), H)!);
  assert.equal(exact.result, PcpResult.cannotProvideExternal);
  const moved = decodePcpResponse(answerPortmapRequest(service, ALL, pcpMap(), H)!);
  assert.ok(moved.opcode === 'map' && moved.result === 0 && moved.externalPort !== 40000);
});

test('policy: a restricted host, its protocol, its quota', () => {
  const { service } = setup();
  const small = parseIpv4('10.0.0.100');
  const natpmp = (proto: 'udp' | 'tcp', port: number, lifetime = 600) =>
    decodeNatPmpResponse(answerPortmapRequest(service, ALL, encodeNatPmpRequest({ op: 'map', proto, internalPort: port, suggestedPort: port, lifetime }), small)!);
  const first = natpmp('udp', 5000);
  assert.equal(first.result, 0);
  assert.ok(first.op === 'map' && first.lifetime === 60, 'its rule allows 60 s');
  assert.equal(natpmp('udp', 5001).result, 4, 'one mapping at most: out of resources');
  assert.equal(natpmp('tcp', 5002).result, 2, 'no TCP for this host: not authorized');
  assert.equal(decodeNatPmpResponse(answerPortmapRequest(service, ALL, encodeNatPmpRequest({ op: 'map', proto: 'udp', internalPort: 5000, suggestedPort: 0, lifetime: 0 }), small)!).result, 0);
  assert.equal(service.list(small).length, 0, 'lifetime 0 deleted it');
  const ext = decodeNatPmpResponse(answerPortmapRequest(service, ALL, encodeNatPmpRequest({ op: 'external-address' }), H)!);
  assert.ok(ext.op === 'external-address' && ext.address === parseIpv4('203.0.113.1'));
  assert.equal(answerPortmapRequest(service, { pcp: true, natpmp: false }, encodeNatPmpRequest({ op: 'external-address' }), H)?.[3], PcpResult.unsuppVersion, 'NAT-PMP off: PCP says which version it speaks');
});

test('UPnP: add, get, list, delete; another host\'s client or mapping is refused', () => {
  const { service } = setup();
  const call = (action: string, args: Record<string, string | number>, from = H) => {
    const a = answerUpnpAction(service, { service: WANIP_SERVICE, action, args: new Map(Object.entries(args).map(([k, v]) => [k, String(v)])) }, from, 5);
    return { status: a.status, code: elementText(a.body, 'errorCode'), body: a.body };
  };
  const add = { NewRemoteHost: '', NewExternalPort: 18080, NewProtocol: 'TCP', NewInternalPort: 8080, NewInternalClient: '10.0.0.2', NewEnabled: 1, NewPortMappingDescription: 'web', NewLeaseDuration: 0 };
  assert.equal(call('AddPortMapping', add).status, 200);
  assert.equal(call('AddPortMapping', add).status, 200, 'the same again: a renewal');
  assert.equal(call('AddPortMapping', { ...add, NewInternalClient: '10.0.0.3' }).code, '606', 'for another host');
  assert.equal(call('AddPortMapping', { ...add, NewInternalClient: '10.0.0.3', NewInternalPort: 9090 }, OTHER).code, '718', 'the port is another host\'s');
  assert.equal(call('AddPortMapping', { ...add, NewRemoteHost: '198.51.100.1' }).code, '726');
  assert.equal(call('AddPortMapping', { ...add, NewExternalPort: 0 }).code, '716');
  assert.equal(call('AddPortMapping', { ...add, NewProtocol: 'SCTP' }).code, '402');
  const entry = call('GetSpecificPortMappingEntry', { NewRemoteHost: '', NewExternalPort: 18080, NewProtocol: 'TCP' });
  assert.equal(elementText(entry.body, 'NewInternalClient'), '10.0.0.2');
  assert.equal(elementText(entry.body, 'NewLeaseDuration'), '3600', 'lease 0 got the policy\'s longest');
  assert.equal(elementText(call('GetGenericPortMappingEntry', { NewPortMappingIndex: 0 }).body, 'NewExternalPort'), '18080');
  assert.equal(call('GetGenericPortMappingEntry', { NewPortMappingIndex: 1 }).code, '713');
  assert.equal(elementText(call('GetExternalIPAddress', {}).body, 'NewExternalIPAddress'), '203.0.113.1');
  assert.equal(call('DeletePortMapping', { NewRemoteHost: '', NewExternalPort: 18080, NewProtocol: 'TCP' }, OTHER).code, '606');
  assert.equal(call('DeletePortMapping', { NewRemoteHost: '', NewExternalPort: 18080, NewProtocol: 'TCP' }).status, 200);
  assert.equal(call('DeletePortMapping', { NewRemoteHost: '', NewExternalPort: 18080, NewProtocol: 'TCP' }).code, '714');
  assert.equal(call('Nonsense', {}).code, '401');
});

test('the epoch goes on when the state is restored, and starts at 0 when it is not', () => {
  let wall = 1_000_000;
  const a = setup(() => wall);
  wall += 50_000;
  assert.equal(a.service.epoch(), 50);
  const saved = a.service.stateful.exportState(0);
  wall += 10_000;
  const b = setup(() => wall);
  assert.equal(b.service.epoch(), 0, 'a fresh start');
  assert.equal(b.service.stateful.importState(saved, 0), null);
  assert.equal(b.service.epoch(), 60);
  assert.equal(b.service.epochContinued, true);
  assert.match(String(b.service.stateful.importState({ epochOrigin: 'x' }, 0)), /refused/);
});

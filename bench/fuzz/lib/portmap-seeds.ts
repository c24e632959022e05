/**
 * NAT-PMP (RFC 6886) and PCP (RFC 6887) seeds: requests and responses of
 * every opcode built with the codecs (with options, deletions, wrong
 * versions, runts), the fields' tokens, and fast-check generators of
 * well-formed requests whose fields are arbitrary.
 */
import fc from 'fast-check';
import { encodeNatPmpError, encodeNatPmpRequest, encodeNatPmpResponse } from '../../../src/portmap/natpmp.js';
import { encodePcpError, encodePcpRequest, encodePcpResponse, mappedIpv4, type PcpOptionValue, type PcpRequest } from '../../../src/portmap/pcp.js';

/** The inside hosts the server targets send from (10.0.0.2 to 10.0.0.4), and one no rule names. */
export const PORTMAP_HOSTS = [0x0a000002, 0x0a000003, 0x0a000004, 0x0a000164];
const PUBLIC = 0xcb007101; // 203.0.113.1

const NONCE = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

function pcpMap(over: Partial<Extract<PcpRequest, { opcode: 'map' }>> = {}): Uint8Array {
  return encodePcpRequest({ opcode: 'map', lifetime: 7200, client: mappedIpv4(PORTMAP_HOSTS[0]), nonce: NONCE, protocol: 17, internalPort: 4000, externalPort: 40000, externalAddress: new Uint8Array(16), options: [], ...over });
}

export function natPmpSeeds(): Uint8Array[] {
  return [
    encodeNatPmpRequest({ op: 'external-address' }),
    encodeNatPmpRequest({ op: 'map', proto: 'udp', internalPort: 4000, suggestedPort: 40000, lifetime: 7200 }),
    encodeNatPmpRequest({ op: 'map', proto: 'tcp', internalPort: 8080, suggestedPort: 0, lifetime: 3600 }),
    encodeNatPmpRequest({ op: 'map', proto: 'udp', internalPort: 4000, suggestedPort: 0, lifetime: 0 }),
    encodeNatPmpRequest({ op: 'map', proto: 'tcp', internalPort: 0, suggestedPort: 0, lifetime: 0 }),
    encodeNatPmpRequest({ op: 'map', proto: 'udp', internalPort: 80, suggestedPort: 80, lifetime: 0xffffffff }),
    encodeNatPmpResponse({ op: 'external-address', result: 0, epoch: 1234, address: PUBLIC }),
    encodeNatPmpResponse({ op: 'map', proto: 'udp', result: 0, epoch: 1234, internalPort: 4000, externalPort: 40000, lifetime: 3600 }),
    encodeNatPmpError(1, 4, 99),
    encodeNatPmpError(7, 5, 99),
    Uint8Array.of(0, 3),
    Uint8Array.of(1, 0),
    Uint8Array.of(0),
    Uint8Array.of(0, 1, 0, 0, 0x0f, 0xa0),
  ];
}

export function pcpSeeds(): Uint8Array[] {
  const opt = (code: number, n: number): PcpOptionValue => ({ code, data: new Uint8Array(n).fill(code) });
  const map = pcpMap();
  return [
    map,
    pcpMap({ protocol: 6, internalPort: 8080, externalPort: 0 }),
    pcpMap({ lifetime: 0 }),
    pcpMap({ options: [opt(2, 0)] }),
    pcpMap({ options: [opt(1, 16)] }),
    pcpMap({ options: [opt(3, 20), opt(130, 3)] }),
    pcpMap({ externalAddress: mappedIpv4(PUBLIC) }),
    pcpMap({ externalAddress: mappedIpv4(0x08080808) }),
    pcpMap({ client: mappedIpv4(PORTMAP_HOSTS[1]) }),
    pcpMap({ protocol: 0 }),
    pcpMap({ internalPort: 0 }),
    encodePcpRequest({ opcode: 'peer', lifetime: 600, client: mappedIpv4(PORTMAP_HOSTS[0]), nonce: NONCE, protocol: 17, internalPort: 4000, externalPort: 0, externalAddress: new Uint8Array(16), remotePort: 5555, remoteAddress: mappedIpv4(0xc6336409), options: [] }),
    encodePcpRequest({ opcode: 'announce', lifetime: 0, client: mappedIpv4(PORTMAP_HOSTS[0]), options: [] }),
    encodePcpResponse({ opcode: 'map', result: 0, lifetime: 3600, epoch: 5, nonce: NONCE, protocol: 17, internalPort: 4000, externalPort: 40000, externalAddress: mappedIpv4(PUBLIC), options: [] }),
    encodePcpResponse({ opcode: 'announce', result: 0, lifetime: 0, epoch: 5, options: [] }),
    encodePcpError(map, 12, 1800, 5),
    encodePcpError(Uint8Array.of(2, 1), 3, 1800, 5),
    Uint8Array.of(2, 1),
    Uint8Array.of(1, 1, 0, 0),
    map.subarray(0, 56),
    map.subarray(0, 24),
  ];
}

export const PORTMAP_DICTIONARY = [
  '\x00', '\x02', '\x01', '\x80', '\x81', '\x82', '\x11', '\x06', '\x00\x00', '\xff\xff',
  '\x00\x00\x0e\x10', '\xff\xff\xff\xff', '\x00\x00\x00\x00',
  '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x0a\x00\x00\x02',
  '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x0a\x00\x00\x03',
  '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xcb\x00\x71\x01',
  '\x01\x00\x00\x10', '\x02\x00\x00\x00', '\x03\x00\x00\x14', '\x0f\xa0', '\x9c\x40',
];

const port = fc.oneof(fc.constantFrom(0, 1, 80, 1023, 1024, 4000, 40000, 65535), fc.integer({ min: 0, max: 65535 }));
const lifetime = fc.oneof(fc.constantFrom(0, 1, 3600, 7200, 0xffffffff), fc.nat());

/** Well-formed NAT-PMP requests with arbitrary fields. */
export const natPmpGenerator: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(encodeNatPmpRequest({ op: 'external-address' })),
  fc.record({ proto: fc.constantFrom('udp' as const, 'tcp' as const), internalPort: port, suggestedPort: port, lifetime }).map((r) => encodeNatPmpRequest({ op: 'map', ...r })),
);

const client = fc.oneof(fc.constantFrom(...PORTMAP_HOSTS).map(mappedIpv4), fc.uint8Array({ minLength: 16, maxLength: 16 }));
const option = fc.record({ code: fc.oneof(fc.constantFrom(1, 2, 3, 128, 200), fc.integer({ min: 0, max: 255 })), data: fc.uint8Array({ maxLength: 24 }) });

/** Well-formed PCP requests (MAP, PEER, ANNOUNCE) with arbitrary fields and options. */
export const pcpGenerator: fc.Arbitrary<Uint8Array> = fc
  .record({
    opcode: fc.constantFrom('map' as const, 'peer' as const, 'announce' as const),
    lifetime,
    client,
    nonce: fc.constantFrom(NONCE, new Uint8Array(12)),
    protocol: fc.constantFrom(0, 6, 17, 1),
    internalPort: port,
    externalPort: port,
    externalAddress: fc.constantFrom(new Uint8Array(16), mappedIpv4(0), mappedIpv4(PUBLIC), mappedIpv4(0x08080808)),
    remotePort: port,
    remoteAddress: fc.constantFrom(mappedIpv4(0xc6336409), new Uint8Array(16)),
    options: fc.array(option, { maxLength: 3 }),
  })
  .map((r) => encodePcpRequest(r as PcpRequest));

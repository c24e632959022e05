/**
 * UPnP IGD seeds: SOAP actions as a control point sends them (the
 * SOAPACTION header on the first line, the body after it), M-SEARCH and
 * NOTIFY datagrams, the gateway's own descriptions and answers (what masq's
 * client reads), the protocols' tokens, and a generator of SOAP actions
 * with arbitrary arguments.
 */
import fc from 'fast-check';
import { rootDescription, UPNP_TYPES, WANCOMMON_SCPD, WANCOMMON_SERVICE, WANIP_SCPD, WANIP_SERVICE } from '../../../src/portmap/upnp/description.js';
import { soapFault, soapRequest, soapResponse } from '../../../src/portmap/upnp/soap.js';
import { aliveNotify, mSearch, searchResponse, type SsdpDevice } from '../../../src/portmap/upnp/ssdp.js';
import { latin1, utf8 } from '../target.js';

/** A fuzz input for a SOAP action: the SOAPACTION header's value, a newline, the HTTP body. */
export function soapInput(service: string, action: string, args: ReadonlyArray<[string, string | number]>, header = `"${service}#${action}"`): Uint8Array {
  return utf8(`${header}\n${soapRequest(service, action, args)}`);
}

export function splitSoapInput(text: string): { header: string; body: string } {
  const nl = text.indexOf('\n');
  return nl < 0 ? { header: text, body: '' } : { header: text.slice(0, nl), body: text.slice(nl + 1) };
}

const add = (client: string, ext: number | string = 18080, int: number | string = 8080, lease: number | string = 3600, proto = 'TCP'): Array<[string, string | number]> => [
  ['NewRemoteHost', ''],
  ['NewExternalPort', ext],
  ['NewProtocol', proto],
  ['NewInternalPort', int],
  ['NewInternalClient', client],
  ['NewEnabled', 1],
  ['NewPortMappingDescription', 'fuzz <&> "x"'],
  ['NewLeaseDuration', lease],
];

export function soapSeeds(): Uint8Array[] {
  return [
    soapInput(WANIP_SERVICE, 'AddPortMapping', add('10.0.0.2')),
    soapInput(WANIP_SERVICE, 'AddPortMapping', add('10.0.0.3', 20000, 20000, 0, 'UDP')),
    soapInput(WANIP_SERVICE, 'AddPortMapping', add('10.0.0.4', 30000, 22, '1e3')),
    soapInput(WANIP_SERVICE, 'AddPortMapping', add('10.0.0.99', 0)),
    soapInput(WANIP_SERVICE, 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', 18080], ['NewProtocol', 'TCP']]),
    soapInput(WANIP_SERVICE, 'GetSpecificPortMappingEntry', [['NewRemoteHost', ''], ['NewExternalPort', 20000], ['NewProtocol', 'UDP']]),
    soapInput(WANIP_SERVICE, 'GetGenericPortMappingEntry', [['NewPortMappingIndex', 0]]),
    soapInput(WANIP_SERVICE, 'GetExternalIPAddress', []),
    soapInput(WANIP_SERVICE, 'GetStatusInfo', []),
    soapInput(WANIP_SERVICE, 'GetConnectionTypeInfo', []),
    soapInput(WANCOMMON_SERVICE, 'GetCommonLinkProperties', []),
    soapInput('urn:schemas-upnp-org:service:WANIPConnection:2', 'AddPortMapping', add('10.0.0.2', 40000, 40000), 'urn:schemas-upnp-org:service:WANIPConnection:2#AddPortMapping'),
    soapInput(WANIP_SERVICE, 'ForceTermination', []),
    utf8(`"${WANIP_SERVICE}#AddPortMapping"\n<s:Envelope><s:Body><u:AddPortMapping><NewExternalPort>1</NewExternalPort><NewInternalClient>10.0.0.2</NewInternalClient></u:AddPortMapping>`),
    utf8(`"${WANIP_SERVICE}#GetExternalIPAddress"\n`),
    utf8('\n<x/>'),
    // The shapes that made the reader's regular expressions quadratic: a `<` and white space, again and again, up to the 16 KB body limit.
    utf8(`"${WANIP_SERVICE}#AddPortMapping"\n${'<AddPortMapping '.repeat(1000)}`),
    utf8(`"${WANIP_SERVICE}#AddPortMapping"\n<u:AddPortMapping>${'<a '.repeat(5400)}`),
  ];
}

export const SOAP_DICTIONARY = [
  '<', '>', '</', '/>', '&amp;', '&lt;', '&#x41;', '&#65;', '&#1114112;', ':', '"', '#', '\n',
  'u:', 's:Body', 's:Envelope', 'AddPortMapping', 'DeletePortMapping', 'GetGenericPortMappingEntry', 'GetSpecificPortMappingEntry',
  'NewRemoteHost', 'NewExternalPort', 'NewInternalPort', 'NewInternalClient', 'NewProtocol', 'NewLeaseDuration', 'NewPortMappingIndex',
  'NewPortMappingDescription', 'TCP', 'UDP', '10.0.0.2', '10.0.0.3', '0', '65535', '65536', '4294967296', WANIP_SERVICE, WANCOMMON_SERVICE,
];

const arg = fc.oneof(fc.constantFrom('', '0', '1', '80', '8080', '65535', '65536', '-1', '1e3', 'TCP', 'udp', '10.0.0.2', '10.0.0.3', '10.0.0.300', '0x50'), fc.string({ maxLength: 8 }));

/** AddPortMapping and the other actions, every argument arbitrary or a boundary. */
export const soapGenerator: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom('AddPortMapping', 'DeletePortMapping', 'GetSpecificPortMappingEntry', 'GetGenericPortMappingEntry', 'GetExternalIPAddress'),
    fc.record({ NewRemoteHost: fc.constantFrom('', '1.2.3.4'), NewExternalPort: arg, NewProtocol: arg, NewInternalPort: arg, NewInternalClient: arg, NewLeaseDuration: arg, NewPortMappingIndex: arg }),
  )
  .map(([action, args]) => soapInput(WANIP_SERVICE, action, Object.entries(args)));

const DEVICE: SsdpDevice = { uuid: 'uuid:fuzz', location: 'http://10.0.0.1:5000/rootDesc.xml', server: 'Linux UPnP/1.1 masq/0.1', types: UPNP_TYPES, maxAge: 1800 };

export function ssdpSeeds(): Uint8Array[] {
  return [
    mSearch('ssdp:all'),
    mSearch('upnp:rootdevice', 3),
    mSearch('urn:schemas-upnp-org:device:InternetGatewayDevice:1'),
    mSearch('urn:schemas-upnp-org:device:InternetGatewayDevice:2'),
    mSearch('urn:schemas-upnp-org:service:WANIPConnection:1', 5),
    mSearch('uuid:fuzz'),
    latin1('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: ssdp:discover\r\nMX: 120\r\nST: ssdp:all\r\n\r\n'),
    latin1('M-SEARCH * HTTP/1.0\r\nman: "ssdp:discover"\r\nmx: x\r\nst: urn:schemas-upnp-org:device:WANDevice:0001\r\n\r\n'),
    aliveNotify(DEVICE, { st: 'upnp:rootdevice', usn: 'uuid:fuzz::upnp:rootdevice' }),
    searchResponse(DEVICE, { st: 'upnp:rootdevice', usn: 'uuid:fuzz::upnp:rootdevice' }, new Date(0)),
  ];
}

export const SSDP_DICTIONARY = ['\r\n', 'M-SEARCH * HTTP/1.1', 'MAN: "ssdp:discover"', 'ST: ', 'MX: ', 'ssdp:all', 'upnp:rootdevice', 'uuid:fuzz', 'urn:schemas-upnp-org:device:', 'urn:schemas-upnp-org:service:', ':1', ':', 'LOCATION: ', 'HTTP/1.1 200 OK'];

/** What a UPnP device (or something posing as one) sends masq's client: descriptions and SOAP answers. */
export function upnpXmlSeeds(): Uint8Array[] {
  return [
    utf8(rootDescription({ uuid: 'uuid:fuzz', baseUrl: 'http://10.0.0.1:5000/', friendlyName: 'a <b> & "c"' })),
    utf8(WANIP_SCPD),
    utf8(WANCOMMON_SCPD),
    utf8(soapResponse(WANIP_SERVICE, 'GetExternalIPAddress', [['NewExternalIPAddress', '203.0.113.1']])),
    utf8(soapResponse(WANIP_SERVICE, 'GetSpecificPortMappingEntry', [['NewInternalPort', 8080], ['NewInternalClient', '10.0.0.2'], ['NewPortMappingDescription', '&<>']])),
    utf8(soapFault(718)),
    utf8(soapRequest(WANIP_SERVICE, 'AddPortMapping', add('10.0.0.2'))),
    utf8('<a:GetExternalIPAddressResponse x="1"><b:NewExternalIPAddress>&#x31;&#50;&amp;&bogus;</b:NewExternalIPAddress><Empty/></a:GetExternalIPAddressResponse>'),
  ];
}

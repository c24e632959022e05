/**
 * The port mapping codecs: NAT-PMP (RFC 6886) and PCP (RFC 6887) messages
 * byte by byte against the RFCs' layouts, round trips, and arbitrary bytes
 * that never throw anything but the codec's own decode error; SSDP and SOAP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeNatPmpRequest, decodeNatPmpResponse, encodeNatPmpRequest, encodeNatPmpResponse, NatPmpDecodeError } from '../../src/portmap/natpmp.js';
import {
  decodePcpRequest,
  decodePcpResponse,
  encodePcpError,
  encodePcpRequest,
  encodePcpResponse,
  ipv4OfMapped,
  mappedIpv4,
  PcpDecodeError,
  PcpResult,
} from '../../src/portmap/pcp.js';
import { mSearch, parseMSearch, responseLocation, searchMatches, searchResponse } from '../../src/portmap/upnp/ssdp.js';
import { parseSoapAction, soapFault, soapRequest, soapResponse } from '../../src/portmap/upnp/soap.js';
import { IGD_DEVICE, rootDescription, WANIP_SERVICE } from '../../src/portmap/upnp/description.js';
import { childTexts, elementText, escapeXml } from '../../src/portmap/upnp/xml.js';
import { parseIpv4 } from '../../src/wire/address.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('NAT-PMP: the RFC 6886 layouts', () => {
  assert.equal(hex(encodeNatPmpRequest({ op: 'external-address' })), '0000');
  // Version 0, op 2 (TCP), reserved, internal 8080, suggested 18080, lifetime 3600.
  assert.equal(hex(encodeNatPmpRequest({ op: 'map', proto: 'tcp', internalPort: 8080, suggestedPort: 18080, lifetime: 3600 })), '00020000' + '1f90' + '46a0' + '00000e10');
  const r = encodeNatPmpResponse({ op: 'map', proto: 'udp', result: 0, epoch: 7, internalPort: 4000, externalPort: 40000, lifetime: 7200 });
  assert.equal(hex(r), '0081' + '0000' + '00000007' + '0fa0' + '9c40' + '00001c20');
  assert.deepEqual(decodeNatPmpResponse(r), { op: 'map', proto: 'udp', result: 0, epoch: 7, internalPort: 4000, externalPort: 40000, lifetime: 7200 });
  const a = encodeNatPmpResponse({ op: 'external-address', result: 0, epoch: 1, address: parseIpv4('203.0.113.1') });
  assert.equal(hex(a), '00800000' + '00000001' + 'cb007101');
  assert.deepEqual(decodeNatPmpRequest(new Uint8Array([0, 1, 0, 0, 0x0f, 0xa0, 0, 0, 0, 0, 0, 60])), { op: 'map', proto: 'udp', internalPort: 4000, suggestedPort: 0, lifetime: 60 });
  assert.throws(() => decodeNatPmpRequest(new Uint8Array([1, 0])), (e: NatPmpDecodeError) => e.answer?.result === 1);
  assert.throws(() => decodeNatPmpRequest(new Uint8Array([0, 9])), (e: NatPmpDecodeError) => e.answer?.result === 5);
  assert.throws(() => decodeNatPmpRequest(new Uint8Array([0, 129])), (e: NatPmpDecodeError) => e.answer === null);
});

test('PCP: a MAP request and response in the RFC 6887 layout, round trip', () => {
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
  const req = encodePcpRequest({
    opcode: 'map',
    lifetime: 7200,
    client: mappedIpv4(parseIpv4('10.0.1.2')),
    nonce,
    protocol: 17,
    internalPort: 41641,
    externalPort: 41641,
    externalAddress: new Uint8Array(16),
    options: [{ code: 2, data: new Uint8Array(0) }],
  });
  assert.equal(req.length, 24 + 36 + 4);
  assert.equal(hex(req.subarray(0, 24)), '0201' + '0000' + '00001c20' + '00000000000000000000ffff0a000102');
  assert.equal(hex(req.subarray(24, 40)), hex(nonce) + '11000000');
  assert.equal(hex(req.subarray(40, 44)), 'a2a9a2a9');
  assert.equal(hex(req.subarray(60)), '02000000');
  const back = decodePcpRequest(req);
  assert.equal(back.opcode, 'map');
  if (back.opcode !== 'map') return;
  assert.deepEqual([back.protocol, back.internalPort, back.externalPort, back.lifetime, hex(back.nonce)], [17, 41641, 41641, 7200, hex(nonce)]);
  assert.equal(ipv4OfMapped(back.client), parseIpv4('10.0.1.2'));
  const res = encodePcpResponse({ ...back, result: 0, epoch: 42, externalAddress: mappedIpv4(parseIpv4('203.0.113.1')), options: [] });
  assert.equal(hex(res.subarray(0, 12)), '0281' + '0000' + '00001c20' + '0000002a');
  const r = decodePcpResponse(res);
  assert.equal(r.opcode === 'map' && ipv4OfMapped(r.externalAddress), parseIpv4('203.0.113.1'));
});

test('PCP: what the server answers to what it cannot read', () => {
  const reject = (b: number[] | Uint8Array) => {
    try {
      decodePcpRequest(Uint8Array.from(b));
      return 'accepted';
    } catch (e) {
      assert.ok(e instanceof PcpDecodeError);
      return e.result;
    }
  };
  assert.equal(reject([2]), null, 'a runt: silence');
  assert.equal(reject([2, 0x81, ...new Array(22).fill(0)]), null, 'a response: silence');
  assert.equal(reject([1, 1, ...new Array(58).fill(0)]), PcpResult.unsuppVersion);
  assert.equal(reject([2, 1, ...new Array(22).fill(0)]), PcpResult.malformedRequest, 'MAP without its data');
  assert.equal(reject([2, 1, ...new Array(59).fill(0)]), PcpResult.malformedRequest, 'not a multiple of 4');
  assert.equal(reject([2, 9, ...new Array(22).fill(0)]), PcpResult.unsuppOpcode);
  assert.equal(reject([2, 1, ...new Array(58).fill(0), 1, 0, 0, 8]), PcpResult.malformedOption, 'an option past the end');
  const err = encodePcpError(Uint8Array.from([2, 1, 0, 0, ...new Array(56).fill(7)]), PcpResult.notAuthorized, 1800, 5);
  assert.equal(err.length, 60, 'the MAP data is echoed (the client matches its nonce)');
  assert.equal(err[3], PcpResult.notAuthorized);
});

test('property: arbitrary bytes only ever raise the codecs\' own errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1200 }), (b) => {
      for (const decode of [decodePcpRequest, decodePcpResponse]) {
        try {
          decode(b);
        } catch (e) {
          assert.ok(e instanceof PcpDecodeError, String(e));
        }
      }
      for (const decode of [decodeNatPmpRequest, decodeNatPmpResponse]) {
        try {
          decode(b);
        } catch (e) {
          assert.ok(e instanceof NatPmpDecodeError, String(e));
        }
      }
      parseMSearch(b);
      responseLocation(b);
    }),
    { numRuns: 3000 },
  );
});

test('SSDP: an M-SEARCH is answered per matching type, with the description\'s location', () => {
  const search = parseMSearch(mSearch('urn:schemas-upnp-org:device:InternetGatewayDevice:1', 2));
  assert.deepEqual(search, { st: IGD_DEVICE, mx: 2 });
  const device = { uuid: 'uuid:x', location: 'http://10.0.1.1:5000/rootDesc.xml', server: 's', types: [IGD_DEVICE, WANIP_SERVICE], maxAge: 1800 };
  const matches = searchMatches(device, search!.st);
  assert.deepEqual(matches, [{ st: IGD_DEVICE, usn: `uuid:x::${IGD_DEVICE}` }]);
  assert.equal(responseLocation(searchResponse(device, matches[0], new Date(0))), device.location);
  assert.equal(searchMatches(device, 'ssdp:all').length, 4);
  assert.equal(searchMatches(device, 'urn:schemas-upnp-org:service:WANIPConnection:2').length, 0, 'a later version than offered');
  assert.equal(parseMSearch(new TextEncoder().encode('NOTIFY * HTTP/1.1\r\n\r\n')), null);
  assert.equal(parseMSearch(new TextEncoder().encode('M-SEARCH * HTTP/1.1\r\nST: x\r\n\r\n')), null, 'no MAN: ssdp:discover');
});

test('SOAP: an action is read from the header and body; responses and faults are well formed', () => {
  const body = soapRequest(WANIP_SERVICE, 'AddPortMapping', [['NewRemoteHost', ''], ['NewExternalPort', 18080], ['NewPortMappingDescription', 'a <b> & "c"']]);
  const a = parseSoapAction(`"${WANIP_SERVICE}#AddPortMapping"`, body);
  assert.ok(a);
  assert.equal(a.action, 'AddPortMapping');
  assert.equal(a.args.get('NewExternalPort'), '18080');
  assert.equal(a.args.get('NewRemoteHost'), '');
  assert.equal(a.args.get('NewPortMappingDescription'), 'a <b> & "c"');
  assert.equal(parseSoapAction('nonsense', body), null);
  assert.equal(parseSoapAction(`"${WANIP_SERVICE}#DeletePortMapping"`, body), null, 'the body holds another action');
  assert.equal(elementText(soapFault(718), 'errorCode'), '718');
  assert.equal(childTexts(soapResponse(WANIP_SERVICE, 'GetExternalIPAddress', [['NewExternalIPAddress', '203.0.113.1']]), 'GetExternalIPAddressResponse')?.get('NewExternalIPAddress'), '203.0.113.1');
  const desc = rootDescription({ uuid: 'uuid:1', baseUrl: 'http://10.0.1.1:5000/', friendlyName: escapeXml('a&b') });
  assert.match(desc, /<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1<\/serviceType>.*<controlURL>\/ctl\/IPConn<\/controlURL>/);
});

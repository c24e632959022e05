/**
 * The XML masq's UPnP client reads from a device on the LAN, which may be
 * hostile (src/portmap/upnp/xml.ts, as client.ts uses it): descriptions and
 * SOAP answers. Nothing throws; reading is never slow (the harness reports
 * slow inputs); escaping round-trips any text; what the reader returns for
 * an element holds no markup.
 */
import { childTexts, elementText, escapeXml, unescapeXml } from '../../../src/portmap/upnp/xml.js';
import { defineFuzzTarget, invariant } from '../target.js';
import { SOAP_DICTIONARY, upnpXmlSeeds } from '../lib/upnp-seeds.js';

const decoder = new TextDecoder();
const NAMES = ['serviceType', 'controlURL', 'URLBase', 'errorCode', 'errorDescription'];

export default defineFuzzTarget({
  name: 'upnp-xml',
  description: 'UPnP descriptions and SOAP answers read by the client: no throw, not slow, escaping round-trips',
  seeds: upnpXmlSeeds,
  dictionary: [...SOAP_DICTIONARY, '<service>', '<serviceType>', '</serviceType>', '<controlURL>', '<URLBase>', '<errorCode>'],
  text: true,
  maxLength: 16 * 1024,
  slowMs: 100,
  ciCount: 500,
  run(b) {
    const xml = decoder.decode(b);
    for (const part of xml.split(/<service>/i).slice(0, 16)) for (const name of NAMES) elementText(part, name);
    const args = childTexts(xml, 'GetExternalIPAddressResponse');
    if (args) for (const [k] of args) invariant(!/[<>\s]/.test(k), () => `an element name ${JSON.stringify(k)}`);
    invariant(unescapeXml(escapeXml(xml)) === xml, 'escaping does not round-trip');
  },
});

/**
 * UPnP IGD control on the gateway: a SOAPACTION header and an HTTP body read
 * by parseSoapAction, then answered by answerUpnpAction over the port mapping
 * service and a real engine, with state across inputs: nothing escapes; a
 * request maps and deletes only for its own host (AddPortMapping naming
 * another NewInternalClient is refused); a 200 answer holds the action's
 * response element, a 500 a UPnPError code; the answer's size is bounded.
 */
import { answerUpnpAction } from '../../../src/gateway/portmap/upnp-actions.js';
import { parseSoapAction } from '../../../src/portmap/upnp/soap.js';
import { childTexts, elementText } from '../../../src/portmap/upnp/xml.js';
import { tryParseIpv4 } from '../../../src/wire/address.js';
import { defineFuzzTarget, invariant } from '../target.js';
import { hashBytes } from '../rng.js';
import { PORTMAP_HOSTS } from '../lib/portmap-seeds.js';
import { createPortmapState, onlyOwnMappings, type PortmapState } from '../lib/portmap-state.js';
import { SOAP_DICTIONARY, soapGenerator, soapSeeds, splitSoapInput } from '../lib/upnp-seeds.js';

const decoder = new TextDecoder();

export default defineFuzzTarget<PortmapState>({
  name: 'upnp-soap',
  description: 'UPnP IGD SOAP actions into the gateway (stateful): maps only for the sender (another NewInternalClient refused), answers well formed and bounded',
  seeds: soapSeeds,
  dictionary: SOAP_DICTIONARY,
  text: true,
  generator: soapGenerator,
  // The HTTP server takes bodies of up to 16 KB.
  maxLength: 16 * 1024,
  slowMs: 100,
  createState: createPortmapState,
  resetEvery: 300,
  ciCount: 500,
  run(b, s) {
    const h = hashBytes(b);
    const host = PORTMAP_HOSTS[h % PORTMAP_HOSTS.length];
    s.clock.advance((h >>> 8) % 20_000);
    const { header, body } = splitSoapInput(decoder.decode(b));
    const action = parseSoapAction(header, body);
    if (!action) return;
    const answer = onlyOwnMappings(s, host, () => answerUpnpAction(s.service, action, host, 42));
    invariant(answer.body.length <= 2048 + 6 * b.length, () => `a ${answer.body.length}-character answer to a ${b.length}-byte request`);
    if (answer.status === 200) {
      invariant(childTexts(answer.body, `${action.action}Response`) !== null, 'a 200 answer without the action\'s response element');
      if (action.action === 'AddPortMapping') {
        invariant(tryParseIpv4(action.args.get('NewInternalClient') ?? '') === host, 'AddPortMapping for another NewInternalClient was granted');
      }
    } else {
      invariant(answer.status === 500 && /^\d{3}$/.test(elementText(answer.body, 'errorCode') ?? ''), () => `status ${answer.status} without a UPnPError code`);
    }
  },
});

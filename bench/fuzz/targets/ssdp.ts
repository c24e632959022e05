/**
 * SSDP on the gateway and in masq's client (src/portmap/upnp/ssdp.ts): an
 * M-SEARCH is read with bounds and answered per matching type; nothing
 * throws; MX stays within 0 to 5; each answer is exactly the response's nine
 * header lines (nothing from the search can add a line or a header), at most
 * one per type the device has, and echoes no more of the request than its
 * search target; the client's LOCATION reader takes the same bytes.
 */
import { UPNP_TYPES } from '../../../src/portmap/upnp/description.js';
import { parseMSearch, responseLocation, searchMatches, searchResponse, type SsdpDevice } from '../../../src/portmap/upnp/ssdp.js';
import { defineFuzzTarget, invariant, latin1Text } from '../target.js';
import { SSDP_DICTIONARY, ssdpSeeds } from '../lib/upnp-seeds.js';

const DEVICE: SsdpDevice = { uuid: 'uuid:fuzz', location: 'http://10.0.0.1:5000/rootDesc.xml', server: 'Linux UPnP/1.1 masq/0.1', types: UPNP_TYPES, maxAge: 1800 };
const DATE = new Date(0);
const BASE = latin1Text(searchResponse(DEVICE, { st: '', usn: '' }, DATE)).length;
/** The longest search target the device answers with of its own (a type, its uuid, upnp:rootdevice). */
const OWN = Math.max(DEVICE.uuid.length, 'upnp:rootdevice'.length, ...DEVICE.types.map((t) => t.length));

export default defineFuzzTarget({
  name: 'ssdp',
  description: 'SSDP M-SEARCH read and answered: no throw, MX 0-5, answers of exactly their header lines, one per type at most, bounded',
  seeds: ssdpSeeds,
  dictionary: SSDP_DICTIONARY,
  text: true,
  maxLength: 9000,
  run(b) {
    responseLocation(b);
    const search = parseMSearch(b);
    if (!search) return;
    invariant(Number.isInteger(search.mx) && search.mx >= 0 && search.mx <= 5, () => `MX ${search.mx}`);
    const matches = searchMatches(DEVICE, search.st);
    invariant(matches.length <= DEVICE.types.length + 2, () => `${matches.length} answers to one search`);
    for (const m of matches) {
      const answer = latin1Text(searchResponse(DEVICE, m, DATE));
      const lines = answer.split('\r\n');
      invariant(lines.length === 10 && lines.slice(0, 8).every((l) => !/[\r\n]/.test(l)), 'a search answer whose header lines are not its own');
      invariant(answer.length <= BASE + 2 * Math.max(OWN, search.st.length) + DEVICE.uuid.length + 2, () => `a ${answer.length}-byte answer`);
    }
  },
});

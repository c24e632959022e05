/**
 * SSDP (UPnP Device Architecture 1.1, section 1): the discovery half of UPnP
 * IGD. A control point multicasts an M-SEARCH to 239.255.255.250:1900; a
 * device whose type matches answers by unicast with where its description
 * is (LOCATION). Devices also announce themselves with NOTIFY ssdp:alive.
 * HTTP-shaped text over UDP; parsed here with bounds, as anything on the LAN
 * may send it.
 */

export const SSDP_GROUP = '239.255.255.250';
export const SSDP_PORT = 1900;
const MAX_SSDP = 8192;

export interface MSearch {
  /** The search target: ssdp:all, upnp:rootdevice, uuid:..., urn:...:device:X:1, urn:...:service:Y:1. */
  st: string;
  /** Seconds the control point waits for answers (responses are spread over it); 1 to 5 by the spec. */
  mx: number;
}

/** An M-SEARCH request, or null for anything else (other methods, NOTIFY, malformed). */
export function parseMSearch(bytes: Uint8Array): MSearch | null {
  if (bytes.length > MAX_SSDP) return null;
  const text = new TextDecoder('latin1').decode(bytes);
  const lines = text.split('\r\n');
  if (!/^M-SEARCH \* HTTP\/1\.[01]$/i.test(lines[0] ?? '')) return null;
  const headers = headerMap(lines.slice(1));
  if ((headers.get('man') ?? '').replace(/"/g, '').toLowerCase() !== 'ssdp:discover') return null;
  const st = headers.get('st');
  if (!st) return null;
  const mx = Number(headers.get('mx') ?? '1');
  return { st, mx: Number.isFinite(mx) ? Math.min(5, Math.max(0, Math.floor(mx))) : 1 };
}

function headerMap(lines: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of lines.slice(0, 64)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    m.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return m;
}

export interface SsdpDevice {
  /** uuid:... of the root device. */
  uuid: string;
  /** http://addr:port/rootDesc.xml */
  location: string;
  server: string;
  /** Device and service types the device has: each is a search target it answers. */
  types: readonly string[];
  maxAge: number;
}

/** The (ST, USN) pairs a device answers a search target with (several for ssdp:all). */
export function searchMatches(d: SsdpDevice, st: string): Array<{ st: string; usn: string }> {
  const all = [
    { st: 'upnp:rootdevice', usn: `${d.uuid}::upnp:rootdevice` },
    { st: d.uuid, usn: d.uuid },
    ...d.types.map((t) => ({ st: t, usn: `${d.uuid}::${t}` })),
  ];
  if (st === 'ssdp:all') return all;
  // A search for version N is answered by a device of version >= N, with the searched type.
  const m = /^(urn:[^:]+:(?:device|service):[^:]+):(\d+)$/.exec(st);
  if (m) {
    const found = d.types.find((t) => t.startsWith(`${m[1]}:`) && Number(t.slice(m[1].length + 1)) >= Number(m[2]));
    return found ? [{ st, usn: `${d.uuid}::${st}` }] : [];
  }
  return all.filter((x) => x.st === st);
}

export function searchResponse(d: SsdpDevice, match: { st: string; usn: string }, date: Date): Uint8Array {
  return new TextEncoder().encode(
    [
      'HTTP/1.1 200 OK',
      `CACHE-CONTROL: max-age=${d.maxAge}`,
      `DATE: ${date.toUTCString()}`,
      'EXT:',
      `LOCATION: ${d.location}`,
      `SERVER: ${d.server}`,
      `ST: ${match.st}`,
      `USN: ${match.usn}`,
      '',
      '',
    ].join('\r\n'),
  );
}

/** NOTIFY ssdp:alive for one (NT, USN) pair. */
export function aliveNotify(d: SsdpDevice, match: { st: string; usn: string }): Uint8Array {
  return new TextEncoder().encode(
    [
      'NOTIFY * HTTP/1.1',
      `HOST: ${SSDP_GROUP}:${SSDP_PORT}`,
      `CACHE-CONTROL: max-age=${d.maxAge}`,
      `LOCATION: ${d.location}`,
      `SERVER: ${d.server}`,
      `NT: ${match.st}`,
      `USN: ${match.usn}`,
      'NTS: ssdp:alive',
      '',
      '',
    ].join('\r\n'),
  );
}

/** For a client: an M-SEARCH for a search target. */
export function mSearch(st: string, mx = 2): Uint8Array {
  return new TextEncoder().encode(['M-SEARCH * HTTP/1.1', `HOST: ${SSDP_GROUP}:${SSDP_PORT}`, 'MAN: "ssdp:discover"', `MX: ${mx}`, `ST: ${st}`, '', ''].join('\r\n'));
}

/** For a client: the LOCATION of a search response, or null. */
export function responseLocation(bytes: Uint8Array): string | null {
  if (bytes.length > MAX_SSDP) return null;
  const lines = new TextDecoder('latin1').decode(bytes).split('\r\n');
  if (!/^HTTP\/1\.[01] 200/i.test(lines[0] ?? '')) return null;
  return headerMap(lines.slice(1)).get('location') ?? null;
}

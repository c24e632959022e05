/**
 * UPnP IGD's WANIPConnection:1 actions (and WANCommonInterfaceConfig's one
 * that clients ask), answered from the port mapping service: the SOAP body
 * to send and the HTTP status. A host maps only for itself: AddPortMapping
 * with another NewInternalClient is refused (606), and DeletePortMapping of
 * another host's mapping too. Lease 0 (IGD v1's "permanent") gets the
 * policy's longest lifetime.
 */
import { soapFault, soapResponse, UpnpError, type SoapAction } from '../../portmap/upnp/soap.js';
import { WANCOMMON_SERVICE, WANIP_SERVICE } from '../../portmap/upnp/description.js';
import { ipv4ToString, tryParseIpv4 } from '../../wire/address.js';
import type { PortmapService } from './service.js';

export interface SoapAnswer {
  status: number;
  body: string;
}

const LONGEST = 0xffffffff;

const fault = (code: number): SoapAnswer => ({ status: 500, body: soapFault(code) });

function port(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function protocol(text: string | undefined): 'udp' | 'tcp' | null {
  const t = (text ?? '').toUpperCase();
  return t === 'UDP' ? 'udp' : t === 'TCP' ? 'tcp' : null;
}

export function answerUpnpAction(service: PortmapService, a: SoapAction, source: number, uptimeSeconds: number): SoapAnswer {
  const ok = (out: ReadonlyArray<[string, string | number]>): SoapAnswer => ({ status: 200, body: soapResponse(a.service, a.action, out) });
  if (a.service.startsWith(WANCOMMON_SERVICE.slice(0, -1))) {
    if (a.action === 'GetCommonLinkProperties') {
      return ok([['NewWANAccessType', 'Ethernet'], ['NewLayer1UpstreamMaxBitRate', 1_000_000_000], ['NewLayer1DownstreamMaxBitRate', 1_000_000_000], ['NewPhysicalLinkStatus', 'Up']]);
    }
    return fault(UpnpError.invalidAction);
  }
  if (!a.service.startsWith(WANIP_SERVICE.slice(0, -1))) return fault(UpnpError.invalidAction);
  const arg = (k: string) => a.args.get(k);
  switch (a.action) {
    case 'GetConnectionTypeInfo':
      return ok([['NewConnectionType', 'IP_Routed'], ['NewPossibleConnectionTypes', 'IP_Routed']]);
    case 'GetStatusInfo':
      return ok([['NewConnectionStatus', 'Connected'], ['NewLastConnectionError', 'ERROR_NONE'], ['NewUptime', uptimeSeconds]]);
    case 'GetExternalIPAddress':
      return ok([['NewExternalIPAddress', ipv4ToString(service.externalAddressFor(source))]]);
    case 'AddPortMapping': {
      if ((arg('NewRemoteHost') ?? '') !== '') return fault(UpnpError.remoteHostOnlyWildcard);
      const ext = port(arg('NewExternalPort'));
      const int = port(arg('NewInternalPort'));
      const proto = protocol(arg('NewProtocol'));
      const client = tryParseIpv4(arg('NewInternalClient') ?? '');
      const lease = Number(arg('NewLeaseDuration') ?? '0');
      if (ext === null || int === null || int === 0 || proto === null || client === null || !Number.isInteger(lease) || lease < 0) return fault(UpnpError.invalidArgs);
      if (ext === 0) return fault(UpnpError.wildcardExternalPortNotPermitted);
      if (client !== source) return fault(UpnpError.notAuthorized); // a host maps only for itself
      // Another host's mapping (or another port of this host) on the external port: a conflict (718).
      const there = service.findExternal(proto, ext);
      if (there && (there.insideAddr !== source || there.insidePort !== int)) return fault(UpnpError.conflictInMappingEntry);
      const r = service.map({
        protocol: 'upnp',
        host: source,
        proto,
        internalPort: int,
        externalPort: ext,
        exact: true,
        lifetime: lease === 0 ? LONGEST : lease,
        description: (arg('NewPortMappingDescription') ?? '').slice(0, 256),
      });
      if (r.ok) return ok([]);
      if (r.why === 'port-taken' || r.why === 'external-port') return fault(UpnpError.conflictInMappingEntry);
      if (r.why === 'quota' || r.why === 'no-port' || r.why === 'limit') return fault(UpnpError.actionFailed);
      return fault(UpnpError.notAuthorized);
    }
    case 'DeletePortMapping': {
      const ext = port(arg('NewExternalPort'));
      const proto = protocol(arg('NewProtocol'));
      if (ext === null || proto === null) return fault(UpnpError.invalidArgs);
      const m = service.findExternal(proto, ext);
      if (!m) return fault(UpnpError.noSuchEntry);
      if (m.insideAddr !== source) return fault(UpnpError.notAuthorized);
      service.remove('upnp', m);
      return ok([]);
    }
    case 'GetSpecificPortMappingEntry': {
      const ext = port(arg('NewExternalPort'));
      const proto = protocol(arg('NewProtocol'));
      if (ext === null || proto === null) return fault(UpnpError.invalidArgs);
      const m = service.findExternal(proto, ext);
      if (!m) return fault(UpnpError.noSuchEntry);
      return ok([
        ['NewInternalPort', m.insidePort],
        ['NewInternalClient', ipv4ToString(m.insideAddr)],
        ['NewEnabled', 1],
        ['NewPortMappingDescription', m.description],
        ['NewLeaseDuration', service.remainingSeconds(m)],
      ]);
    }
    case 'GetGenericPortMappingEntry': {
      const index = port(arg('NewPortMappingIndex'));
      if (index === null) return fault(UpnpError.invalidArgs);
      const all = service.list().sort((x, y) => x.id - y.id);
      const m = all[index];
      if (!m) return fault(UpnpError.arrayIndexInvalid);
      return ok([
        ['NewRemoteHost', ''],
        ['NewExternalPort', m.publicPort],
        ['NewProtocol', m.proto === 17 ? 'UDP' : 'TCP'],
        ['NewInternalPort', m.insidePort],
        ['NewInternalClient', ipv4ToString(m.insideAddr)],
        ['NewEnabled', 1],
        ['NewPortMappingDescription', m.description],
        ['NewLeaseDuration', service.remainingSeconds(m)],
      ]);
    }
    default:
      return fault(UpnpError.invalidAction);
  }
}

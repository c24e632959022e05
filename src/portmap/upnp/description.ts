/**
 * The UPnP descriptions a control point reads after discovery: the root
 * device (an InternetGatewayDevice:1 holding a WANDevice holding a
 * WANConnectionDevice with the WANIPConnection:1 service, and the
 * WANCommonInterfaceConfig:1 service on the WANDevice), and each service's
 * actions (SCPD). Only what the gateway implements is listed.
 */
import { escapeXml } from './xml.js';

export const IGD_DEVICE = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1';
export const WAN_DEVICE = 'urn:schemas-upnp-org:device:WANDevice:1';
export const WAN_CONNECTION_DEVICE = 'urn:schemas-upnp-org:device:WANConnectionDevice:1';
export const WANIP_SERVICE = 'urn:schemas-upnp-org:service:WANIPConnection:1';
export const WANCOMMON_SERVICE = 'urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1';

/** The paths the HTTP server answers. */
export const UPNP_PATHS = {
  root: '/rootDesc.xml',
  wanipScpd: '/WANIPCn.xml',
  wancommonScpd: '/WANCfg.xml',
  wanipControl: '/ctl/IPConn',
  wancommonControl: '/ctl/CmnIfCfg',
  wanipEvents: '/evt/IPConn',
  wancommonEvents: '/evt/CmnIfCfg',
} as const;

/** Device and service types a search may name (SSDP answers each). */
export const UPNP_TYPES = [IGD_DEVICE, WAN_DEVICE, WAN_CONNECTION_DEVICE, WANIP_SERVICE, WANCOMMON_SERVICE] as const;

export function rootDescription(o: { uuid: string; baseUrl: string; friendlyName: string }): string {
  const device = (type: string, name: string, uuidSuffix: string, services: string, devices: string) =>
    `<device><deviceType>${type}</deviceType><friendlyName>${escapeXml(name)}</friendlyName><manufacturer>masq</manufacturer>` +
    `<modelName>masq gateway</modelName><UDN>${o.uuid}${uuidSuffix}</UDN><serviceList>${services}</serviceList>${devices ? `<deviceList>${devices}</deviceList>` : ''}</device>`;
  const service = (type: string, id: string, scpd: string, control: string, events: string) =>
    `<service><serviceType>${type}</serviceType><serviceId>urn:upnp-org:serviceId:${id}</serviceId><SCPDURL>${scpd}</SCPDURL><controlURL>${control}</controlURL><eventSubURL>${events}</eventSubURL></service>`;
  const wanip = service(WANIP_SERVICE, 'WANIPConn1', UPNP_PATHS.wanipScpd, UPNP_PATHS.wanipControl, UPNP_PATHS.wanipEvents);
  const wancommon = service(WANCOMMON_SERVICE, 'WANCommonIFC1', UPNP_PATHS.wancommonScpd, UPNP_PATHS.wancommonControl, UPNP_PATHS.wancommonEvents);
  const connection = device(WAN_CONNECTION_DEVICE, 'WAN connection', '-3', wanip, '');
  const wan = device(WAN_DEVICE, 'WAN', '-2', wancommon, connection);
  return (
    '<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>' +
    `<URLBase>${escapeXml(o.baseUrl)}</URLBase>${device(IGD_DEVICE, o.friendlyName, '', '', wan)}</root>\r\n`
  );
}

type Arg = [name: string, direction: 'in' | 'out', stateVariable: string];

const WANIP_ACTIONS: Record<string, Arg[]> = {
  GetConnectionTypeInfo: [['NewConnectionType', 'out', 'ConnectionType'], ['NewPossibleConnectionTypes', 'out', 'PossibleConnectionTypes']],
  GetStatusInfo: [['NewConnectionStatus', 'out', 'ConnectionStatus'], ['NewLastConnectionError', 'out', 'LastConnectionError'], ['NewUptime', 'out', 'Uptime']],
  GetExternalIPAddress: [['NewExternalIPAddress', 'out', 'ExternalIPAddress']],
  AddPortMapping: [
    ['NewRemoteHost', 'in', 'RemoteHost'],
    ['NewExternalPort', 'in', 'ExternalPort'],
    ['NewProtocol', 'in', 'PortMappingProtocol'],
    ['NewInternalPort', 'in', 'InternalPort'],
    ['NewInternalClient', 'in', 'InternalClient'],
    ['NewEnabled', 'in', 'PortMappingEnabled'],
    ['NewPortMappingDescription', 'in', 'PortMappingDescription'],
    ['NewLeaseDuration', 'in', 'PortMappingLeaseDuration'],
  ],
  DeletePortMapping: [['NewRemoteHost', 'in', 'RemoteHost'], ['NewExternalPort', 'in', 'ExternalPort'], ['NewProtocol', 'in', 'PortMappingProtocol']],
  GetSpecificPortMappingEntry: [
    ['NewRemoteHost', 'in', 'RemoteHost'],
    ['NewExternalPort', 'in', 'ExternalPort'],
    ['NewProtocol', 'in', 'PortMappingProtocol'],
    ['NewInternalPort', 'out', 'InternalPort'],
    ['NewInternalClient', 'out', 'InternalClient'],
    ['NewEnabled', 'out', 'PortMappingEnabled'],
    ['NewPortMappingDescription', 'out', 'PortMappingDescription'],
    ['NewLeaseDuration', 'out', 'PortMappingLeaseDuration'],
  ],
  GetGenericPortMappingEntry: [
    ['NewPortMappingIndex', 'in', 'PortMappingNumberOfEntries'],
    ['NewRemoteHost', 'out', 'RemoteHost'],
    ['NewExternalPort', 'out', 'ExternalPort'],
    ['NewProtocol', 'out', 'PortMappingProtocol'],
    ['NewInternalPort', 'out', 'InternalPort'],
    ['NewInternalClient', 'out', 'InternalClient'],
    ['NewEnabled', 'out', 'PortMappingEnabled'],
    ['NewPortMappingDescription', 'out', 'PortMappingDescription'],
    ['NewLeaseDuration', 'out', 'PortMappingLeaseDuration'],
  ],
};

const WANIP_VARIABLES: Array<[string, string]> = [
  ['ConnectionType', 'string'],
  ['PossibleConnectionTypes', 'string'],
  ['ConnectionStatus', 'string'],
  ['Uptime', 'ui4'],
  ['LastConnectionError', 'string'],
  ['ExternalIPAddress', 'string'],
  ['PortMappingNumberOfEntries', 'ui2'],
  ['PortMappingEnabled', 'boolean'],
  ['PortMappingLeaseDuration', 'ui4'],
  ['RemoteHost', 'string'],
  ['ExternalPort', 'ui2'],
  ['InternalPort', 'ui2'],
  ['PortMappingProtocol', 'string'],
  ['InternalClient', 'string'],
  ['PortMappingDescription', 'string'],
];

const WANCOMMON_ACTIONS: Record<string, Arg[]> = {
  GetCommonLinkProperties: [
    ['NewWANAccessType', 'out', 'WANAccessType'],
    ['NewLayer1UpstreamMaxBitRate', 'out', 'Layer1UpstreamMaxBitRate'],
    ['NewLayer1DownstreamMaxBitRate', 'out', 'Layer1DownstreamMaxBitRate'],
    ['NewPhysicalLinkStatus', 'out', 'PhysicalLinkStatus'],
  ],
};

const WANCOMMON_VARIABLES: Array<[string, string]> = [
  ['WANAccessType', 'string'],
  ['Layer1UpstreamMaxBitRate', 'ui4'],
  ['Layer1DownstreamMaxBitRate', 'ui4'],
  ['PhysicalLinkStatus', 'string'],
];

function scpd(actions: Record<string, Arg[]>, variables: Array<[string, string]>): string {
  const a = Object.entries(actions)
    .map(
      ([name, args]) =>
        `<action><name>${name}</name><argumentList>${args.map(([n, d, v]) => `<argument><name>${n}</name><direction>${d}</direction><relatedStateVariable>${v}</relatedStateVariable></argument>`).join('')}</argumentList></action>`,
    )
    .join('');
  const v = variables.map(([n, t]) => `<stateVariable sendEvents="no"><name>${n}</name><dataType>${t}</dataType></stateVariable>`).join('');
  return `<?xml version="1.0"?>\r\n<scpd xmlns="urn:schemas-upnp-org:service-1-0"><specVersion><major>1</major><minor>0</minor></specVersion><actionList>${a}</actionList><serviceStateTable>${v}</serviceStateTable></scpd>\r\n`;
}

export const WANIP_SCPD = scpd(WANIP_ACTIONS, WANIP_VARIABLES);
export const WANCOMMON_SCPD = scpd(WANCOMMON_ACTIONS, WANCOMMON_VARIABLES);

/**
 * SOAP for UPnP control (UPnP Device Architecture 1.1, section 3): an action
 * arrives as an HTTP POST with a SOAPACTION header naming service and action,
 * and a body whose action element holds the arguments; the answer is the
 * action's response element, or a UPnPError fault with a code.
 */
import { childTexts, escapeXml } from './xml.js';

export interface SoapAction {
  service: string;
  action: string;
  args: Map<string, string>;
}

/** The UPnPError codes IGD's WANIPConnection uses (WANIPConnection:1 and :2 specifications). */
export const UpnpError = {
  invalidAction: 401,
  invalidArgs: 402,
  actionFailed: 501,
  notAuthorized: 606,
  arrayIndexInvalid: 713,
  noSuchEntry: 714,
  wildcardSourceNotPermitted: 715,
  wildcardExternalPortNotPermitted: 716,
  conflictInMappingEntry: 718,
  samePortValuesRequired: 724,
  onlyPermanentLeases: 725,
  remoteHostOnlyWildcard: 726,
  externalPortOnlyWildcard: 727,
} as const;

const DESCRIPTIONS: Record<number, string> = {
  401: 'Invalid Action',
  402: 'Invalid Args',
  501: 'Action Failed',
  606: 'Action not authorized',
  713: 'SpecifiedArrayIndexInvalid',
  714: 'NoSuchEntryInArray',
  715: 'WildCardNotPermittedInSrcIP',
  716: 'WildCardNotPermittedInExtPort',
  718: 'ConflictInMappingEntry',
  724: 'SamePortValuesRequired',
  725: 'OnlyPermanentLeasesSupported',
  726: 'RemoteHostOnlySupportsWildcard',
  727: 'ExternalPortOnlySupportsWildcard',
};

/** Reads an action from the SOAPACTION header and the body; null when it is not one. */
export function parseSoapAction(soapActionHeader: string | undefined, body: string): SoapAction | null {
  const h = /^"?([^"#]+)#([\w-]+)"?$/.exec((soapActionHeader ?? '').trim());
  if (!h) return null;
  const args = childTexts(body, h[2]);
  if (args === null) return null;
  return { service: h[1], action: h[2], args };
}

const envelope = (inner: string) =>
  `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>${inner}</s:Body></s:Envelope>\r\n`;

export function soapResponse(service: string, action: string, out: ReadonlyArray<[string, string | number]>): string {
  const args = out.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  return envelope(`<u:${action}Response xmlns:u="${escapeXml(service)}">${args}</u:${action}Response>`);
}

export function soapFault(code: number, description = DESCRIPTIONS[code] ?? 'Error'): string {
  return envelope(
    `<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${escapeXml(description)}</errorDescription></UPnPError></detail></s:Fault>`,
  );
}

/** For a client: an action request body. */
export function soapRequest(service: string, action: string, args: ReadonlyArray<[string, string | number]>): string {
  return envelope(`<u:${action} xmlns:u="${escapeXml(service)}">${args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('')}</u:${action}>`);
}

/**
 * A flow (RFC 5626's word): the path a message came in on and a reply or a
 * later request must go back out on. For UDP it is the source address and
 * port (the phone's NAT binding) and the listener it reached; for TCP and
 * TLS also the connection itself, because a phone behind a NAT can only be
 * reached over the connection it opened.
 *
 * Flows are written into the proxy's Record-Route and Path URIs as flow
 * tokens, so that requests later in a dialog (or from a registrar using
 * Path) find the phone without the proxy keeping any state for them. A
 * token carries a MAC: the proxy sends only where it wrote a token itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface Flow {
  transport: SipTransport;
  address: string;
  port: number;
  /** The connection (TCP/TLS), 0 for UDP. */
  connId: number;
  /** Index of the proxy's listener the flow uses. */
  listener: number;
}

export function flowKey(f: Flow): string {
  return f.connId !== 0 ? `${f.transport}#${f.connId}` : `${f.transport}:${f.address}:${f.port}`;
}

export function sameFlow(a: Flow, b: Flow): boolean {
  return a.transport === b.transport && a.address === b.address && a.port === b.port && a.connId === b.connId;
}

const TRANSPORT_LETTER: Record<SipTransport, string> = { udp: 'u', tcp: 't', tls: 's' };
const LETTER_TRANSPORT: Record<string, SipTransport> = { u: 'udp', t: 'tcp', s: 'tls' };
const MAC_HEX = 16;

/** Signs and reads flow tokens with one secret (per proxy, or shared by proxies that read each other's). */
export class FlowTokens {
  constructor(private readonly secret: Uint8Array) {}

  private mac(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('hex').slice(0, MAC_HEX);
  }

  /** `role` binds the token to its place (a Record-Route side, a Path), so one cannot be reused as the other. */
  encode(role: string, f: Flow): string {
    const body = `${TRANSPORT_LETTER[f.transport]}${f.listener}~${f.address}~${f.port}~${f.connId}`;
    return `${body}~${this.mac(`${role}|${body}`)}`;
  }

  /** The flow a token names, or null when it is malformed or its MAC is wrong. */
  decode(role: string, token: string): Flow | null {
    const parts = token.split('~');
    if (parts.length !== 5) return null;
    const [head, address, portText, connText, mac] = parts;
    const transport = LETTER_TRANSPORT[head.charAt(0)];
    const listener = Number(head.slice(1));
    const port = Number(portText);
    const connId = Number(connText);
    if (!transport || !Number.isInteger(listener) || listener < 0 || !Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(connId) || connId < 0) return null;
    if (!/^[0-9a-fA-F.:]{2,45}$/.test(address) || mac.length !== MAC_HEX) return null;
    const want = this.mac(`${role}|${parts.slice(0, 4).join('~')}`);
    if (!timingSafeEqual(Buffer.from(want), Buffer.from(mac))) return null;
    return { transport, address, port, connId, listener };
  }
}

/**
 * What the proxy core needs from its transports (UDP, TCP, TLS listeners):
 * the listeners' addresses as they are written into Via, Record-Route and
 * Path, sending on a flow, and reaching an address that has no flow yet.
 * The real listeners are in ../transport/; tests use a fake.
 */
import type { Flow, SipTransport } from './flow.js';

export interface ListenerInfo {
  index: number;
  transport: SipTransport;
  /** The host written into Via, Record-Route and Path (the advertised address). */
  host: string;
  port: number;
}

export interface SipTransportLayer {
  readonly listeners: readonly ListenerInfo[];
  /** Sends on a flow; false when its connection is gone. */
  send(flow: Flow, bytes: Uint8Array): boolean;
  /** A flow to address:port over `transport` (a new TCP/TLS connection when there is none); null when it cannot be had. */
  connect(transport: SipTransport, address: string, port: number): Promise<Flow | null>;
  /** A phone registered over this connection: it stays open however idle (keep-alives and the phone decide). */
  keepOpen?(connId: number, keep: boolean): void;
}

/** The first listener of a transport, or null. */
export function listenerFor(t: SipTransportLayer, transport: SipTransport): ListenerInfo | null {
  for (const l of t.listeners) if (l.transport === transport) return l;
  return null;
}

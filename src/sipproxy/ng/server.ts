/**
 * The ng control protocol over UDP: a SIP proxy (Kamailio's rtpengine
 * module, OpenSIPS's rtpengine module) sends `<cookie> <bencoded command>`
 * and gets `<cookie> <bencoded reply>`. A retransmitted request (same
 * cookie) gets the same reply again, from a cache, and is not run twice.
 *
 * The protocol has no authentication: listen on loopback or a management
 * network only (the configuration's default is loopback).
 */
import dgram from 'node:dgram';
import { NgHandler, type NgCounters, type NgHandlerOptions } from './handler.js';

export type { NgCounters } from './handler.js';

export interface NgServerOptions extends NgHandlerOptions {
  address: string;
  port: number;
  log(event: string, fields: Record<string, unknown>): void;
}

export class NgServer {
  private constructor(
    private readonly sock: dgram.Socket,
    private readonly handler: NgHandler,
  ) {}

  static async start(o: NgServerOptions): Promise<NgServer> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(o.port, o.address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    const handler = new NgHandler(o, (reply, port, address) => sock.send(reply, port, address));
    const s = new NgServer(sock, handler);
    sock.on('error', () => {});
    // A datagram the handler fails on must not become an unhandled rejection (which ends the process).
    sock.on('message', (msg, rinfo) =>
      handler.handle(msg, rinfo.address, rinfo.port).catch((err: unknown) => o.log('ng-error', { from: `${rinfo.address}:${rinfo.port}`, error: String(err) })),
    );
    return s;
  }

  get counters(): NgCounters {
    return this.handler.counters;
  }

  get port(): number {
    return this.sock.address().port;
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      /* closed */
    }
  }
}

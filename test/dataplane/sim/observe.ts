/** Helpers for black-box NAT tests in the sim: what each side observes. */
import type { SimHost } from '../../../src/dataplane/sim/index.js';
import type { Endpoint, UdpSocket } from '../../../src/net/udp.js';

export const text = (s: string) => new TextEncoder().encode(s);
export const ep = (e: Endpoint) => `${e.address}:${e.port}`;

/** A UDP socket that records who it heard from (and what), optionally echoing. */
export class Observer {
  readonly seen: Array<{ from: string; data: string }> = [];
  readonly socket: UdpSocket;
  constructor(host: SimHost, port: number, echo = true) {
    this.socket = host.bindUdp({ port });
    this.socket.onMessage((d, from) => {
      this.seen.push({ from: ep(from), data: new TextDecoder().decode(d) });
      if (echo) this.socket.send(d, from);
    });
  }
  get sources(): string[] {
    return this.seen.map((s) => s.from);
  }
  get last(): string | undefined {
    return this.seen.at(-1)?.from;
  }
  sendTo(to: string, data = 'x'): void {
    const [address, port] = to.split(':');
    this.socket.send(text(data), { address, port: Number(port) });
  }
}

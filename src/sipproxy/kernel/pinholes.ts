/**
 * Pinholes for the relay ports of live calls: a port enters the table's
 * `live` set when a call takes it and leaves when the call frees it. The
 * set mirrors the relay's own view (`ports` tracks it), so the lab can check
 * that no call left a port behind.
 */
import type { PinholeControl } from '../media/relay.js';
import type { NftSession } from './nft-session.js';

export class NftPinholes {
  /** The ports in the set now. */
  readonly ports = new Set<number>();
  opened = 0;
  closed = 0;

  constructor(
    private readonly session: NftSession,
    private readonly table: string,
  ) {}

  openPorts(ports: readonly number[]): void {
    const fresh = ports.filter((p) => !this.ports.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.ports.add(p);
    this.opened += fresh.length;
    void this.session.run([`add element ${this.table} live { ${fresh.join(', ')} }`]);
  }

  closePorts(ports: readonly number[]): void {
    const held = ports.filter((p) => this.ports.has(p));
    if (held.length === 0) return;
    for (const p of held) this.ports.delete(p);
    this.closed += held.length;
    void this.session.run([`delete element ${this.table} live { ${held.join(', ')} }`]);
  }
}

/** The PinholeControl view the relay calls. */
export function pinholeControl(p: NftPinholes): PinholeControl {
  return { open: (ports) => p.openPorts(ports), close: (ports) => p.closePorts(ports) };
}

/**
 * Pinholes for the relay ports of live calls: a port enters the table's
 * `live` set when a call takes it and leaves when the call frees it. The
 * set mirrors the relay's own view (`ports` tracks it), so the lab can check
 * that no call left a port behind.
 *
 * The changes of one turn of the event loop go to nft together (one delete
 * and one add command for all of them): nft takes each command as a
 * transaction of its own, and when hundreds of calls are set up in a second
 * a command per call falls seconds behind, while media to the ports it has
 * not opened yet is dropped.
 */
import type { PinholeControl } from '../media/relay.js';
import type { NftSession } from './nft-session.js';

export class NftPinholes {
  /** The ports in the set now (as the relay sees it; nft follows at the end of the turn). */
  readonly ports = new Set<number>();
  /** The ports as last sent to nft. */
  private readonly sent = new Set<number>();
  private scheduled = false;
  opened = 0;
  closed = 0;
  /** nft commands sent (each carries every change of one turn). */
  batches = 0;

  constructor(
    private readonly session: NftSession,
    private readonly table: string,
  ) {}

  openPorts(ports: readonly number[]): void {
    let changed = false;
    for (const p of ports) {
      if (this.ports.has(p)) continue;
      this.ports.add(p);
      this.opened++;
      changed = true;
    }
    if (changed) this.schedule();
  }

  closePorts(ports: readonly number[]): void {
    let changed = false;
    for (const p of ports) {
      if (!this.ports.delete(p)) continue;
      this.closed++;
      changed = true;
    }
    if (changed) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what changed since the last flush: ports closed, then ports opened. */
  flush(): void {
    this.scheduled = false;
    const gone = [...this.sent].filter((p) => !this.ports.has(p));
    const fresh = [...this.ports].filter((p) => !this.sent.has(p));
    const commands: string[] = [];
    if (gone.length > 0) commands.push(`delete element ${this.table} live { ${gone.join(', ')} }`);
    if (fresh.length > 0) commands.push(`add element ${this.table} live { ${fresh.join(', ')} }`);
    for (const p of gone) this.sent.delete(p);
    for (const p of fresh) this.sent.add(p);
    if (commands.length === 0) return;
    this.batches++;
    void this.session.run(commands);
  }
}

/** The PinholeControl view the relay calls. */
export function pinholeControl(p: NftPinholes): PinholeControl {
  return { open: (ports) => p.openPorts(ports), close: (ports) => p.closePorts(ports) };
}

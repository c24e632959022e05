/**
 * Pinholes for the relay ports of live calls: a port enters the table's
 * `live` set when a call takes it and leaves when the call frees it. The
 * set mirrors the relay's own view (`ports` tracks it), so the lab can check
 * that no call left a port behind.
 *
 * Changes are committed in groups: while one nft batch is in flight, the
 * ports opened and closed meanwhile wait and then go out together, as one
 * `delete element` and one `add element` (a port opened and closed before
 * its turn costs nothing). A burst of calls is then a few nft transactions,
 * not one per stream, and a port's wait is at most the batch in flight plus
 * its own. openPorts() resolves once nft has the port: the relay holds its
 * SDP until then (relay.ts).
 */
import type { PinholeControl } from '../media/relay.js';
import type { NftSession } from '../../net/nft-session.js';

export class NftPinholes {
  /** The ports in the set now (or about to be: their batch is pending or in flight). */
  readonly ports = new Set<number>();
  opened = 0;
  closed = 0;
  /** nft batches sent (each at most one delete and one add). */
  batches = 0;
  private readonly toAdd = new Set<number>();
  private readonly toDelete = new Set<number>();
  private inFlight: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(
    private readonly session: NftSession,
    private readonly table: string,
  ) {}

  openPorts(ports: readonly number[]): Promise<void> {
    const fresh = ports.filter((p) => !this.ports.has(p));
    if (fresh.length === 0) return this.next ?? this.inFlight ?? Promise.resolve();
    for (const p of fresh) {
      this.ports.add(p);
      // Still in the kernel's set if its delete has not gone out yet.
      if (!this.toDelete.delete(p)) this.toAdd.add(p);
    }
    this.opened += fresh.length;
    return this.schedule();
  }

  closePorts(ports: readonly number[]): void {
    const held = ports.filter((p) => this.ports.has(p));
    if (held.length === 0) return;
    for (const p of held) {
      this.ports.delete(p);
      if (!this.toAdd.delete(p)) this.toDelete.add(p);
    }
    this.closed += held.length;
    void this.schedule();
  }

  /** The batch that will carry what is pending now: after the one in flight, if any. */
  private schedule(): Promise<void> {
    this.next ??= (this.inFlight ?? Promise.resolve()).then(() => {
      this.next = null;
      const commands: string[] = [];
      if (this.toDelete.size > 0) commands.push(`delete element ${this.table} live { ${[...this.toDelete].join(', ')} }`);
      if (this.toAdd.size > 0) commands.push(`add element ${this.table} live { ${[...this.toAdd].join(', ')} }`);
      this.toDelete.clear();
      this.toAdd.clear();
      if (commands.length === 0) return;
      this.batches++;
      const sent = this.session.run(commands);
      this.inFlight = sent;
      void sent.then(() => {
        if (this.inFlight === sent) this.inFlight = null;
      });
      return sent;
    });
    return this.next;
  }
}

/** The PinholeControl view the relay calls. */
export function pinholeControl(p: NftPinholes): PinholeControl {
  return { open: (ports) => p.openPorts(ports), close: (ports) => p.closePorts(ports) };
}

/**
 * The addresses to overwrite in one message: each an offset to 4 address
 * octets followed by 2 port octets, as the PER walker found them. The
 * message is never re-encoded: the new bytes go where the old ones were, so
 * nothing else in it changes, whichever version of H.225.0 or H.245 wrote it.
 */
import type { HandleResult } from '../helper.js';
import { slabMemory } from '../slab-memory.js';

const MAX_EDITS = 512;

export class AddressEdits {
  count = 0;
  private readonly addr = new Uint32Array(MAX_EDITS);
  private readonly port = new Uint16Array(MAX_EDITS);
  /** Each edit's (start, end) in the message: where it writes, and what the framework writes into the packet. */
  private readonly spans = new Int32Array(2 * MAX_EDITS);

  clear(): void {
    this.count = 0;
  }

  /** Records one overwrite; false when the message has more than MAX_EDITS (it is then left as it is). */
  add(offset: number, addr: number, port: number): boolean {
    if (this.count >= MAX_EDITS) return false;
    this.addr[this.count] = addr;
    this.port[this.count] = port;
    this.spans[2 * this.count] = offset;
    this.spans[2 * this.count + 1] = offset + 6;
    this.count++;
    return true;
  }

  /** The handler's answer: `message` with every recorded address written in, and where; or pass, when there is none. */
  result(message: Uint8Array): HandleResult {
    if (this.count === 0) return { kind: 'pass' };
    return { kind: 'rewrite', bytes: this.apply(message), changed: this.spans, changedCount: this.count };
  }

  /** A copy of `message` with every recorded address written in. */
  private apply(message: Uint8Array): Uint8Array {
    const out = slabMemory(message.length);
    out.set(message);
    for (let i = 0; i < this.count; i++) writeAddress(out, this.spans[2 * i], this.addr[i], this.port[i]);
    return out;
  }
}

export function writeAddress(b: Uint8Array, at: number, addr: number, port: number): void {
  b[at] = addr >>> 24;
  b[at + 1] = (addr >>> 16) & 0xff;
  b[at + 2] = (addr >>> 8) & 0xff;
  b[at + 3] = addr & 0xff;
  b[at + 4] = port >>> 8;
  b[at + 5] = port & 0xff;
}

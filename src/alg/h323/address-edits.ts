/**
 * The addresses to overwrite in one message: each an offset to 4 address
 * octets followed by 2 port octets, as the PER walker found them. The
 * message is never re-encoded: the new bytes go where the old ones were, so
 * nothing else in it changes, whichever version of H.225.0 or H.245 wrote it.
 */

const MAX_EDITS = 512;

export class AddressEdits {
  count = 0;
  private readonly offset = new Int32Array(MAX_EDITS);
  private readonly addr = new Uint32Array(MAX_EDITS);
  private readonly port = new Uint16Array(MAX_EDITS);

  clear(): void {
    this.count = 0;
  }

  /** Records one overwrite; false when the message has more than MAX_EDITS (it is then left as it is). */
  add(offset: number, addr: number, port: number): boolean {
    if (this.count >= MAX_EDITS) return false;
    this.offset[this.count] = offset;
    this.addr[this.count] = addr;
    this.port[this.count] = port;
    this.count++;
    return true;
  }

  /** A copy of `message` with every recorded address written in. */
  apply(message: Uint8Array): Uint8Array {
    const out = messageMemory(message.length);
    out.set(message);
    for (let i = 0; i < this.count; i++) writeAddress(out, this.offset[i], this.addr[i], this.port[i]);
    return out;
  }
}

/**
 * Memory for a rewritten message. A typed array with its own backing store
 * costs more than the copy itself for a message of a few hundred octets (the
 * store lives outside the JS heap, and the collector tracks each one), so
 * messages are carved from shared slabs, as Node's Buffer pool does: each a
 * distinct range never handed out again (a message may be kept by whoever
 * it is returned to), its `buffer` the slab.
 */
const SLAB_SIZE = 64 * 1024;
const POOLED_MAX = 4 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

function messageMemory(length: number): Uint8Array {
  if (length > POOLED_MAX) return new Uint8Array(length);
  if (slabUsed + length > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, length);
  slabUsed += (length + 7) & ~7;
  return out;
}

export function writeAddress(b: Uint8Array, at: number, addr: number, port: number): void {
  b[at] = addr >>> 24;
  b[at + 1] = (addr >>> 16) & 0xff;
  b[at + 2] = (addr >>> 8) & 0xff;
  b[at + 3] = addr & 0xff;
  b[at + 4] = port >>> 8;
  b[at + 5] = port & 0xff;
}

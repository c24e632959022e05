/**
 * Memory for a rewritten packet or message. A fresh typed array of a few
 * hundred bytes costs more than filling it (its backing store lives outside
 * the JS heap, and the collector tracks each one), so arrays up to
 * POOLED_MAX bytes are carved from shared slabs, as Node's Buffer pool does:
 * each is a distinct range never handed out again (whoever gets one may keep
 * it), zero-filled like a new array; its `buffer` is the slab (use
 * byteOffset with it).
 */
const SLAB_SIZE = 64 * 1024;
const POOLED_MAX = 4 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

export function slabMemory(length: number): Uint8Array {
  if (length > POOLED_MAX) return new Uint8Array(length);
  if (slabUsed + length > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, length);
  slabUsed += (length + 7) & ~7;
  return out;
}

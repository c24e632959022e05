/** Ids, nonces and small text helpers shared by the server, the client and the relay. */

/** 8 random bytes as 16 hex digits, from a source of uniform numbers in [0, 1). */
export function randomId(random: () => number): string {
  let s = '';
  for (let i = 0; i < 2; i++) s += Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0');
  return s;
}

/** Cuts a string so that its UTF-8 form fits in `maxBytes`. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = s;
  while (out.length > 0 && Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}

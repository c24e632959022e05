/**
 * Uniform random sources for the engine's port choice. A real gateway uses
 * the OS CSPRNG: public ports must not be guessable (RFC 6056). The simulator
 * passes a seeded source instead, so its runs repeat.
 */

/** A uniform [0, 1) source. */
export type UniformSource = () => number;

/** Uniform [0, 1) from the OS CSPRNG (Web Crypto), refilled 1024 values at a time. */
export function cryptoUniform(): UniformSource {
  const pool = new Uint32Array(1024);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      globalThis.crypto.getRandomValues(pool);
      next = 0;
    }
    return pool[next++] / 0x1_0000_0000;
  };
}

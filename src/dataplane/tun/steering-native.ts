/**
 * Attaches the queue-steering programs (native/tun_steering.cc) to a pair of
 * multi-queue TUN devices: by inside host on the inside device, by public
 * port through a table (steering.ts) on the outside one. Needs root (or
 * CAP_BPF with CAP_NET_ADMIN) and a kernel with TUNSETSTEERINGEBPF (4.19+).
 */
import { loadTunAddon, TunError } from './native.js';
import { nonZeroEntries, STEERING_TABLE_SIZE } from './steering.js';

export class QueueSteering {
  #mapFd: number;
  readonly #insideFd: number;
  readonly #outsideFd: number;

  private constructor(insideFd: number, outsideFd: number, mapFd: number) {
    this.#insideFd = insideFd;
    this.#outsideFd = outsideFd;
    this.#mapFd = mapFd;
  }

  /** Attaches both programs through any queue's fd of each device and fills the outside table. */
  static attach(insideFd: number, outsideFd: number, table: Uint32Array): QueueSteering {
    if (table.length !== STEERING_TABLE_SIZE) throw new RangeError(`a steering table has ${STEERING_TABLE_SIZE} entries, not ${table.length}`);
    const addon = loadTunAddon();
    const wrap = (what: string, fn: () => number): number => {
      try {
        return fn();
      } catch (err) {
        throw new TunError(
          'TUN_IO_ERROR',
          `Could not attach the queue-steering program to the ${what} TUN device (${(err as Error).message}). ` +
            'It needs root (or CAP_BPF and CAP_NET_ADMIN) and Linux 4.19 or later; run with dataplane.queues: 1 otherwise.',
          { cause: err },
        );
      }
    };
    wrap('inside', () => addon.steeringAttach(insideFd, false));
    const mapFd = wrap('outside', () => addon.steeringAttach(outsideFd, true));
    const steering = new QueueSteering(insideFd, outsideFd, mapFd);
    steering.update(table);
    return steering;
  }

  /** Writes the table's non-zero entries (the map starts zeroed); entries set to 0 later must be passed by update(). */
  update(table: Uint32Array, previous?: Uint32Array): number {
    const addon = loadTunAddon();
    if (previous === undefined) {
      const { keys, values } = nonZeroEntries(table);
      return addon.steeringSet(this.#mapFd, keys, values, keys.length);
    }
    const keys: number[] = [];
    for (let i = 0; i < table.length; i++) if (table[i] !== previous[i]) keys.push(i);
    const k = Uint32Array.from(keys);
    return addon.steeringSet(this.#mapFd, k, Uint32Array.from(keys, (i) => table[i]), k.length);
  }

  /** Detaches both programs (the kernel falls back to its own flow hash) and frees the table. Idempotent. */
  close(): void {
    if (this.#mapFd < 0) return;
    const addon = loadTunAddon();
    for (const fd of [this.#insideFd, this.#outsideFd]) {
      try {
        addon.steeringDetach(fd);
      } catch {
        // The device is already gone with its program.
      }
    }
    addon.steeringClose(this.#mapFd);
    this.#mapFd = -1;
  }
}

/**
 * What changed in the engine since a shell last asked: the change feed a
 * persistent store or a standby's replication reads (src/gateway/state).
 *
 * Only what makes state: a flow created (its id and creation time, read
 * whole when the feed is drained) or removed (its tuple, since its row is
 * gone by then), and the ids of expectations and port mappings that were
 * opened, changed or closed. Packets on established flows record nothing:
 * their refreshed times reach the store with the next full snapshot.
 *
 * Off until a shell enables it (one branch per new flow then). Bounded: past
 * `capacity` pending flow changes the feed stops recording and says it
 * overflowed; the shell then takes a full snapshot instead.
 */
import { grown } from './typed-grow.js';

/** Flow changes held between two drains before the feed gives up and asks for a snapshot. */
export const DEFAULT_FEED_CAPACITY = 1 << 18;

/** A drained feed: what to read from the engine (new flows, expectations, port mappings) and what is gone. */
export interface FeedDrain {
  /** The feed overflowed: only a full snapshot says what the state is. */
  overflowed: boolean;
  /** Flows created since the last drain: id and creation time (the row is theirs while `created` matches). */
  added: { ids: Int32Array; created: Float64Array };
  /** Flows removed since the last drain, by tuple: proto, inside addr and port, remote addr and port. */
  removed: { proto: Uint8Array; inAddr: Uint32Array; inPort: Uint16Array; remAddr: Uint32Array; remPort: Uint16Array };
  expectations: number[];
  portMappings: number[];
}

export class ChangeFeed {
  enabled = false;
  private overflowed = false;
  private addedCount = 0;
  private addedIds = new Int32Array(256);
  private addedCreated = new Float64Array(256);
  private removedCount = 0;
  private rProto = new Uint8Array(256);
  private rInAddr = new Uint32Array(256);
  private rInPort = new Uint16Array(256);
  private rRemAddr = new Uint32Array(256);
  private rRemPort = new Uint16Array(256);
  private readonly expectationIds = new Set<number>();
  private readonly portMappingIds = new Set<number>();

  constructor(private readonly capacity = DEFAULT_FEED_CAPACITY) {}

  /** Changes waiting to be drained. */
  get pending(): number {
    return this.addedCount + this.removedCount + this.expectationIds.size + this.portMappingIds.size;
  }

  flowAdded(id: number, created: number): void {
    if (!this.enabled || this.overflowed) return;
    const n = this.addedCount;
    if (n === this.addedIds.length) {
      if (n >= this.capacity) {
        this.overflow();
        return;
      }
      this.addedIds = grown(this.addedIds, this.addedIds.length * 2);
      this.addedCreated = grown(this.addedCreated, this.addedCreated.length * 2);
    }
    this.addedIds[n] = id;
    this.addedCreated[n] = created;
    this.addedCount = n + 1;
  }

  flowRemoved(proto: number, inAddr: number, inPort: number, remAddr: number, remPort: number): void {
    if (!this.enabled || this.overflowed) return;
    const n = this.removedCount;
    if (n === this.rProto.length) {
      if (n >= this.capacity) {
        this.overflow();
        return;
      }
      this.rProto = grown(this.rProto, this.rProto.length * 2);
      this.rInAddr = grown(this.rInAddr, this.rInAddr.length * 2);
      this.rInPort = grown(this.rInPort, this.rInPort.length * 2);
      this.rRemAddr = grown(this.rRemAddr, this.rRemAddr.length * 2);
      this.rRemPort = grown(this.rRemPort, this.rRemPort.length * 2);
    }
    this.rProto[n] = proto;
    this.rInAddr[n] = inAddr;
    this.rInPort[n] = inPort;
    this.rRemAddr[n] = remAddr;
    this.rRemPort[n] = remPort;
    this.removedCount = n + 1;
  }

  expectation(id: number): void {
    if (this.enabled && !this.overflowed) this.expectationIds.add(id);
  }

  portMapping(id: number): void {
    if (this.enabled && !this.overflowed) this.portMappingIds.add(id);
  }

  /** Everything recorded since the last drain (copies), and a fresh start. */
  drain(): FeedDrain {
    const out: FeedDrain = {
      overflowed: this.overflowed,
      added: { ids: this.addedIds.slice(0, this.addedCount), created: this.addedCreated.slice(0, this.addedCount) },
      removed: {
        proto: this.rProto.slice(0, this.removedCount),
        inAddr: this.rInAddr.slice(0, this.removedCount),
        inPort: this.rInPort.slice(0, this.removedCount),
        remAddr: this.rRemAddr.slice(0, this.removedCount),
        remPort: this.rRemPort.slice(0, this.removedCount),
      },
      expectations: [...this.expectationIds],
      portMappings: [...this.portMappingIds],
    };
    this.reset();
    return out;
  }

  /** Forgets what is pending (a full snapshot was taken). */
  reset(): void {
    this.overflowed = false;
    this.addedCount = 0;
    this.removedCount = 0;
    this.expectationIds.clear();
    this.portMappingIds.clear();
  }

  private overflow(): void {
    this.overflowed = true;
    this.addedCount = 0;
    this.removedCount = 0;
    this.expectationIds.clear();
    this.portMappingIds.clear();
  }
}

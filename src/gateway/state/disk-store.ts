/**
 * The gateway's state on local disk: a snapshot and a journal in one
 * directory (docs/state.md says why not SQLite or LMDB).
 *
 *   snapshot   one framed record: the whole state at some moment
 *   journal    framed records appended since: the changes after it
 *   lock       the pid of the gateway using the directory
 *
 * A new snapshot is written beside the old one and renamed over it (a crash
 * leaves the old or the new, whole), then the journal starts again; a journal
 * record whose sequence number is not past the snapshot's is skipped, so a
 * crash between the two steps replays nothing twice. Appends are plain
 * writes: a killed process loses nothing the kernel has; `fsync` also
 * survives power loss, at a price per flush.
 *
 * Loading never fails: a damaged snapshot is reported and the gateway starts
 * clean; a damaged journal is read up to the damage, and the rest reported.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { frameHeader, readFrames } from './frames.js';
import type { StateSink } from './keeper.js';
import { decodeRecord, StateDecodeError, type StateRecord } from './record.js';

export class StateDirInUseError extends Error {
  override name = 'StateDirInUseError';
}

export interface LoadedState {
  /** The snapshot, then the journal records after it, in order; empty for a clean start. */
  records: StateRecord[];
  /** What was damaged and left out, one sentence each. */
  problems: string[];
  /** Bytes read (snapshot and journal). */
  bytes: number;
}

export class DiskStateStore implements StateSink {
  readonly name = 'disk';
  readonly dir: string;
  #journal: number;
  #journalBytes = 0;
  #closed = false;
  readonly #fsync: boolean;

  private constructor(dir: string, fsync: boolean, journal: number) {
    this.dir = dir;
    this.#fsync = fsync;
    this.#journal = journal;
  }

  /**
   * Opens (creating) the directory and takes its lock; StateDirInUseError when
   * another live gateway holds it. Reads nothing: load() does.
   */
  static open(dir: string, options: { fsync?: boolean } = {}): DiskStateStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = join(dir, 'lock');
    if (existsSync(lock)) {
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new StateDirInUseError(`state directory ${dir} is in use by process ${pid}`);
      }
    }
    writeFileSync(lock, `${process.pid}\n`, { mode: 0o600 });
    const journal = openSync(join(dir, 'journal'), 'a', 0o600);
    return new DiskStateStore(dir, options.fsync ?? false, journal);
  }

  /** The saved state: the snapshot and the journal after it, damage reported and left out. */
  load(): LoadedState {
    const problems: string[] = [];
    const snapshotFile = join(this.dir, 'snapshot');
    const journalFile = join(this.dir, 'journal');
    let snapBytes: Uint8Array | null;
    let journalBytes: Uint8Array | null;
    try {
      snapBytes = readIfThere(snapshotFile);
      journalBytes = readIfThere(journalFile);
    } catch (err) {
      return { records: [], problems: [`cannot read the state in ${this.dir} (${(err as Error).message}): started clean`], bytes: 0 };
    }
    const bytes = (snapBytes?.length ?? 0) + (journalBytes?.length ?? 0);
    if (!snapBytes) {
      if (journalBytes && journalBytes.length > 0) problems.push(`journal without a snapshot: ${journalBytes.length} bytes left out`);
      return { records: [], problems, bytes };
    }
    let snapshot: StateRecord;
    try {
      const frames = readFrames(snapBytes);
      if (frames.problem !== null || frames.payloads.length !== 1) throw new StateDecodeError(frames.problem ?? `${frames.payloads.length} records`);
      snapshot = decodeRecord(frames.payloads[0]);
      if (!snapshot.engine.full) throw new StateDecodeError('the snapshot holds changes, not a whole state');
    } catch (err) {
      problems.push(`snapshot ${snapshotFile} is damaged (${(err as Error).message}): started clean, its ${snapBytes.length} bytes and the journal's ${journalBytes?.length ?? 0} left out`);
      return { records: [], problems, bytes };
    }
    const records = [snapshot];
    if (journalBytes && journalBytes.length > 0) {
      const frames = readFrames(journalBytes);
      for (const [i, payload] of frames.payloads.entries()) {
        try {
          const r = decodeRecord(payload);
          // Not past the snapshot: written before it, already in it.
          if (r.seq > snapshot.seq) records.push(r);
        } catch (err) {
          problems.push(`journal record ${i} is damaged (${(err as Error).message}): it and the ${frames.payloads.length - i - 1} after it left out`);
          break;
        }
      }
      if (frames.problem !== null) problems.push(`journal ${journalFile}: ${frames.problem}`);
    }
    return { records, problems, bytes };
  }

  /** Bytes appended to the journal since the last snapshot. */
  get backlogBytes(): number {
    return this.#journalBytes;
  }

  changes(_record: StateRecord, payload: Uint8Array): void {
    this.append(payload);
  }

  snapshot(_record: StateRecord, payload: Uint8Array): void {
    this.writeSnapshot(payload);
  }

  /** Appends an encoded record of changes (record.ts). */
  append(payload: Uint8Array): number {
    if (this.#closed) return 0;
    const bytes = writeFramed(this.#journal, payload);
    if (this.#fsync) fsyncSync(this.#journal);
    this.#journalBytes += bytes;
    return bytes;
  }

  /** Replaces the snapshot with an encoded record of the whole state, then empties the journal. */
  writeSnapshot(payload: Uint8Array): number {
    if (this.#closed) return 0;
    const tmp = join(this.dir, 'snapshot.tmp');
    const fd = openSync(tmp, 'w', 0o600);
    let bytes: number;
    try {
      bytes = writeFramed(fd, payload);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, 'snapshot'));
    ftruncateSync(this.#journal, 0);
    this.#journalBytes = 0;
    return bytes;
  }

  /** Removes saved state (a gateway told to start clean). */
  discard(): void {
    rmSync(join(this.dir, 'snapshot'), { force: true });
    ftruncateSync(this.#journal, 0);
    this.#journalBytes = 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#journal);
    rmSync(join(this.dir, 'lock'), { force: true });
  }
}

function readIfThere(file: string): Uint8Array | null {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A frame's header, then its payload: a frame cut short between the two is found on reading, like any other. */
function writeFramed(fd: number, payload: Uint8Array): number {
  const header = frameHeader(payload);
  writeAll(fd, header);
  writeAll(fd, payload);
  return header.length + payload.length;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

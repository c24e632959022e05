/**
 * Where a daemon's log lines go: its stdout, written so that a slow or
 * stalled reader never stops the daemon. A synchronous write to a full pipe
 * blocks the thread that makes it; in the gateway that thread forwards the
 * packets. Here lines wait in a bounded buffer and go out by asynchronous
 * writes; when the buffer is full a line is dropped and counted, and the
 * daemon reports the count (a warning line once the reader catches up, the
 * gateway's counters and metrics).
 *
 * A pipe is opened again through /proc/self/fd/1 with O_NONBLOCK: a new open
 * file description of the same pipe, so no write can block (a full pipe
 * answers EAGAIN, and the write is retried later), whatever else in the
 * process does with fd 1. Other outputs (a file, a terminal, a socket) are
 * written on fd 1 as they are, still off the main thread.
 */
import { closeSync, constants, fstatSync, openSync, write, writeSync } from 'node:fs';

/** What the output has done so far. */
export interface LogOutputCounters {
  /** Lines written out whole. */
  written: number;
  /** Lines dropped because the buffer was full (the reader fell behind). */
  dropped: number;
  /** Bytes waiting to be written. */
  pendingBytes: number;
}

export interface LogOutputOptions {
  /** The descriptor to write (default 1, stdout). */
  fd?: number;
  /** Bytes of lines held while the reader is slow; beyond it lines are dropped (default 1 MiB). */
  maxBufferBytes?: number;
  /** Open a pipe again with O_NONBLOCK (default true; tests turn it off to check the fallback). */
  reopenPipe?: boolean;
}

/** Lines per write: whole lines, at most PIPE_BUF bytes, so that writes to a pipe stay atomic. */
const PIPE_BUF = 4096;
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 200;

export class BoundedLogOutput {
  readonly #fd: number;
  readonly #ownsFd: boolean;
  /** A write at exit cannot block: a non-blocking pipe, a file or a terminal. */
  readonly #syncSafe: boolean;
  readonly #max: number;
  /** Lines waiting, oldest first; #head is the next to write. */
  #lines: string[] = [];
  #head = 0;
  #pending = 0;
  #writing = false;
  #retryMs = RETRY_FIRST_MS;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  #fdClosed = false;
  #written = 0;
  #dropped = 0;
  readonly #onExit = () => this.flushSync();

  constructor(options: LogOutputOptions = {}) {
    const fd = options.fd ?? 1;
    this.#max = options.maxBufferBytes ?? 1 << 20;
    if (!(this.#max > 0)) throw new Error('maxBufferBytes must be positive');
    const reopened = options.reopenPipe === false ? null : reopenPipeNonBlocking(fd);
    this.#fd = reopened ?? fd;
    this.#ownsFd = reopened !== null;
    this.#syncSafe = this.#ownsFd || isFileOrTerminal(fd);
    outputs.add(this);
    // What is still buffered at exit goes out if the reader takes it now; never waits for it.
    process.on('exit', this.#onExit);
  }

  /** True when the output is a pipe written without blocking. */
  get nonBlocking(): boolean {
    return this.#ownsFd;
  }

  counters(): LogOutputCounters {
    return { written: this.#written, dropped: this.#dropped, pendingBytes: this.#pending };
  }

  /** One log line (pino hands whole lines, newline included). Never blocks. */
  write(line: string): boolean {
    if (this.#closed) {
      this.#dropped++;
      return false;
    }
    // Length in UTF-16 units: a bound, not an exact byte count (log lines are ASCII but for names).
    if (this.#pending + line.length > this.#max) {
      this.#dropped++;
      return false;
    }
    this.#lines.push(line);
    this.#pending += line.length;
    if (!this.#writing && this.#retry === null) this.#next();
    return true;
  }

  /** Writes what the pipe takes now, without waiting; what it does not take stays buffered. */
  flushSync(): void {
    if (this.#writing || !this.#syncSafe) return; // an asynchronous write holds the head lines
    while (this.#head < this.#lines.length) {
      const [chunk, count] = this.#chunk();
      try {
        const n = writeSync(this.#fd, chunk);
        if (n < Buffer.byteLength(chunk)) {
          // A partial write leaves part of a line; what is left is dropped rather than torn further.
          this.#take(count, false);
          return;
        }
        this.#take(count, true);
      } catch {
        return; // EAGAIN (reader stalled) or a closed reader: keep the lines, do not wait
      }
    }
  }

  /**
   * Stops taking lines; waits up to `timeoutMs` for the buffered ones to go
   * out, then drops (and counts) the rest. Resolves with the counters.
   */
  async close(timeoutMs = 1000): Promise<LogOutputCounters> {
    this.#closed = true;
    const deadline = Date.now() + timeoutMs;
    while (this.#head < this.#lines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    const left = this.#lines.length - this.#head;
    this.#dropped += left;
    this.#lines = [];
    this.#head = 0;
    this.#pending = 0;
    process.off('exit', this.#onExit);
    outputs.delete(this);
    if (stdout === this) stdout = null;
    if (!this.#writing) this.#closeFd();
    return this.counters();
  }

  /** The next write: whole lines from the head, up to PIPE_BUF bytes (or one longer line). */
  #chunk(): [text: string, lines: number] {
    let text = this.#lines[this.#head];
    let i = this.#head + 1;
    while (i < this.#lines.length && text.length + this.#lines[i].length <= PIPE_BUF) text += this.#lines[i++];
    return [text, i - this.#head];
  }

  #take(count: number, written: boolean): void {
    for (let i = 0; i < count; i++) this.#pending -= this.#lines[this.#head++].length;
    if (written) this.#written += count;
    else this.#dropped += count;
    if (this.#head === this.#lines.length) {
      this.#lines = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
  }

  #next(): void {
    if (this.#head >= this.#lines.length) return;
    const [chunk, count] = this.#chunk();
    const bytes = Buffer.from(chunk);
    this.#writing = true;
    write(this.#fd, bytes, 0, bytes.length, null, (err, n) => {
      this.#writing = false;
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') {
          this.#later();
          return;
        }
        // The reader is gone (EPIPE) or the output broke: these lines cannot be written.
        this.#take(count, false);
      } else {
        // A partial write to a pipe ends a line early; the rest of that chunk is dropped, not torn further.
        this.#take(count, n === bytes.length);
        this.#retryMs = RETRY_FIRST_MS;
      }
      if (this.#closed && this.#head >= this.#lines.length) this.#closeFd();
      else this.#next();
    });
  }

  #closeFd(): void {
    if (!this.#ownsFd || this.#fdClosed) return;
    this.#fdClosed = true;
    closeSync(this.#fd);
  }

  /** A full pipe: try again after a while (doubling, bounded), without keeping the process alive. */
  #later(): void {
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#next();
    }, this.#retryMs);
    this.#retry.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }
}

/** Every output of this thread (a worker thread has its own), for the daemon's counters. */
const outputs = new Set<BoundedLogOutput>();

let stdout: BoundedLogOutput | null = null;

/** This thread's stdout as a log output, made once (every logger of a daemon shares it). */
export function stdoutLogOutput(): BoundedLogOutput {
  stdout ??= new BoundedLogOutput();
  return stdout;
}

/** The sum of the counters of this thread's log outputs. */
export function logOutputCounters(): LogOutputCounters {
  const sum = { written: 0, dropped: 0, pendingBytes: 0 };
  for (const o of outputs) {
    const c = o.counters();
    sum.written += c.written;
    sum.dropped += c.dropped;
    sum.pendingBytes += c.pendingBytes;
  }
  return sum;
}

function isFileOrTerminal(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() || st.isCharacterDevice();
  } catch {
    return false;
  }
}

/** A new O_NONBLOCK open file description of `fd` when it is a pipe; null otherwise. */
function reopenPipeNonBlocking(fd: number): number | null {
  try {
    if (!fstatSync(fd).isFIFO() || process.platform !== 'linux') return null;
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
}

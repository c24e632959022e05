/**
 * One long-lived `nft -i` process for the per-call changes (set and map
 * elements): a call's pinholes cost a line on a pipe, not a process. Each
 * command is its own transaction (a failing one does not undo the others).
 * After a batch's commands comes an element added to a `sync` set (a mark
 * with a one-second timeout, so the set stays nearly empty), and the batch is
 * done when nft shows that element: echoed back (`nft -e`, the default), or
 * in a listing of the set that follows it (`confirm: 'list'`). Errors
 * (stderr) are counted and logged.
 *
 * The table itself is made and removed with `nft -f -` (script()): one
 * atomic transaction, its exit status checked.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface NftSessionOptions {
  /** The nft binary (default "nft"). */
  nft?: string;
  /** The table's family and name, for the sync set: "ip masq_sipproxy". */
  table: string;
  /**
   * How a batch's end is seen: 'echo' (default) runs nft with -e and waits for the sync element to be
   * echoed; 'list' runs it without -e and lists the sync set after adding the element. nft's echo
   * mode costs milliseconds per command, growing with the table's elements (34 ms per flow at none,
   * 170 ms at 2,000, for the gateway's kernel fast path, whose maps carry counters); a listing of the
   * small sync set costs 3 to 6 ms.
   */
  confirm?: 'echo' | 'list';
  log(event: string, fields: Record<string, unknown>): void;
}

const SYNC_TIMEOUT_MS = 5000;

export class NftError extends Error {
  override name = 'NftError';
}

/** Runs an nft script atomically (nft -f -); throws with nft's message when it fails. */
export function nftScript(script: string, nft = 'nft'): void {
  const r = spawnSync(nft, ['-f', '-'], { input: script, encoding: 'utf8', timeout: 15_000 });
  if (r.error) throw new NftError(`${nft}: ${r.error.message}`);
  if (r.status !== 0) throw new NftError(`${nft} -f: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 6).join(' | ')}`);
}

/** Runs one nft command; its stdout, or null when it failed. */
export async function nftCommand(args: readonly string[], nft = 'nft'): Promise<string | null> {
  return new Promise((resolve) => {
    const p = spawn(nft, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', () => resolve(null));
    p.on('close', (code) => resolve(code === 0 ? out : null));
  });
}

/**
 * `nft -i` keeps a command-line history (libedit): it reads $HOME/.nft.history
 * when it starts, adds every line it is given, looks the history up again
 * for each line, and writes it all back when it exits. For a session that
 * is given thousands of lines, and a root whose history file has grown to
 * hundreds of thousands of lines, that was milliseconds of CPU per command
 * (docs/benchmarks.md: 3.6 ms against 0.06 ms), enough for pinholes to open
 * seconds late. So nft runs with a HOME that cannot hold a file (nothing
 * read, nothing written), and a process is replaced after ROTATE_LINES
 * lines, which bounds what its in-memory history costs.
 */
const NO_HOME = '/dev/null';

/** A mark as `nft -e` echoes a sync element ("sync { 0x00000007 timeout 1s ... }"). */
const ECHOED_MARK = /sync \{ (0x[0-9a-fA-F]+|\d+)/g;
/** A mark in a listing of the sync set ("elements = { 0x00000007 timeout 1s expires 998ms, ... }"). */
const LISTED_MARK = /(0x[0-9a-fA-F]+) timeout/g;

/**
 * The marks `re` finds in what the process printed; what follows the last one (or the last 256
 * characters, when none) is kept, so a mark cut between two reads is found in the next.
 */
function scanMarks(p: { out: string }, re: RegExp): number[] {
  const marks: number[] = [];
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(p.out)) !== null) {
    last = re.lastIndex;
    marks.push(Number(m[1]));
  }
  p.out = last > 0 ? p.out.slice(last) : p.out.slice(-256);
  return marks;
}
const ROTATE_LINES = 5000;

interface Batch {
  n: number;
  text: string;
  lines: number;
  /** The waiters of the process it was written to (null while queued). */
  owner: Map<number, () => void> | null;
  confirm(): void;
}

interface NftProcess {
  proc: ChildProcessWithoutNullStreams;
  waiters: Map<number, () => void>;
  out: string;
  lines: number;
}

export class NftSession {
  private current: NftProcess | null = null;
  /** A process being replaced: its stdin is closed, it finishes what it was given. */
  private retiring: Promise<void> | null = null;
  /** Batches made while the retiring process drains (order matters: a delete must follow its add). */
  private queued: Batch[] = [];
  private seq = 0;
  private closed = false;
  errors = 0;
  commands = 0;
  /** nft processes started (one per ROTATE_LINES lines). */
  processes = 0;

  constructor(private readonly o: NftSessionOptions & { rotateLines?: number }) {}

  private start(): NftProcess {
    const proc = spawn(this.o.nft ?? 'nft', this.o.confirm === 'list' ? ['-i'] : ['-e', '-i'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: NO_HOME } });
    const p: NftProcess = { proc, waiters: new Map(), out: '', lines: 0 };
    this.processes++;
    proc.stdout.on('data', (d: Buffer) => this.onOut(p, d.toString()));
    proc.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      for (const line of text.split('\n')) {
        if (line.startsWith('Error')) {
          this.errors++;
          this.o.log('nft-error', { message: line.slice(0, 200) });
        }
      }
    });
    proc.on('error', (err) => this.o.log('nft-error', { message: err.message }));
    proc.on('exit', () => {
      if (this.current === p) this.current = null;
      // Whatever was waiting on this process will not be echoed now.
      for (const w of p.waiters.values()) w();
      p.waiters.clear();
    });
    proc.stdin.on('error', () => {});
    return p;
  }

  private onOut(p: NftProcess, text: string): void {
    p.out += text;
    if (this.o.confirm === 'list') {
      // A listing of the sync set shows the elements added in the last second. nft runs a process's
      // lines in order, so a listing that shows batch n means every batch before it is done too.
      const highest = Math.max(0, ...scanMarks(p, LISTED_MARK));
      for (const [n, w] of p.waiters) {
        if (n > highest) continue;
        p.waiters.delete(n);
        w();
      }
      return;
    }
    for (const n of scanMarks(p, ECHOED_MARK)) {
      const w = p.waiters.get(n);
      if (w) {
        p.waiters.delete(n);
        w();
      }
    }
  }

  /** Closes the current process's input once it has had its lines; the next batches wait for it to exit. */
  private retire(p: NftProcess): void {
    this.current = null;
    this.retiring = new Promise<void>((resolve) => {
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve();
      p.proc.once('exit', () => resolve());
      p.proc.once('error', () => resolve());
      p.proc.stdin.end();
    }).then(() => {
      this.retiring = null;
      const queued = this.queued;
      this.queued = [];
      for (const b of queued) this.send(b);
    });
  }

  private send(b: Batch): void {
    if (this.closed) return b.confirm();
    if (this.retiring) {
      this.queued.push(b);
      return;
    }
    const p = (this.current ??= this.start());
    b.owner = p.waiters;
    p.waiters.set(b.n, b.confirm);
    p.proc.stdin.write(b.text);
    p.lines += b.lines;
    if (p.lines >= (this.o.rotateLines ?? ROTATE_LINES)) this.retire(p);
  }

  /** Runs commands in order; resolves once nft has processed them (or the process is gone). */
  run(commands: readonly string[]): Promise<void> {
    if (this.closed || commands.length === 0) return Promise.resolve();
    const n = (this.seq = (this.seq % 0x7fffffff) + 1);
    this.commands += commands.length;
    return new Promise<void>((resolve) => {
      const b: Batch = {
        n,
        text: `${commands.join('\n')}\nadd element ${this.o.table} sync { ${n} timeout 1s }\n${this.o.confirm === 'list' ? `list set ${this.o.table} sync\n` : ''}`,
        lines: commands.length + (this.o.confirm === 'list' ? 2 : 1),
        owner: null,
        confirm: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // nft answers in milliseconds; a batch never echoed (nft stuck or gone) must not hold its caller forever.
      const timer = setTimeout(() => {
        const waiting = b.owner ? b.owner.delete(n) : this.queued.includes(b);
        if (waiting) {
          this.errors++;
          this.o.log('nft-error', { message: `batch ${n} not confirmed within ${SYNC_TIMEOUT_MS} ms` });
        }
        resolve();
      }, SYNC_TIMEOUT_MS);
      this.send(b);
    });
  }

  close(): void {
    this.closed = true;
    this.current?.proc.stdin.end();
    this.current = null;
    for (const b of this.queued.splice(0)) b.confirm();
  }
}

/**
 * One long-lived `nft -i` process for the per-call changes (set and map
 * elements): a call's pinholes cost a line on a pipe, not a process. Each
 * command is its own transaction (a failing one does not undo the others).
 * `nft -e` echoes what it added, which is how a batch's end is known: after
 * its commands comes an element added to a `sync` set (a mark with a
 * one-second timeout, so the set stays empty), and the batch is done when
 * that element is echoed back. Errors (stderr) are counted and logged.
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

export class NftSession {
  private proc: ChildProcessWithoutNullStreams | null = null;
  private seq = 0;
  private readonly waiters = new Map<number, () => void>();
  private out = '';
  private closed = false;
  errors = 0;
  commands = 0;

  constructor(private readonly o: NftSessionOptions) {}

  private start(): ChildProcessWithoutNullStreams {
    const p = spawn(this.o.nft ?? 'nft', ['-e', '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => this.onOut(d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      for (const line of text.split('\n')) {
        if (line.startsWith('Error')) {
          this.errors++;
          this.o.log('nft-error', { message: line.slice(0, 200) });
        }
      }
    });
    p.on('error', (err) => this.o.log('nft-error', { message: err.message }));
    p.on('exit', () => {
      if (this.proc === p) this.proc = null;
      // Whatever was waiting will not be echoed now.
      for (const w of this.waiters.values()) w();
      this.waiters.clear();
    });
    p.stdin.on('error', () => {});
    return p;
  }

  private onOut(text: string): void {
    this.out += text;
    // A mark is echoed in hex ("sync { 0x00000007 timeout 1s ... }").
    const re = /sync \{ (0x[0-9a-fA-F]+|\d+)/g;
    let m: RegExpExecArray | null;
    let last = 0;
    while ((m = re.exec(this.out)) !== null) {
      last = re.lastIndex;
      const n = Number(m[1]);
      const w = this.waiters.get(n);
      if (w) {
        this.waiters.delete(n);
        w();
      }
    }
    this.out = last > 0 ? this.out.slice(last) : this.out.slice(-256);
  }

  /** Runs commands in order; resolves once nft has processed them (or the process is gone). */
  run(commands: readonly string[]): Promise<void> {
    if (this.closed || commands.length === 0) return Promise.resolve();
    this.proc ??= this.start();
    const n = (this.seq = (this.seq % 0x7fffffff) + 1);
    this.commands += commands.length;
    const done = new Promise<void>((resolve) => {
      // nft answers in milliseconds; a batch never echoed (nft stuck or gone) must not hold its caller forever.
      const timer = setTimeout(() => {
        if (this.waiters.delete(n)) {
          this.errors++;
          this.o.log('nft-error', { message: `batch ${n} not confirmed within ${SYNC_TIMEOUT_MS} ms` });
        }
        resolve();
      }, SYNC_TIMEOUT_MS);
      this.waiters.set(n, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.proc.stdin.write(`${commands.join('\n')}\nadd element ${this.o.table} sync { ${n} timeout 1s }\n`);
    return done;
  }

  close(): void {
    this.closed = true;
    this.proc?.stdin.end();
    this.proc = null;
  }
}

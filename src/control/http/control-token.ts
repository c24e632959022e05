/**
 * The control token of a running daemon: made at start, written to a file
 * only the daemon's user (and root) can read, and read from there by `masq
 * conntrack -D/-F` and `masq gateway --reload` on the same host. Whoever can
 * read it may change the running daemon; everyone else may only look.
 *
 * The file lives in the first of: $RUNTIME_DIRECTORY (systemd's
 * RuntimeDirectory=), /run/masq (when writable), and a private directory
 * under the system's temporary directory; its name carries the status port.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directories a token file may be in, most specific first. */
export function tokenDirectories(): string[] {
  const dirs: string[] = [];
  if (process.env.RUNTIME_DIRECTORY) dirs.push(...process.env.RUNTIME_DIRECTORY.split(':'));
  dirs.push('/run/masq', join(tmpdir(), `masq-${process.getuid?.() ?? 'user'}`));
  return dirs;
}

const fileName = (service: string, port: number) => `${service}-${port}.token`;

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Writes the token (mode 0600) where the CLI will look; returns the path, or null when no directory would take it. */
export function writeControlToken(service: string, port: number, token: string): string | null {
  for (const dir of tokenDirectories()) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, fileName(service, port));
      writeFileSync(path, `${token}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
      return path;
    } catch {
      // Not ours to write (e.g. /run/masq as a non-root user): try the next.
    }
  }
  return null;
}

/** The token of the daemon on `port`, if this user can read its file. */
export function readControlToken(service: string, port: number): { token: string; path: string } | null {
  for (const dir of tokenDirectories()) {
    const path = join(dir, fileName(service, port));
    try {
      if (!statSync(path).isFile()) continue;
      const token = readFileSync(path, 'utf8').trim();
      if (token) return { token, path };
    } catch {
      // Missing or not readable by this user: try the next.
    }
  }
  return null;
}

export function removeControlToken(path: string | null): void {
  if (path) rmSync(path, { force: true });
}

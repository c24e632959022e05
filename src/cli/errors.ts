/**
 * Errors meant for the person at the terminal: one line naming what is wrong,
 * no stack trace. Exit codes, the same for every subcommand:
 *
 *   2  a usage mistake: a bad or missing option, an invalid configuration file
 *   1  the command could not do its work (a port in use, a server unreachable)
 */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = EXIT_USAGE,
  ) {
    super(message);
  }
}

const ERRNO_TEXT: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ECONNREFUSED: 'connection refused',
  ENOENT: 'no such file or directory',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/**
 * A system error (a socket that cannot bind, a file that cannot be read) as
 * one line: what was tried, on what, and why. Null for other errors.
 */
export function describeSystemError(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (!(err instanceof Error) || typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return null;
  const where = e.address !== undefined ? `${e.address.includes(':') ? `[${e.address}]` : e.address}${e.port !== undefined ? `:${e.port}` : ''}` : (e.path ?? e.hostname ?? '');
  const what = e.syscall ? `${e.syscall}${where ? ` ${where}` : ''}` : where;
  return `${what ? `${what}: ` : ''}${ERRNO_TEXT[e.code] ?? e.message} (${e.code})`;
}

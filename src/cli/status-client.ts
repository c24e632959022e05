/**
 * The CLI's side of a daemon's operations endpoint (`masq conntrack`,
 * `masq gateway --reload`): requests with the token they need, and errors as
 * one line. Reads send the read token when one is given (--token-file or
 * MASQ_STATUS_TOKEN); changes send the control token the daemon wrote for
 * its own user and root (control-token.ts), or the one given.
 */
import { readFileSync } from 'node:fs';
import { readControlToken } from '../control/http/control-token.js';
import { CliError, EXIT_FAILURE } from './errors.js';

export const DEFAULT_STATUS_URL = 'http://127.0.0.1:8787';

export interface StatusClientOptions {
  status: string;
  tokenFile?: string;
}

export function statusUrl(base: string, path: string): URL {
  try {
    return new URL(path, base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new CliError(`--status ${JSON.stringify(base)} is not a URL such as ${DEFAULT_STATUS_URL}`);
  }
}

function givenToken(o: StatusClientOptions): string | undefined {
  if (o.tokenFile) {
    try {
      return readFileSync(o.tokenFile, 'utf8').split('\n')[0].trim();
    } catch (err) {
      throw new CliError(`--token-file ${o.tokenFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return process.env.MASQ_STATUS_TOKEN || undefined;
}

/** The control token for the daemon at `o.status`: given, or from the file the daemon wrote. */
function controlToken(o: StatusClientOptions, service: string): string {
  const given = givenToken(o);
  if (given) return given;
  const port = Number(statusUrl(o.status, '/').port || 80);
  const found = readControlToken(service, port);
  if (!found) {
    throw new CliError(`no control token for the ${service} on port ${port}: run this as root or as the user the ${service} runs as (it writes the token where only they can read it), or give --token-file`, EXIT_FAILURE);
  }
  return found.token;
}

export interface StatusRequest {
  method?: 'GET' | 'POST';
  /** Needs the control token (a change). */
  control?: boolean;
  /** The service whose control token to look for. */
  service?: string;
  /** No time limit (an event stream). */
  stream?: boolean;
  signal?: AbortSignal;
}

/** Sends a request; a daemon that cannot be reached or answers an error is a CliError naming it. */
export async function statusRequest(o: StatusClientOptions, path: string, r: StatusRequest = {}): Promise<Response> {
  const url = statusUrl(o.status, path);
  const token = r.control ? controlToken(o, r.service ?? 'gateway') : givenToken(o);
  let res: Response;
  try {
    res = await fetch(url, {
      method: r.method ?? 'GET',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(r.signal ? { signal: r.signal } : r.stream ? {} : { signal: AbortSignal.timeout(30_000) }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`cannot reach the status endpoint at ${url.origin} (${cause}): is masq gateway running, with status enabled?`, EXIT_FAILURE);
  }
  if (!res.ok) {
    const text = (await res.text()).trim();
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: the text as it came
    }
    throw new CliError(`${url.pathname}: HTTP ${res.status}: ${message}`, EXIT_FAILURE);
  }
  return res;
}

export async function statusJson<T>(o: StatusClientOptions, path: string, r: StatusRequest = {}): Promise<T> {
  return (await (await statusRequest(o, path, r)).json()) as T;
}

/** Server-sent events from a response body, one { event, data } at a time. */
export async function* serverSentEvents(res: Response): AsyncGenerator<{ event: string; data: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) yield { event, data: data.join('\n') };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

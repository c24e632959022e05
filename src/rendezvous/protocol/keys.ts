/**
 * Session keys. Everyone in a session (the peers, the rendezvous server, the
 * relay) authenticates with one key derived from the session's secret and name,
 * so a secret for one session is useless for another.
 *
 * Where secrets come from, on the server side (SessionKeys):
 * - a master key: each session's secret is HMAC(master, name); the operator
 *   hands it out (`masq rendezvous secret`) and the server needs no list; two
 *   servers sharing a Redis share the master key and agree on every session;
 * - a fixed list of name -> secret;
 * - open: a session nobody configured has the empty secret, so anyone who
 *   knows its name can join (fine on a lab network, said loudly at start).
 */
import { createHmac } from 'node:crypto';

const KDF_SALT = 'masq-rendezvous-v1';

/**
 * HKDF-SHA256 (RFC 5869) of the secret, salted, with the session name as info;
 * one 32-byte block, computed with two HMACs (Node's hkdfSync costs ten times
 * more per call, which a server deriving a key per new session feels).
 */
export function deriveSessionKey(secret: string, session: string): Uint8Array {
  const prk = createHmac('sha256', KDF_SALT).update(secret, 'utf8').digest();
  return new Uint8Array(createHmac('sha256', prk).update(session, 'utf8').update(Uint8Array.of(1)).digest());
}

/** The secret a master key gives a session: what `masq rendezvous secret` prints. */
export function sessionSecretFromMaster(master: Uint8Array, session: string): string {
  return createHmac('sha256', master).update(`masq-session-secret:${session}`).digest('base64url');
}

export interface SessionKeysOptions {
  master?: Uint8Array;
  secrets?: Record<string, string>;
  /** Sessions neither listed nor derivable from a master key use the empty secret. */
  open?: boolean;
}

/** Resolves a session name to its key (or null: the session is not allowed). Cached, bounded. */
export class SessionKeys {
  private readonly cache = new Map<string, Uint8Array | null>();
  private static readonly CACHE_LIMIT = 4096;

  constructor(private readonly o: SessionKeysOptions) {
    if (!o.master && !o.secrets && !o.open) throw new Error('SessionKeys needs a master key, a list of secrets, or open mode');
  }

  get open(): boolean {
    return !!this.o.open && !this.o.master;
  }

  keyFor(session: string): Uint8Array | null {
    const hit = this.cache.get(session);
    if (hit !== undefined) return hit;
    const secret = this.secretOf(session);
    const key = secret === null ? null : deriveSessionKey(secret, session);
    if (this.cache.size >= SessionKeys.CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(session, key);
    return key;
  }

  /**
   * True for a session anyone who knows its name may join (its secret is
   * empty): limits give such sessions only a share, keeping the rest for
   * sessions with a secret.
   */
  isOpenSession(session: string): boolean {
    if (this.o.secrets && Object.hasOwn(this.o.secrets, session)) return this.o.secrets[session] === '';
    return !this.o.master && !!this.o.open;
  }

  private secretOf(session: string): string | null {
    if (this.o.secrets && Object.hasOwn(this.o.secrets, session)) return this.o.secrets[session];
    if (this.o.master) return sessionSecretFromMaster(this.o.master, session);
    if (this.o.open) return '';
    return null;
  }
}

/**
 * Where the proxy keeps registrations and calls: the same kind of store as
 * the rendezvous server's registry (src/rendezvous/server/registry.ts), in
 * memory for one proxy, in Redis for several proxies that serve the same
 * users. Expiry is measured on the wall clock (shared by every proxy), and
 * records read back from Redis are validated: shared state, not trusted
 * input.
 */
import { z } from 'zod';

const flowSchema = z.object({
  transport: z.enum(['udp', 'tcp', 'tls']),
  address: z.string().min(1).max(64),
  port: z.number().int().min(1).max(65535),
  connId: z.number().int().min(0),
  listener: z.number().int().min(0).max(255),
});

export const bindingSchema = z.object({
  /** Address of record: user@domain (domain lower case). */
  aor: z.string().min(1).max(512),
  /** The Contact URI as the phone wrote it. */
  contact: z.string().min(1).max(2048),
  /** Wall-clock ms. */
  expiresAt: z.number(),
  registeredAt: z.number(),
  callId: z.string().max(512),
  cseq: z.number().int().min(0),
  /** q times 1000. */
  q: z.number().int().min(0).max(1000),
  /** Where the REGISTER came from: the phone's NAT binding (and connection). */
  flow: flowSchema,
  /** The proxy holding the flow, and how another proxy reaches it. */
  proxy: z.string().min(1).max(64),
  proxyAddress: z.object({ transport: z.enum(['udp', 'tcp', 'tls']), address: z.string().min(1).max(64), port: z.number().int().min(1).max(65535) }),
  userAgent: z.string().max(256).optional(),
});

export type Binding = z.infer<typeof bindingSchema>;

export interface LocationStore {
  /**
   * Applies a REGISTER's changes to one address of record: bindings added or
   * refreshed, contacts removed. Returns the live bindings afterwards, or
   * 'full' when adding would exceed maxPerAor (nothing is changed then).
   */
  save(aor: string, upserts: readonly Binding[], removals: readonly string[], maxPerAor: number): Promise<Binding[] | 'full'>;
  /** The live bindings of an address of record. */
  lookup(aor: string): Promise<Binding[]>;
  /** Removes one binding (a phone that stopped answering keep-alives). */
  remove(aor: string, contact: string): Promise<void>;
  close(): Promise<void>;
}

export const callRecordSchema = z.object({
  callId: z.string().min(1).max(512),
  proxy: z.string().min(1).max(64),
  state: z.enum(['offered', 'early', 'confirmed']),
  createdAt: z.number(),
  caller: z.object({ uri: z.string().max(2048), tag: z.string().max(256).nullable(), source: z.string().max(128) }),
  callee: z.object({ uri: z.string().max(2048), tag: z.string().max(256).nullable(), target: z.string().max(128) }),
});

export type CallRecord = z.infer<typeof callRecordSchema>;

export interface CallStore {
  put(record: CallRecord, ttlMs: number): Promise<void>;
  end(callId: string): Promise<void>;
  list(): Promise<CallRecord[]>;
  close(): Promise<void>;
}

export function parseStored<T>(schema: z.ZodType<T>, text: string): T | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const r = schema.safeParse(v);
  return r.success ? r.data : null;
}

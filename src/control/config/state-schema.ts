/**
 * The `state:` section of the gateway configuration: where the gateway keeps
 * its state across a restart, how often it writes, and the replication to a
 * standby (docs/state.md). On by default; `state: false` turns it off.
 */
import { z } from 'zod';

const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/[^\s]+$/, 'expected a Redis URL such as redis://10.0.9.1:6379 (rediss:// for TLS)');

export const stateConfigSchema = z.union([
  z.literal(false),
  z
    .object({
      /** The directory of the snapshot and journal; one gateway per directory. */
      dir: z.string().min(1).default('/var/lib/masq'),
      /** How often changes (new flows, pinholes, port mappings, ALG calls) are written. */
      flushMs: z.number().int().min(10).max(10_000).default(100),
      /** How often the whole state is written (and the journal starts again). */
      snapshotSeconds: z.number().min(1).max(86_400).default(30),
      /** Also survive power loss: fsync after every write (costs a disk flush each time). */
      fsync: z.boolean().default(false),
      /** A standby gateway receives the state continuously through Redis, and takes over with it. */
      replication: z
        .object({
          redis: redisUrl,
          /** Keys and stream names start with this: one per pair of gateways. */
          key: z.string().regex(/^[\w:.-]{1,64}$/, 'letters, digits and _ : . - (at most 64)').default('masq'),
          /** This gateway's name in the stream (default: its host name). */
          node: z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits and _ . - (at most 64)').optional(),
          /** Entries the stream keeps (older are trimmed; a standby that fell further behind reads the snapshot again). */
          maxEntries: z.number().int().min(100).max(10_000_000).default(100_000),
          /** An active gateway that saw no traffic this long, while another published, returns to standby. */
          standbyAfterMs: z.number().int().min(200).max(600_000).default(3000),
        })
        .strict()
        .optional(),
    })
    .strict(),
]);

export type StateConfig = z.output<typeof stateConfigSchema>;

/**
 * The `masq gateway` configuration file: the NAT part is the engine's own
 * schema (natConfigSchema, the same keys at the top level of the file), plus
 * what only a real gateway has: interfaces, TUN devices, policy routing, ALGs,
 * the status endpoint and logging.
 */
import { z } from 'zod';
import { natConfigSchema } from '../../nat/config.js';
import { tryParseIpv4 } from '../../wire/address.js';
import { portmapConfigSchema } from './portmap-schema.js';
import { stateConfigSchema } from './state-schema.js';

const interfaceName = z
  .string()
  .regex(/^[^\s/:]{1,15}$/, 'expected an interface name: 1 to 15 characters, no whitespace, "/" or ":"');

/** HOST:PORT with HOST an address in 127.0.0.0/8, [::1] or localhost. */
function isLoopbackListen(s: string): boolean {
  const colon = s.lastIndexOf(':');
  if (colon < 0 || !/^\d{1,5}$/.test(s.slice(colon + 1))) return false;
  const host = s.slice(0, colon);
  return host === '[::1]' || host === 'localhost' || (tryParseIpv4(host) ?? 0) >>> 24 === 127;
}

/** HOST:PORT; off loopback only with a token (checked on the section). */
const listenText = z
  .string()
  .regex(/^(?:\[[^\]]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT such as 127.0.0.1:8787')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'port must be 1..65535');

/**
 * The operations listener: status JSON, `masq conntrack`, /metrics and the
 * dashboard. Loopback by default; on any other address a token is required
 * (`token`, or `tokenFile` holding it), since anyone who can reach it could
 * otherwise read every flow.
 */
const statusSection = z
  .object({
    listen: listenText.default('127.0.0.1:8787'),
    /** Needed to read when set; needed (or tokenFile) when listen is not a loopback address. */
    token: z.string().min(16, 'a token of at least 16 characters (e.g. `openssl rand -hex 16`)').optional(),
    tokenFile: z.string().min(1).optional(),
    /** Serve Prometheus metrics at /metrics. */
    metrics: z.boolean().default(true),
    /** Serve the web dashboard at /dashboard. */
    dashboard: z.boolean().default(true),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.token !== undefined && s.tokenFile !== undefined) ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'give token or tokenFile, not both' });
    if (!isLoopbackListen(s.listen) && s.token === undefined && s.tokenFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['listen'], message: 'not a loopback address: give status.token or status.tokenFile too (anyone who reaches it could read every flow)' });
    }
  });

/** How packets for the public addresses reach this host (see docs/gateway.md). */
export const PUBLIC_DELIVERY = ['proxy-arp', 'routed'] as const;
export type PublicDelivery = (typeof PUBLIC_DELIVERY)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const algEntry = z
  .object({
    name: z.string().min(1, 'expected the name of an ALG'),
    /** "udp/5060", "tcp/5060-5061"; default: the ALG's usual ports. */
    ports: z.array(z.string()).min(1, 'list at least one port, or leave ports out for the ALG defaults').optional(),
    /** ALG-specific settings; the ALG itself validates them (docs of each ALG). */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** The most packet queues (engines, worker threads) a gateway runs. */
export const MAX_QUEUES = 64;

/**
 * How the packet path is spread over CPUs (docs/gateway.md): `queues` > 1 opens multi-queue TUN devices
 * and runs one NAT engine per queue on its own thread, each with a slice of the public ports; what that
 * mode cannot do yet is refused at load (load.ts, checkQueues).
 */
/**
 * The kernel fast path (docs/gateway.md): established flows with no ALG on them are handed to an
 * nftables table that translates them with masq's mappings, so their packets no longer cross the TUN
 * devices. Off by default: it needs nft and changes which packets masq sees.
 */
export const kernelOffloadSection = z
  .object({
    /** Packets a flow carries through masq before it is handed over (short exchanges never cost a table change). */
    afterPackets: z.number().int().min(1).max(1_000_000).default(16),
    /** The nftables table (family ip) masq makes at start and deletes at stop. */
    table: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,30}$/, 'a table name: a letter, then letters, digits or _ (at most 31)')
      .default('masq_offload'),
    /** The packet mark bit that routes offloaded packets around the inside TUN device: one bit, 0x4000000 or above. */
    markBit: z
      .number()
      .int()
      .refine((b) => b >= 0x4000000 && b <= 0x80000000 && (b & (b - 1)) === 0, 'one bit, 0x4000000 (2^26) or above')
      .default(0x40000000),
    /** The most flows in the kernel at once, per queue. */
    maxFlows: z.number().int().min(1).max(1 << 19).default(65536),
    /**
     * How often flows masq ended leave the kernel (ms), and the least time between two readings of the
     * kernel's per-flow counters (read at most every 2 ms per flow in the kernel, at least every minute).
     */
    reconcileMs: z.number().int().min(100).max(60_000).default(2000),
  })
  .strict();

export type KernelOffloadSettings = z.output<typeof kernelOffloadSection>;

const dataplaneSection = z
  .object({
    queues: z.number().int().min(1).max(MAX_QUEUES).default(1),
    /** false (default), true (the defaults), or the settings. */
    kernelOffload: z.union([z.boolean(), kernelOffloadSection]).default(false),
  })
  .strict()
  .prefault({});

export const gatewayConfigSchema = natConfigSchema.extend({
  interfaces: z
    .object({
      /** LAN interfaces: traffic from the inside prefixes arriving here goes through masq. */
      inside: z.array(interfaceName).min(1, 'list at least one inside interface'),
      /** The WAN interface: traffic to the public addresses arriving here goes through masq. */
      outside: interfaceName,
    })
    .strict(),
  publicDelivery: z.enum(PUBLIC_DELIVERY).default('proxy-arp'),
  tun: z
    .object({
      /** The device inside traffic enters masq through. */
      inside: interfaceName.default('masq-in'),
      /** The device outside traffic enters masq through. */
      outside: interfaceName.default('masq-out'),
      mtu: z.number().int().min(576).max(65535).default(1500),
      batchSize: z.number().int().min(1).max(1024).default(64),
      /** Add back the TTL the kernel takes on the way into the TUN device, so the gateway is one hop. */
      singleHop: z.boolean().default(true),
      /**
       * Checksum and segmentation offload on the TUN devices (virtio-net headers): TCP crosses masq as
       * 64 KiB super-packets instead of MTU-sized segments. Off only for kernels without it.
       */
      offload: z.boolean().default(true),
      /**
       * With offload and a kernel with UDP segmentation offload (6.2+): consecutive datagrams of one UDP
       * flow are written as one GSO packet, which the kernel forwards once and cuts back into the same
       * datagrams.
       */
      coalesceUdp: z.boolean().default(true),
      /**
       * Busy polling (µs, 0 = off): after a batch, keep reading both TUN devices this long for the next
       * packet before going back to the event loop (docs/gateway.md); costs up to that much CPU per batch.
       */
      busyPollUs: z.number().int().min(0).max(1000).default(0),
      /**
       * Packets the kernel queues on each TUN device for masq to read (txqueuelen). The kernel's 500
       * fill in 10 ms at 50,000 packets/s: a scheduling delay longer than that drops packets.
       */
      queueLength: z.number().int().min(16).max(65536).default(4096),
    })
    .strict()
    .prefault({}),
  routing: z
    .object({
      /**
       * The first of the two routing tables masq fills (N: into the inside TUN device, N+1: into the
       * outside one); both must be empty at start.
       */
      table: z
        .number()
        .int()
        .min(1)
        .max(0xfffffffd)
        .refine((t) => t + 1 < 253 || t > 255, 'tables N and N+1 may not be 253-255 (the kernel\'s default, main and local)')
        .default(4787),
      /** Priority of masq's `ip rule`s; no other rule may use it. */
      priority: z.number().int().min(1).max(32765).default(4787),
    })
    .strict()
    .prefault({}),
  algs: z.array(algEntry).default([]),
  status: z
    .union([z.literal(false), statusSection])
    .default({ listen: '127.0.0.1:8787', metrics: true, dashboard: true }),
  log: z
    .object({ level: z.enum(LOG_LEVELS).default('info') })
    .strict()
    .prefault({}),
  /** State kept across a restart and replicated to a standby (docs/state.md). */
  state: stateConfigSchema.default({ dir: '/var/lib/masq', flushMs: 100, snapshotSeconds: 30, fsync: false }),
  /** PCP, NAT-PMP and UPnP IGD for the inside hosts (docs/portmap.md); off by default. */
  portmap: portmapConfigSchema.default(false),
  dataplane: dataplaneSection,
});

export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** The top-level keys that belong to the NAT engine (handed to resolveNatConfig). */
export const NAT_KEYS = Object.keys(natConfigSchema.shape) as Array<keyof typeof natConfigSchema.shape>;

/** Every key the file may have at the top level: for "did you mean" hints. */
export const TOP_LEVEL_KEYS = Object.keys(gatewayConfigSchema.shape);

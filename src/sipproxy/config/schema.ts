/**
 * The `masq sip-proxy` configuration file (YAML): listeners, the domains it
 * is registrar for (or the registrar it sits in front of), where other
 * requests go, the media relay, the ng control port, the stores, the status
 * endpoint. Every key has a default except the listeners and the relay's
 * address; docs/sip-proxy.md shows a complete file.
 */
import { UDP_IO_CHOICES } from '../../net/udp-io.js';
import { z } from 'zod';
import { tryParseIpv4 } from '../../wire/address.js';

const ipv4 = z.string().refine((s) => tryParseIpv4(s) !== null, 'expected an IPv4 address such as 198.51.100.10');
const port = z.number().int().min(1).max(65535);
const hostname = z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'expected a host name or an IPv4 address');

const listener = z
  .object({
    transport: z.enum(['udp', 'tcp', 'tls']),
    /** Bind address (0.0.0.0: all, then `advertise` is required). */
    address: ipv4,
    port: port.optional(),
    /** The address or name written into Via, Record-Route and Path (default: the bind address). */
    advertise: hostname.optional(),
    /** TLS: PEM certificate (chain) and key files. */
    certificate: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.transport === 'tls' && (!l.certificate || !l.key)) ctx.addIssue({ code: 'custom', message: 'a TLS listener needs certificate and key (PEM files)', path: [l.certificate ? 'key' : 'certificate'] });
    if (l.transport !== 'tls' && (l.certificate || l.key)) ctx.addIssue({ code: 'custom', message: 'certificate and key are for TLS listeners only', path: ['certificate'] });
    if (l.address === '0.0.0.0' && !l.advertise) ctx.addIssue({ code: 'custom', message: 'listening on 0.0.0.0 needs advertise: the address phones reach this proxy at', path: ['advertise'] });
  });

/** sip:host[:port][;transport=udp|tcp|tls] */
const sipUri = z.string().regex(/^sips?:[A-Za-z0-9.-]+(:\d{1,5})?(;transport=(udp|tcp|tls))?$/i, 'expected a SIP URI such as sip:192.0.2.5:5060;transport=udp');

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const sipProxyConfigSchema = z.object({
  /** This proxy's name in a shared store (default: host name and process id). */
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
  listen: z.array(listener).min(1, 'list at least one listener'),
  /** Domains this proxy is the registrar for (its own addresses count too). */
  domains: z.array(hostname).default([]),
  /** Other names or addresses of this proxy. */
  aliases: z.array(hostname).default([]),
  /** registrar: REGISTERs are handled here; path: forwarded to `registrar` with a Path header (RFC 3327). */
  mode: z.enum(['registrar', 'path']).default('registrar'),
  /** Path mode: the registrar REGISTERs (and requests for its domains) go to. */
  registrar: sipUri.optional(),
  /** Requests for other domains go here (default: the Request-URI's host). */
  nextHop: sipUri.optional(),
  registrations: z
    .object({
      minExpires: seconds(1, 86400).default(60),
      maxExpires: seconds(1, 7 * 86400).default(3600),
      defaultExpires: seconds(1, 7 * 86400).default(3600),
      maxPerAor: z.number().int().min(1).max(1000).default(10),
    })
    .strict()
    .prefault({}),
  keepalive: z
    .object({
      /** Seconds between keep-alives to each registered phone (20: inside a 30 s NAT timeout). */
      interval: seconds(1, 3600).default(20),
      /** options: OPTIONS over UDP, CRLF over TCP/TLS; crlf: CRLF everywhere. */
      method: z.enum(['options', 'crlf']).default('options'),
      /** Unanswered OPTIONS in a row after which a binding is dropped (0: never). */
      dropAfter: z.number().int().min(0).max(100).default(3),
    })
    .strict()
    .prefault({}),
  /** A request that does not parse: reply 400, or drop. Both are counted. */
  malformed: z.enum(['reply', 'drop']).default('reply'),
  connections: z
    .object({
      max: z.number().int().min(1).max(1_000_000).default(10_000),
      /** Seconds a TCP/TLS connection may stay idle (a phone registered over it is kept). */
      idleTimeout: seconds(5, 86400).default(600),
      maxMessageBytes: z.number().int().min(1024).max(1 << 20).default(65536),
    })
    .strict()
    .prefault({}),
  tls: z
    .object({
      /** Outbound TLS: verify the server's certificate. */
      verify: z.boolean().default(true),
      ca: z.string().min(1).optional(),
    })
    .strict()
    .prefault({}),
  /** Shared registrations and calls: a Redis URL (redis://host:port/db); absent: in memory. */
  store: z
    .object({ redis: z.string().regex(/^redis:\/\//, 'expected redis://host[:port][/db]'), prefix: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/).default('masq:sip') })
    .strict()
    .optional(),
  /** A file with the secret that signs flow tokens (proxies behind one name share it); absent: random at start. */
  secretFile: z.string().min(1).optional(),
  media: z
    .object({
      /** The relay's address: bound, and written into SDPs. */
      address: ipv4,
      ports: z
        .object({ min: z.number().int().min(1024).max(65534).default(30000), max: z.number().int().min(1025).max(65535).default(40000) })
        .strict()
        .prefault({})
        .refine((p) => p.max > p.min + 1, 'max must be above min + 1 (a pair needs two ports)'),
      /** Whom a relay port learns from: the address the leg's signalling came from (or its SDP's public address), or any. */
      latching: z.enum(['signalling-address', 'any']).default('signalling-address'),
      /** The relay ports' sockets: batched (recvmmsg/sendmmsg, the in-repo addon), dgram (node:dgram), or auto: batched where the addon is built. */
      udpIo: z.enum(UDP_IO_CHOICES).default('auto'),
      /** With batched sockets: a batched socket per relay port, or all relay ports in one socket set (one wake for every ready port; see docs/sip-proxy.md). */
      relaySockets: z.enum(['per-port', 'set']).default('set'),
      /** ICE lines in SDPs: removed (plain phones behind the relay), or kept. */
      ice: z.enum(['remove', 'keep']).default('remove'),
      timeouts: z
        .object({ media: seconds(1, 86400).default(60), held: seconds(1, 7 * 86400).default(3600), offer: seconds(1, 86400).default(180), call: seconds(60, 7 * 86400).default(14400) })
        .strict()
        .prefault({}),
      /** nftables pinholes for the relay ports of live calls: auto (when root), on, off. */
      firewall: z.enum(['auto', 'on', 'off']).default('auto'),
      /** In-kernel forwarding of latched streams (nftables NAT): auto (when root), on, off. */
      kernel: z.enum(['auto', 'on', 'off']).default('auto'),
      /** The nftables table masq owns (created at start, removed at exit). */
      table: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,30}$/).default('masq_sipproxy'),
    })
    .strict(),
  /** rtpengine's ng control protocol (bencode over UDP), for Kamailio's rtpengine module. */
  ng: z.object({ listen: z.string().regex(/^[0-9.]+:\d{1,5}$/, 'expected IP:PORT such as 127.0.0.1:2223') }).strict().optional(),
  status: z
    .union([z.literal(false), z.object({ listen: z.string().regex(/^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5}$/, 'expected a loopback address and port such as 127.0.0.1:5081') }).strict()])
    .default({ listen: '127.0.0.1:5081' }),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .strict()
    .prefault({}),
});

export type SipProxyConfig = z.output<typeof sipProxyConfigSchema>;
export type SipProxyConfigInput = z.input<typeof sipProxyConfigSchema>;

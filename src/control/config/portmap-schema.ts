/**
 * The `portmap:` section of the gateway configuration: the port mapping
 * protocols inside hosts may use (PCP, NAT-PMP, UPnP IGD) and who may map
 * what (docs/portmap.md). Off unless the section is there.
 */
import { z } from 'zod';
import { portRange, prefixText } from '../../nat/config.js';

const seconds = z.number().int().min(1).max(30 * 86_400);

export const portmapRuleSchema = z
  .object({
    /** Inside hosts this rule is for (prefixes); a host takes the first rule that names it. */
    hosts: z.array(prefixText).min(1, 'name at least one prefix'),
    /** Public ports these hosts may ask for. */
    externalPorts: portRange.default([1024, 65535]),
    /** Their own ports they may map. */
    internalPorts: portRange.default([1024, 65535]),
    protocols: z.array(z.enum(['udp', 'tcp'])).min(1).default(['udp', 'tcp']),
    /** Longest lifetime granted (a longer request is cut to it). */
    maxLifetime: seconds.default(7200),
    /** Port mappings one host may hold at once. */
    maxMappings: z.number().int().min(0).max(65_535).default(16),
  })
  .strict();

export const portmapConfigSchema = z.union([
  z.literal(false),
  z
    .object({
      pcp: z.boolean().default(true),
      natpmp: z.boolean().default(true),
      upnp: z.boolean().default(true),
      /** Addresses on the inside interfaces the servers listen on; default every IPv4 address there. */
      listen: z.array(z.string()).optional(),
      /** The UPnP description and control URLs' TCP port. */
      upnpHttpPort: z.number().int().min(1).max(65535).default(5000),
      /** Who may map what; the default lets every inside host map ports 1024-65535, 16 at a time, for up to 2 hours. */
      rules: z.array(portmapRuleSchema).default([{ hosts: ['0.0.0.0/0'], externalPorts: [1024, 65535], internalPorts: [1024, 65535], protocols: ['udp', 'tcp'], maxLifetime: 7200, maxMappings: 16 }]),
    })
    .strict(),
]);

export type PortmapConfig = z.output<typeof portmapConfigSchema>;
export type PortmapRule = z.output<typeof portmapRuleSchema>;

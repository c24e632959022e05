/**
 * Registers the ALGs that ship with masq. Importing this module is what makes
 * them known by name (to the gateway config, `masq pcap --alg`, the sim).
 */
import { z } from 'zod';
import { attachAlg } from './attach.js';
import { registerAlg } from './registry.js';
import { SipAlg } from './sip/alg.js';

const sipOptions = z
  .object({
    media: z.enum(['peer', 'any']).optional(),
    rewriteFromTo: z.boolean().optional(),
    malformed: z.enum(['pass', 'drop']).optional(),
    callTimeoutSeconds: z.number().int().min(30).optional(),
    maxRegistrationSeconds: z.number().int().min(60).optional(),
    maxCalls: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();

registerAlg({
  name: 'sip',
  description: 'SIP with SDP over UDP and TCP: signalling rewritten, media pinholes per call, registration pinholes',
  defaultPorts: [
    { proto: 17, first: 5060, last: 5060 },
    { proto: 6, first: 5060, last: 5060 },
  ],
  validateOptions(options) {
    const parsed = sipOptions.safeParse(options ?? {});
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  },
  attach(engine, ports, options) {
    const problems = this.validateOptions(options);
    if (problems.length) throw new Error(`sip ALG options: ${problems.join('; ')}`);
    return attachAlg(engine, new SipAlg(sipOptions.parse(options ?? {})), ports);
  },
});

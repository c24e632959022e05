/** The SIP ALG as the framework knows it: name, ports, options, expectation policy. */
import { z } from 'zod';
import { defineAlg } from '../definition.js';
import { SipAlg } from './alg.js';

const sipOptions = z
  .object({
    media: z.enum(['peer', 'any']).optional(),
    rewriteFromTo: z.boolean().optional(),
    malformed: z.enum(['pass', 'drop']).optional(),
    callTimeoutSeconds: z.number().int().min(30).optional(),
    mediaIdleSeconds: z.number().int().min(30).optional(),
    maxRegistrationSeconds: z.number().int().min(60).optional(),
    maxCalls: z.number().int().min(1).max(1_000_000).optional(),
    maxCallsPerHost: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .optional();

export type SipAlgConfig = NonNullable<z.infer<typeof sipOptions>>;

export const sipAlg = defineAlg({
  name: 'sip',
  description: 'SIP with SDP over UDP and TCP: signalling rewritten, media pinholes per call, registration pinholes',
  defaultPorts: [
    { proto: 17, first: 5060, last: 5060 },
    { proto: 6, first: 5060, last: 5060 },
  ],
  options: sipOptions,
  expectations: {
    // Registrations and the other listening ports a phone names.
    signalling: { perGroup: 16, total: 65_536, ttlMs: 32_000 },
    audio: { perGroup: 16, total: 65_536, ttlMs: 32_000 },
    video: { perGroup: 16, total: 65_536, ttlMs: 32_000 },
    data: { perGroup: 16, total: 65_536, ttlMs: 32_000 },
  },
  create: (options) => new SipAlg(options ?? {}),
});

/** The H.323 ALG as the framework knows it: name, ports, options, expectation policy. */
import { z } from 'zod';
import { defineAlg } from '../definition.js';
import { H323Alg } from './alg.js';

const h323Options = z
  .object({
    media: z.enum(['peer', 'any']).optional(),
    registration: z.enum(['gatekeeper', 'any']).optional(),
    malformed: z.enum(['pass', 'drop']).optional(),
    mediaSeconds: z.number().int().min(10).max(86_400).optional(),
    registrationSeconds: z.number().int().min(10).max(86_400).optional(),
    maxRegistrationSeconds: z.number().int().min(60).max(604_800).optional(),
    h460: z.enum(['detect', 'ignore']).optional(),
    maxCalls: z.number().int().min(1).max(1_000_000).optional(),
    maxCallsPerHost: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .optional();

export type H323AlgConfig = NonNullable<z.infer<typeof h323Options>>;

/**
 * Pinhole caps. netfilter caps a call's expectations at 18 on its H.245
 * connection (four RTP channels a direction, RTP and RTCP each, and T.120)
 * and 20 on its call signalling: a fifth channel goes un-NATed. masq keeps a
 * call's pinholes in one group per traffic class (the engine caps each group
 * at limits.expectationsPerGroup, 16 by default) and caps each class per
 * call here at the same 16; an RTP/RTCP pair is shared by every channel and
 * fastStart proposal naming the same inside port. So a call can hold eight
 * pairs each of audio, video (camera and H.239 content) and data (far-end
 * camera control, T.120): a conference endpoint's full set of channels both
 * ways, opened and reopened, and still a bound on what one hostile call can
 * open. Signalling: the H.245 pinhole and dial expectations, a registered
 * endpoint's call signalling ports. The totals bound the ALG as a whole; the
 * engine's per-host and global caps apply as well.
 */
export const h323Alg = defineAlg({
  name: 'h323',
  description: 'H.323: RAS, H.225.0 call signalling, H.245 (separate, tunnelled, fastStart): addresses rewritten in place, H.245 and media pinholes per call, registration pinholes; H.460.18/.19 endpoints left alone',
  defaultPorts: [
    { proto: 17, first: 1719, last: 1719 },
    { proto: 6, first: 1720, last: 1720 },
  ],
  options: h323Options,
  expectations: {
    signalling: { perGroup: 8, total: 65_536, ttlMs: 60_000 },
    audio: { perGroup: 16, total: 65_536, ttlMs: 300_000 },
    video: { perGroup: 16, total: 65_536, ttlMs: 300_000 },
    data: { perGroup: 16, total: 65_536, ttlMs: 300_000 },
  },
  create: (options) => new H323Alg(options ?? {}),
});

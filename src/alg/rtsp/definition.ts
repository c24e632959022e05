/** The RTSP ALG as the framework knows it: name, ports, options, expectation policy. */
import { z } from 'zod';
import { defineAlg } from '../definition.js';
import { MAX_STREAMS_PER_SESSION, RtspAlg } from './alg.js';

const rtspOptions = z
  .object({
    /** A session's timeout when the server names none (RFC 2326: 60 s). */
    sessionTimeoutSeconds: z.number().int().min(5).max(86_400).optional(),
    /** How long a SETUP's pinholes wait for the reply. */
    setupSeconds: z.number().int().min(5).max(3600).optional(),
    /** Sessions tracked at once; beyond it the one heard from longest ago ends. */
    maxSessions: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .optional();

export const rtspAlg = defineAlg({
  name: 'rtsp',
  description: 'RTSP SETUP client_port rewritten onto public even/odd pairs, RTP/RTCP pinholes for the server per session, TEARDOWN and timeouts per session',
  defaultPorts: [
    { proto: 6, first: 554, last: 554 },
    { proto: 6, first: 8554, last: 8554 },
  ],
  options: rtspOptions,
  expectations: {
    // Audio and video alike (a SETUP does not say which): an RTP and an RTCP
    // pinhole for each spec a SETUP offers; the ALG caps a session's streams.
    video: { perGroup: 2 * MAX_STREAMS_PER_SESSION, total: 8192, ttlMs: 60_000 },
  },
  create: (options) => new RtspAlg(options ?? {}),
});

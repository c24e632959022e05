/** The TFTP ALG as the framework knows it: name, ports, options, expectation policy. */
import { z } from 'zod';
import { defineAlg } from '../definition.js';
import { TftpAlg } from './alg.js';

const tftpOptions = z
  .object({
    /** How long a request's pinhole waits for the server's answer. */
    replySeconds: z.number().int().min(1).max(300).optional(),
  })
  .strict()
  .optional();

export const tftpAlg = defineAlg({
  name: 'tftp',
  description: 'TFTP read and write requests: one pinhole for the server\'s answer from any of its ports, once',
  defaultPorts: [{ proto: 17, first: 69, last: 69 }],
  options: tftpOptions,
  expectations: {
    // One pinhole per request (a retransmitted request replaces it).
    data: { perGroup: 1, total: 4096, ttlMs: 30_000 },
  },
  create: (options) => new TftpAlg(options ?? {}),
});

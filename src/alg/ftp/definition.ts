/** The FTP ALG as the framework knows it: name, ports, options, expectation policy. */
import { z } from 'zod';
import { defineAlg } from '../definition.js';
import { FtpAlg } from './alg.js';

const ftpOptions = z
  .object({
    /** How long a data pinhole waits for its connection. */
    dataSeconds: z.number().int().min(5).max(3600).optional(),
  })
  .strict()
  .optional();

export const ftpAlg = defineAlg({
  name: 'ftp',
  description: 'FTP control connections: PORT, EPRT, 227 and 229 rewritten, one data pinhole per control connection for its peer only',
  defaultPorts: [{ proto: 6, first: 21, last: 21 }],
  options: ftpOptions,
  expectations: {
    // One data connection announced at a time per control connection; the
    // ALG replaces an unused one itself, so the cap is never the reason a
    // transfer fails.
    data: { perGroup: 1, total: 4096, ttlMs: 60_000 },
  },
  create: (options) => new FtpAlg(options ?? {}),
});

/** The CU-SeeMe ALG as the framework knows it: name, ports, options; it opens no pinholes. */
import { z } from 'zod';
import { defineAlg } from '../definition.js';
import { CuSeeMeAlg } from './alg.js';

const cuseemeOptions = z
  .object({
    mode: z.enum(['multi-user', 'historical']).optional(),
    malformed: z.enum(['pass', 'drop']).optional(),
  })
  .strict()
  .optional();

export const cuseemeAlg = defineAlg({
  name: 'cuseeme',
  description: 'CU-SeeMe over UDP: addresses and ports in its header and OpenContinue lists, several users per public address',
  // White Pine 4.0 also used udp/24032: list it in the configuration's ports where it is needed.
  defaultPorts: [{ proto: 17, first: 7648, last: 7648 }],
  options: cuseemeOptions,
  expectations: {},
  create: (options) => new CuSeeMeAlg(options ?? {}),
});

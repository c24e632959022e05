/**
 * The ALGs that ship with masq: one explicit list. Each entry is its folder's
 * definition (name, ports, options, policy, handler).
 */
import type { AlgDefinition } from './definition.js';
import { cuseemeAlg } from './cuseeme/definition.js';
import { h323Alg } from './h323/definition.js';
import { sipAlg } from './sip/definition.js';
import { ftpAlg } from './ftp/definition.js';
import { rtspAlg } from './rtsp/definition.js';
import { tftpAlg } from './tftp/definition.js';

export const BUILTIN_ALGS: readonly AlgDefinition[] = [sipAlg, cuseemeAlg, h323Alg, ftpAlg, rtspAlg, tftpAlg];

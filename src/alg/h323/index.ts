/** The H.323 codec and ALG: TPKT, Q.931, the PER walkers and the handler (README.md). */
export { frameTpkt, TPKT_HEADER } from './tpkt.js';
export { parseQ931, Q931, type Q931Message } from './q931.js';
export { PerReader } from './per-reader.js';
export { CTX, EV, PerEvents } from './per-events.js';
export { FIELD, FIELD_NAMES } from './per-fields.gen.js';
export { walkH245Messages, walkRas, walkUserInformation } from './per-walk.js';
export { H323Alg } from './alg.js';
export type { H323AlgOptions } from './context.js';
export { h323Alg } from './definition.js';

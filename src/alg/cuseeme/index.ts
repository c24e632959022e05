/** The CU-SeeMe ALG: definition, handler, and the field layout it reads. */
export { cuseemeAlg } from './definition.js';
export { CuSeeMeAlg, type CuSeeMeAlgOptions } from './alg.js';
export { CLIENT_INFO, CU, CU_HEADER, DATA_TYPE_OPEN_CONTINUE, ENTRY_ADDR, ENTRY_PORT, OC, OC_ENTRIES } from './layout.js';

/** The TFTP ALG and its request parser. */
export { tftpAlg } from './definition.js';
export { TftpAlg, type TftpAlgOptions } from './alg.js';
export { type TftpParse, type TftpRequest, parseTftpRequest, TFTP_RRQ, TFTP_WRQ } from './request.js';

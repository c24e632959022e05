/**
 * Fuzzing the TFTP ALG: datagrams to port 69 mutated from real read and
 * write requests (with options) and other TFTP packets, answers from the
 * server's port and from others; and the request parser on its own.
 *
 *   node --import tsx bench/fuzz/tftp.ts [--count 1000000] [--seed 1]
 */
import { parseTftpRequest } from '../../src/alg/tftp/index.js';
import { runFromCommandLine, type FuzzTarget } from './alg-stream-fuzz.js';

export const tftpFuzzTarget: FuzzTarget = {
  alg: 'tftp',
  proto: 17,
  port: 69,
  fromClient: [
    '\x00\x01rfc1350.txt\x00octet\x00',
    '\x00\x01sysman.lis\x00NETASCII\x00',
    '\x00\x02zz.bin\x00netascii\x00',
    '\x00\x02empty100KB\x00octet\x00blksize\x001468\x00tsize\x00100000\x00',
    '\x00\x04\x00\x01',
    '\x00\x05\x00\x01File not found\x00',
  ],
  fromServer: ['\x00\x03\x00\x01data', '\x00\x04\x00\x00', '\x00\x06blksize\x001468\x00', '\x00\x05\x00\x02Access violation\x00'],
  tokens: ['\x00', '\x00\x01', '\x00\x02', 'octet', 'netascii', 'mail', 'blksize', 'tsize', '1468', '\xff'],
  direct(bytes) {
    parseTftpRequest(bytes);
  },
};

if (import.meta.url === `file://${process.argv[1]}`) runFromCommandLine(tftpFuzzTarget);

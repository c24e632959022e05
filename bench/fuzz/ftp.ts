/**
 * Fuzzing the FTP ALG: control connections of mutated real commands and
 * replies (PORT, EPRT, 227, 229, multi-line replies, Telnet sequences, HTTP
 * on port 21), with the client inside and with the server inside behind a
 * static forward; and its framer and announcement parser on their own.
 *
 *   node --import tsx bench/fuzz/ftp.ts [--count 1000000] [--seed 1]
 */
import { frameFtpStream, parseCommandAnnouncement, parseReplyAnnouncement } from '../../src/alg/ftp/index.js';
import { framePieces, runFromCommandLine, type FuzzTarget } from './alg-stream-fuzz.js';

export const ftpFuzzTarget: FuzzTarget = {
  alg: 'ftp',
  proto: 6,
  port: 21,
  insideServer: true,
  fromClient: [
    'USER anonymous\r\nPASS x@y\r\n',
    'PORT 10,0,0,2,156,64\r\n',
    'port 10,0,0,2,4,1\r\n',
    'PORT 10,0,0,3,156,64\r\n',
    'PORT 198,51,100,20,195,80\r\n',
    'EPRT |1|10.0.0.2|40000|\r\n',
    'EPRT |2|2001:db8::2|40000|\r\n',
    'PASV\r\nRETR file\r\n',
    'EPSV\r\n',
    '\xff\xf4\xff\xf2ABOR\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\nPORT 10,0,0,2,4,1\r\n',
  ],
  fromServer: [
    '220 (vsFTPd 3.0.3)\r\n',
    '227 Entering Passive Mode (198,51,100,10,195,80).\r\n',
    '227 Entering Passive Mode (10,0,0,5,117,48).\r\n',
    '227 Entering Passive Mode (203,0,113,1,117,60).\r\n',
    '229 Entering Extended Passive Mode (|||40200|)\r\n',
    '211-Features:\r\n EPRT\r\n227 (1,2,3,4,5,6)\r\n211 End\r\n',
    '200 PORT command successful.\r\n150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n',
  ],
  tokens: ['PORT ', 'EPRT ', '227 ', '229 ', '(|||', '|)', ',', '|', '255', '256', '65535', '65536', '0', '1023', '10,0,0,2', '\r\n', '\n', '\r', '\xff', '\x16\x03\x01', ' HTTP/1.1', '-', ' '],
  direct(bytes, random) {
    framePieces(frameFtpStream, bytes, random);
    parseCommandAnnouncement(bytes, 0, bytes.length);
    parseReplyAnnouncement(bytes, 0, bytes.length);
  },
};

if (import.meta.url === `file://${process.argv[1]}`) runFromCommandLine(ftpFuzzTarget);

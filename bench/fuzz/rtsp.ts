/**
 * Fuzzing the RTSP ALG: connections of mutated real requests and replies
 * (SETUP with several transport specs, replies with Session and timeouts,
 * PLAY, keep-alives, TEARDOWN, interleaved frames, HTTP tunnelling); and its
 * framer, message reader and Transport parser on their own.
 *
 *   node --import tsx bench/fuzz/rtsp.ts [--count 1000000] [--seed 1]
 */
import { cseqOf, frameRtspStream, parseRtspMessage, parseTransport, sessionOf } from '../../src/alg/rtsp/index.js';
import { framePieces, runFromCommandLine, type FuzzTarget } from './alg-stream-fuzz.js';

const URL = 'rtsp://198.51.100.10:8554/test';

export const rtspFuzzTarget: FuzzTarget = {
  alg: 'rtsp',
  proto: 6,
  port: 8554,
  fromClient: [
    `OPTIONS ${URL} RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
    `SETUP ${URL}/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`,
    `SETUP ${URL}/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nSession: 8c30e102191f49d1\r\nTransport: RTP/AVP;unicast;client_port=5002-5003,RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
    `SETUP ${URL}/a RTSP/1.0\r\nCSeq: 5\r\nTransport: RTP/AVP;unicast;destination=10.0.0.2;client_port=5004-5005;mode="PLAY"\r\n\r\n`,
    `SETUP ${URL}/b RTSP/1.0\r\nCSeq: 6\r\nTransport: RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001, RTP/AVP;unicast;client_port=6000\r\n\r\n`,
    `PLAY ${URL} RTSP/1.0\r\nCSeq: 7\r\nSession: 8c30e102191f49d1\r\nRange: npt=0-\r\n\r\n`,
    `GET_PARAMETER ${URL} RTSP/1.0\r\nCSeq: 8\r\nSession: 8c30e102191f49d1\r\n\r\n`,
    `TEARDOWN ${URL} RTSP/1.0\r\nCSeq: 9\r\nSession: 8c30e102191f49d1\r\n\r\n`,
    `TEARDOWN ${URL}/trackID=1 RTSP/1.0\r\nCSeq: 10\r\nSession: 8c30e102191f49d1\r\n\r\n`,
    'GET /test HTTP/1.0\r\nx-sessioncookie: 1\r\n\r\n',
    '$\x00\x00\x04abcd',
  ],
  fromServer: [
    'RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP/UDP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1\r\nSession: 8c30e102191f49d1;timeout=60\r\n\r\n',
    'RTSP/1.0 200 OK\r\nCseq: 4\r\nTransport: RTP/AVP;unicast;client_port=5002-5003;server_port=6972-6973\r\nSession: 8c30e102191f49d1\r\n\r\n',
    'RTSP/1.0 461 Unsupported Transport\r\nCSeq: 5\r\n\r\n',
    'RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 24\r\n\r\nv=0\r\nm=video 0 RTP/AVP 96\r\n',
    'RTSP/1.0 200 OK\r\nCSeq: 9\r\nSession: 8c30e102191f49d1\r\n\r\n',
    'ANNOUNCE rtsp://10.0.0.2/ RTSP/1.0\r\nCSeq: 1\r\nSession: 8c30e102191f49d1\r\n\r\n',
  ],
  tokens: ['client_port=', 'server_port=', 'destination=', 'source=', 'interleaved=', 'multicast', ';', ',', '-', '"', '=', '65535', '65536', '1023', '0', '5000', '10.0.0.2', '10.0.0.3', 'Session: ', 'CSeq: ', 'Transport: ', 'Content-Length: 99999', '\r\n', '\r\n\r\n', '\n', ' ', '\t', 'RTSP/1.0', 'HTTP/1.0', '$'],
  direct(bytes, random) {
    framePieces(frameRtspStream, bytes, random);
    const m = parseRtspMessage(bytes);
    if (m.ok) {
      cseqOf(m.message);
      sessionOf(m.message);
    }
    parseTransport(bytes, 0, bytes.length);
  },
};

if (import.meta.url === `file://${process.argv[1]}`) runFromCommandLine(rtspFuzzTarget);

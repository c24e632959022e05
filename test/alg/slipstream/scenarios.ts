/**
 * The NAT Slipstreaming cases, from their published descriptions:
 *
 * - v1 (Samy Kamkar, 2020): a page makes the browser POST to the attacker's
 *   server on TCP 5060; the server's small MSS and the body's padding put a
 *   SIP REGISTER (or INVITE) at the start of a TCP segment; a SIP ALG that
 *   parses segments rather than the stream takes it for signalling and opens
 *   a pinhole to the port the Contact (or SDP) names on the victim.
 * - v2 (Armis: Ben Seri, Gregory Vishnipolsky, 2021): the same through the
 *   H.323 ALG (an H.225 Setup in a POST to TCP 1720), through TURN (browsers
 *   refuse HTTP to 5060 since v1, not TURN: the message rides in the
 *   USERNAME of a TURN request over TCP or UDP), and toward any inside host,
 *   not just the victim (the message names another host).
 * - NAT pinning (Kamkar, 2010), the ancestor: an FTP PORT command at a line
 *   start inside an HTTP POST to TCP 21.
 *
 * Each case: what the victim sends, and the inside endpoint the attacker
 * then tries to reach. masq must open nothing; the kernel's result is
 * recorded next to it.
 */
import type { SlipstreamHosts, SlipstreamScenario } from './scenario.js';
import { httpPostAligned, mssCuts, text, turnAllocateCarrying } from './craft.js';
import { h225Setup } from './h225.js';

/** Ports the attacker wants open on the inside hosts (a web UI, a printer's raw port...). */
export const TARGET_PORT = 8080;

function register(h: SlipstreamHosts, contactHost: string, transport: 'TCP' | 'UDP'): string {
  return [
    `REGISTER sip:${h.server} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${contactHost}:${TARGET_PORT};branch=z9hG4bK-slip1`,
    `From: <sip:victim@${h.server}>;tag=s1`,
    `To: <sip:victim@${h.server}>`,
    `Call-ID: slip-${contactHost}`,
    'CSeq: 1 REGISTER',
    `Contact: <sip:victim@${contactHost}:${TARGET_PORT};transport=${transport.toLowerCase()}>`,
    'Expires: 3600',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function invite(h: SlipstreamHosts, mediaHost: string, transport: 'TCP' | 'UDP'): string {
  const sdp = `v=0\r\no=- 1 1 IN IP4 ${mediaHost}\r\ns=-\r\nc=IN IP4 ${mediaHost}\r\nt=0 0\r\nm=audio ${TARGET_PORT} RTP/AVP 0\r\n`;
  return [
    `INVITE sip:bob@${h.server} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${mediaHost}:5060;branch=z9hG4bK-slip2`,
    `From: <sip:victim@${h.server}>;tag=s2`,
    `To: <sip:bob@${h.server}>`,
    `Call-ID: slip-invite-${mediaHost}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:victim@${mediaHost}:${TARGET_PORT}>`,
    'Content-Type: application/sdp',
    `Content-Length: ${sdp.length}`,
    '',
    sdp,
  ].join('\r\n');
}

/** The attacker's server says yes to whatever a message asked (a registration, a call with media). */
function ok(request: string, h: SlipstreamHosts): string {
  const get = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(request)?.[1] ?? '';
  const sdp = `v=0\r\no=- 2 2 IN IP4 ${h.server}\r\ns=-\r\nc=IN IP4 ${h.server}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n`;
  const isInvite = request.startsWith('INVITE');
  return [
    'SIP/2.0 200 OK',
    `Via: ${get('Via')}`,
    `From: ${get('From')}`,
    `To: ${get('To')};tag=attacker`,
    `Call-ID: ${get('Call-ID')}`,
    `CSeq: ${get('CSeq')}`,
    `Contact: <sip:attacker@${h.server}:5060>${request.startsWith('REGISTER') ? ';expires=3600' : ''}`,
    ...(isInvite ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${isInvite ? sdp.length : 0}`,
    '',
    isInvite ? sdp : '',
  ].join('\r\n');
}

/** The victim's stream cut where the attacker's MSS ends its segments, and the server's answer. */
function segmented(stream: Uint8Array, h: SlipstreamHosts, reply: Uint8Array) {
  return { transport: 'tcp' as const, stream, cuts: mssCuts(stream.length, h.mss), reply };
}

const HTTP_OK = text('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');

function ftpPort(host: string, port: number): string {
  return `PORT ${host.replace(/\./g, ',')},${port >> 8},${port & 0xff}\r\n`;
}

const V1 = 'NAT Slipstreaming v1 (Samy Kamkar, 2020)';
const V2 = 'NAT Slipstreaming v2 (Armis, 2021)';

export const SLIPSTREAM_SCENARIOS: readonly SlipstreamScenario[] = [
  {
    id: 'v1 SIP REGISTER in an HTTP POST (TCP 5060)',
    title: 'a REGISTER at a segment start inside a POST body, Contact naming the victim',
    origin: V1,
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'tcp' },
    serverPort: 5060,
    victimPort: 0,
    craft: (h) => {
      const message = register(h, h.victim, 'TCP');
      const stream = httpPostAligned(h.server, text(message), h.mss);
      // The server's side of the connection starts with SIP: a 200 OK for the REGISTER.
      return segmented(stream, h, text(ok(message, h)));
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'tcp' }),
  },
  {
    id: 'v1 SIP INVITE with SDP in an HTTP POST (TCP 5060)',
    title: 'an INVITE at a segment start inside a POST body, its SDP naming a media port on the victim',
    origin: V1,
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'tcp' },
    serverPort: 5060,
    victimPort: 0,
    craft: (h) => {
      const message = invite(h, h.victim, 'TCP');
      const stream = httpPostAligned(h.server, text(message), h.mss);
      return segmented(stream, h, text(ok(message, h)));
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'udp' }),
  },
  {
    id: 'v2 SIP REGISTER in a TURN USERNAME (TCP 5060)',
    title: 'a TURN Allocate over TCP whose USERNAME holds a REGISTER at a segment start',
    origin: V2,
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'tcp' },
    serverPort: 5060,
    victimPort: 0,
    craft: (h) => {
      const message = register(h, h.victim, 'TCP');
      const stream = turnAllocateCarrying(text(message), h.mss);
      return segmented(stream, h, text(ok(message, h)));
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'tcp' }),
  },
  {
    id: 'v2 SIP REGISTER in a TURN USERNAME (UDP 5060)',
    title: 'a TURN Allocate datagram whose USERNAME holds a REGISTER',
    origin: V2,
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'udp' },
    serverPort: 5060,
    victimPort: 5060,
    craft: (h) => {
      const message = register(h, h.victim, 'UDP');
      return { transport: 'udp', datagrams: [turnAllocateCarrying(text(message))], replies: [text(ok(message, h))] };
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'udp' }),
  },
  {
    id: 'v2 SIP over UDP naming another inside host',
    title: 'a well-formed REGISTER and INVITE over UDP whose Via, Contact and SDP name another inside host',
    origin: V2,
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'udp' },
    serverPort: 5060,
    victimPort: 5060,
    craft: (h) => {
      const messages = [register(h, h.other, 'UDP'), invite(h, h.other, 'UDP')];
      return { transport: 'udp', datagrams: messages.map(text), replies: messages.map((m) => text(ok(m, h))) };
    },
    goal: (h) => ({ host: h.other, port: TARGET_PORT, proto: 'udp' }),
  },
  {
    id: 'v2 SIP over TCP naming another inside host',
    title: 'a well-formed INVITE at the start of a TCP stream whose Contact and SDP name another inside host',
    origin: V2,
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'tcp' },
    serverPort: 5060,
    victimPort: 0,
    craft: (h) => {
      const message = invite(h, h.other, 'TCP');
      const stream = text(message);
      return segmented(stream, h, text(ok(message, h)));
    },
    goal: (h) => ({ host: h.other, port: TARGET_PORT, proto: 'udp' }),
  },
  {
    id: 'v2 H.225 Setup in an HTTP POST (TCP 1720)',
    title: 'a TPKT/Q.931 Setup at a segment start inside a POST body, its h245Address naming the victim',
    origin: V2,
    alg: 'h323',
    kernelHelper: { type: 'Q.931', proto: 'tcp' },
    serverPort: 1720,
    victimPort: 0,
    craft: (h) => {
      const stream = httpPostAligned(h.server, h225Setup(h.victim, TARGET_PORT), h.mss);
      return segmented(stream, h, HTTP_OK);
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'tcp' }),
  },
  {
    id: 'v2 H.225 Setup naming another inside host',
    title: 'the same Setup, its h245Address naming another inside host',
    origin: V2,
    alg: 'h323',
    kernelHelper: { type: 'Q.931', proto: 'tcp' },
    serverPort: 1720,
    victimPort: 0,
    craft: (h) => {
      const stream = httpPostAligned(h.server, h225Setup(h.other, TARGET_PORT), h.mss);
      return segmented(stream, h, HTTP_OK);
    },
    goal: (h) => ({ host: h.other, port: TARGET_PORT, proto: 'tcp' }),
  },
  {
    id: 'NAT pinning: FTP PORT in an HTTP POST (TCP 21)',
    title: 'a PORT command at a segment start, after a segment ending a line, inside a POST body, naming the victim',
    origin: 'NAT pinning (Samy Kamkar, 2010)',
    alg: 'ftp',
    kernelHelper: { type: 'ftp', proto: 'tcp' },
    serverPort: 21,
    victimPort: 0,
    craft: (h) => {
      const stream = httpPostAligned(h.server, text(ftpPort(h.victim, TARGET_PORT)), h.mss, '\r\n');
      return segmented(stream, h, HTTP_OK);
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'tcp' }),
  },
  {
    id: 'NAT pinning: FTP PORT naming another inside host',
    title: 'the same, the PORT command naming another inside host',
    origin: 'NAT pinning (Samy Kamkar, 2010), toward a third host as in v2',
    alg: 'ftp',
    kernelHelper: { type: 'ftp', proto: 'tcp' },
    serverPort: 21,
    victimPort: 0,
    craft: (h) => {
      const stream = httpPostAligned(h.server, text(ftpPort(h.other, TARGET_PORT)), h.mss, '\r\n');
      return segmented(stream, h, HTTP_OK);
    },
    goal: (h) => ({ host: h.other, port: TARGET_PORT, proto: 'tcp' }),
  },
];

/**
 * Controls: the legitimate exchanges the attacks imitate. A registration from
 * a phone at the start of its own SIP connection, answered 200 OK, does open
 * a pinhole toward the phone (RFC 3261 registration through a SIP ALG): the
 * runs show their checks can see a pinhole when there is one.
 */
export const CONTROL_SCENARIOS: readonly SlipstreamScenario[] = [
  {
    id: 'control: a phone registers over TCP',
    title: 'a REGISTER at the start of the victim\'s own SIP connection, Contact naming itself, answered 200 OK',
    origin: 'RFC 3261 (not an attack)',
    alg: 'sip',
    kernelHelper: { type: 'sip', proto: 'tcp' },
    serverPort: 5060,
    victimPort: 0,
    craft: (h) => {
      const message = register(h, h.victim, 'TCP');
      return { transport: 'tcp', stream: text(message), cuts: [], reply: text(ok(message, h)) };
    },
    goal: (h) => ({ host: h.victim, port: TARGET_PORT, proto: 'tcp' }),
  },
];

/**
 * SIP messages and a SIP ALG on an engine, for the tests that drive calls
 * through NatEngine.process() (alg-engine.test.ts, state.test.ts).
 */
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { Side, Verdict, type NatEngine } from '../../../src/nat/engine.js';
import { parseUdpPacket } from '../../../src/wire/udp.js';
import { makeEngine, udpPkt } from '../../nat/packets.js';
import type { NatConfigInput } from '../../../src/nat/config.js';

export const dec = (b: Uint8Array) => new TextDecoder().decode(b);
export const PROXY = '198.51.100.10';
export const PEER_MEDIA = '198.51.100.77';

export function withSip(config: Partial<NatConfigInput> = {}, options?: unknown) {
  const { engine, clock } = makeEngine(config);
  const def = findAlg('sip')!;
  const alg = attachAlg(engine, def, def.defaultPorts, options);
  return { engine, clock, alg };
}

export function sdp(addr: string, port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n`;
}

export function msg(startLine: string, headers: Record<string, string>, body = ''): string {
  const h = Object.entries({ ...headers, 'Content-Length': String(new TextEncoder().encode(body).length) })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `${startLine}\r\n${h}\r\n${body}`;
}

export function invite(phone: string, port: number, callId: string, cseq = 1, mediaPort = 30000): string {
  return msg(
    `INVITE sip:bob@${PROXY} SIP/2.0`,
    {
      Via: `SIP/2.0/UDP ${phone}:${port};branch=z9hG4bK${callId}${cseq};rport`,
      From: `<sip:alice@${PROXY}>;tag=a1`,
      To: `<sip:bob@${PROXY}>`,
      'Call-ID': callId,
      CSeq: `${cseq} INVITE`,
      Contact: `<sip:alice@${phone}:${port}>`,
      'Content-Type': 'application/sdp',
    },
    sdp(phone, mediaPort),
  );
}

export function response(status: string, viaHost: string, callId: string, cseq: string, body = '', extra: Record<string, string> = {}): string {
  return msg(
    `SIP/2.0 ${status}`,
    {
      Via: `SIP/2.0/UDP ${viaHost};branch=z9hG4bK1;rport`,
      From: `<sip:alice@${PROXY}>;tag=a1`,
      To: `<sip:bob@${PROXY}>;tag=b1`,
      'Call-ID': callId,
      CSeq: cseq,
      ...(body ? { 'Content-Type': 'application/sdp' } : {}),
      ...extra,
    },
    body,
  );
}

export function send(engine: NatEngine, from: string, to: string, text: string, side: Side): { verdict: Verdict; text: string; pkt: Uint8Array } {
  const p = udpPkt(from, to, text);
  const verdict = engine.process(p, side);
  return { verdict, text: verdict === Verdict.Drop ? '' : dec(parseUdpPacket(engine.output).payload), pkt: engine.output };
}

export function rtp(engine: NatEngine, from: string, to: string): Verdict {
  return engine.process(udpPkt(from, to, 'rtp'), Side.Outside);
}

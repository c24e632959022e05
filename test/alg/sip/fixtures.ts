/** Shared helpers for the SIP codec tests: message building and rewrite contexts. */
import type { AddressField, Endpoint, MediaStreamRequest, RewriteContext } from '../../../src/alg/sip/index.js';

/** Lines joined with CR LF; the body (if any) follows the empty line verbatim. */
export function sip(lines: string[], body = ''): Uint8Array {
  return latin1Bytes(lines.join('\r\n') + '\r\n\r\n' + body);
}

/** SDP lines, each ended with CR LF. */
export function sdpBody(lines: string[]): string {
  return lines.map((l) => l + '\r\n').join('');
}

export function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

export function text(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

export interface Call {
  field: AddressField;
  addr: string;
  port: number;
  transport?: string;
}

/**
 * A NAT with one inside host and one public address. Outbound it maps the
 * inside host's signalling port `sigShift` up and media ports `mediaShift` up;
 * inbound it maps those public ports back. Records every question asked.
 */
export function natContext(options: {
  direction: 'outbound' | 'inbound';
  inside?: string;
  public?: string;
  sigShift?: number;
  mediaShift?: number;
  rewriteFromTo?: boolean;
  transport?: string;
  mapMedia?: (s: MediaStreamRequest) => Endpoint | null;
}): RewriteContext & { calls: Call[]; media: MediaStreamRequest[] } {
  const inside = options.inside ?? '10.0.1.2';
  const pub = options.public ?? '203.0.113.1';
  const sigShift = options.sigShift ?? 0;
  const mediaShift = options.mediaShift ?? 10000;
  const calls: Call[] = [];
  const media: MediaStreamRequest[] = [];
  return {
    direction: options.direction,
    transport: options.transport ?? 'udp',
    rewriteFromTo: options.rewriteFromTo ?? false,
    calls,
    media,
    isPrivate(addr, port, field) {
      calls.push({ field, addr, port });
      return addr === inside;
    },
    mapSignalling(addr, port, transport, field) {
      calls.push({ field, addr, port, transport });
      if (options.direction === 'outbound') return addr === inside ? { addr: pub, port: port + sigShift } : null;
      return addr === pub ? { addr: inside, port: port - sigShift } : null;
    },
    mapMedia(s) {
      media.push(s);
      if (options.mapMedia) return options.mapMedia(s);
      return { addr: pub, port: s.port + mediaShift };
    },
  };
}

/**
 * Arbitrary but plausible SIP messages (fast-check) for the property tests
 * and the fuzz targets: requests and responses of every common method, Via,
 * Contact and SDP naming the sender, other inside hosts, our public address,
 * outside hosts, names and junk, on ports from 0 to past 65535, with a few
 * Call-IDs so that messages of one sequence belong to the same calls.
 */
import fc from 'fast-check';

export interface SipWorld {
  /** The inside host sending (or receiving) the messages. */
  sender: string;
  /** Other inside hosts: no pinhole may ever go to them. */
  otherInside: readonly string[];
  /** The gateway's public address. */
  publicAddr: string;
  /** Outside hosts: the proxy, a media server. */
  outside: readonly string[];
}

const METHODS = ['INVITE', 'REGISTER', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'UPDATE', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'INFO', 'REFER', 'PUBLISH'];
const CODES = [100, 180, 183, 200, 202, 301, 401, 403, 404, 407, 408, 480, 486, 487, 488, 500, 503, 603];
const PORTS = [0, 1, 80, 1023, 1024, 5060, 5061, 5062, 10000, 30000, 30001, 40000, 49152, 65534, 65535, 65536, 99999];

export function sipMessageArb(w: SipWorld): fc.Arbitrary<string> {
  const host = fc.oneof(
    { weight: 6, arbitrary: fc.constant(w.sender) },
    { weight: 2, arbitrary: fc.constantFrom(...w.otherInside) },
    { weight: 2, arbitrary: fc.constantFrom(w.publicAddr, ...w.outside) },
    { weight: 1, arbitrary: fc.constantFrom('pbx.example.com', '[2001:db8::1]', '10.0.0.256', '0.0.0.0', '127.0.0.1', '') },
  );
  const port = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PORTS) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 70000 }) });
  const hostPort = fc.tuple(host, fc.option(port, { nil: undefined })).map(([h, p]) => (p === undefined ? h : `${h}:${p}`));
  const callId = fc.constantFrom('c1', 'c2', 'c3', 'c4@x', 'c5');
  const tag = fc.constantFrom('', ';tag=a1', ';tag=b2');

  const via = fc
    .tuple(fc.constantFrom('UDP', 'TCP', 'TLS', 'udp'), hostPort, fc.nat(99), fc.constantFrom('', ';rport', ';rport=5060'), fc.option(host, { nil: undefined }), fc.option(host, { nil: undefined }))
    .map(([t, hp, b, rport, received, maddr]) => `SIP/2.0/${t} ${hp};branch=z9hG4bK${b}${rport}${received !== undefined ? `;received=${received}` : ''}${maddr !== undefined ? `;maddr=${maddr}` : ''}`);
  const contactEntry = fc
    .tuple(fc.constantFrom('alice', 'bob', ''), hostPort, fc.constantFrom('', ';transport=tcp', ';transport=udp', ';ob', ';maddr=10.0.0.3'), fc.constantFrom('', ';expires=0', ';expires=60', ';expires=3600', ';expires=4294967296'))
    .map(([u, hp, up, hpar]) => `<sip:${u ? `${u}@` : ''}${hp}${up}>${hpar}`);
  const contact = fc.oneof({ weight: 8, arbitrary: fc.array(contactEntry, { minLength: 1, maxLength: 4 }).map((c) => c.join(', ')) }, { weight: 1, arbitrary: fc.constant('*') });

  const media = fc
    .tuple(
      fc.constantFrom('audio', 'video', 'image', 'application', 'text'),
      port,
      fc.constantFrom('', '/2'),
      fc.constantFrom('RTP/AVP 0 8', 'udptl t38', 'RTP/SAVP 0', 'TCP/RTP/AVP 0', 'UDP/BFCP *'),
      fc.option(host, { nil: undefined }),
      fc.option(fc.tuple(port, fc.option(host, { nil: undefined })), { nil: undefined }),
      fc.constantFrom('', 'a=sendrecv\r\n', 'a=inactive\r\n', 'a=candidate:1 1 UDP 2130706431 10.0.0.2 30000 typ host\r\n'),
    )
    .map(([kind, p, count, proto, c, rtcp, extra]) => {
      let s = `m=${kind} ${p}${count} ${proto}\r\n`;
      if (c !== undefined) s += `c=IN IP4 ${c}\r\n`;
      if (rtcp) s += `a=rtcp:${rtcp[0]}${rtcp[1] !== undefined ? ` IN IP4 ${rtcp[1]}` : ''}\r\n`;
      return s + extra;
    });
  const sdp = fc
    .tuple(host, fc.option(host, { nil: undefined }), fc.array(media, { minLength: 0, maxLength: 4 }))
    .map(([o, c, ms]) => `v=0\r\no=- 1 1 IN IP4 ${o}\r\ns=-\r\n${c !== undefined ? `c=IN IP4 ${c}\r\n` : ''}t=0 0\r\n${ms.join('')}`);

  const startLine = fc.oneof(
    fc.tuple(fc.constantFrom(...METHODS), hostPort).map(([m, hp]) => ({ line: `${m} sip:bob@${hp} SIP/2.0`, method: m })),
    fc.tuple(fc.constantFrom(...CODES), fc.constantFrom(...METHODS)).map(([c, m]) => ({ line: `SIP/2.0 ${c} Reason`, method: m })),
  );

  return fc
    .record({
      start: startLine,
      vias: fc.array(via, { minLength: 1, maxLength: 3 }),
      compact: fc.boolean(),
      callId,
      cseq: fc.integer({ min: 1, max: 5 }),
      fromTag: tag,
      toTag: tag,
      contact: fc.option(contact, { nil: undefined }),
      expires: fc.option(fc.constantFrom(0, 60, 3600, 4294967295), { nil: undefined }),
      route: fc.option(hostPort, { nil: undefined }),
      body: fc.option(sdp, { nil: undefined }),
      lengthDelta: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) }),
    })
    .map((m) => {
      const h = (long: string, short: string) => (m.compact ? short : long);
      const lines = [m.start.line];
      for (const v of m.vias) lines.push(`${h('Via', 'v')}: ${v}`);
      lines.push(`${h('From', 'f')}: <sip:alice@example.com>${m.fromTag}`, `${h('To', 't')}: <sip:bob@example.com>${m.toTag}`);
      lines.push(`${h('Call-ID', 'i')}: ${m.callId}`, `CSeq: ${m.cseq} ${m.start.method}`);
      if (m.contact !== undefined) lines.push(`${h('Contact', 'm')}: ${m.contact}`);
      if (m.expires !== undefined) lines.push(`Expires: ${m.expires}`);
      if (m.route !== undefined) lines.push(`Record-Route: <sip:${m.route};lr>`);
      const body = m.body ?? '';
      if (m.body !== undefined) lines.push(`${h('Content-Type', 'c')}: application/sdp`);
      lines.push(`${h('Content-Length', 'l')}: ${Math.max(0, body.length + m.lengthDelta)}`);
      return `${lines.join('\r\n')}\r\n\r\n${body}`;
    });
}

/**
 * A small SIP phone and proxy for the simulator (the demo and the SIP tests
 * use them): enough SIP (RFC 3261 over UDP)
 * to register, call, answer, send RTP to the address in the peer's SDP (never
 * echoing to the packet source, which would hide a bad SDP), count what
 * arrives, and hang up. Phones send every request through their outbound
 * proxy, as NATed phones are usually configured; the proxy is a registrar and
 * a stateless forwarder.
 */
import type { SimHost } from '../dataplane/sim/index.js';
import type { Endpoint, UdpSocket } from '../net/udp.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export interface SipMsg {
  first: string;
  headers: Array<[string, string]>;
  body: string;
}

function parse(text: string): SipMsg {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [first, ...lines] = head.split('\r\n');
  return { first, headers: lines.map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]), body: rest.join('\r\n\r\n') };
}

function header(m: SipMsg, name: string): string | undefined {
  return m.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

function build(first: string, headers: Array<[string, string]>, body = ''): string {
  const h = headers.filter(([k]) => k.toLowerCase() !== 'content-length');
  return `${first}\r\n${h.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: ${enc(body).length}\r\n\r\n${body}`;
}

function uriHostPort(uri: string): Endpoint {
  const m = /sip:(?:[^@>]+@)?([0-9.]+)(?::(\d+))?/.exec(uri)!;
  return { address: m[1], port: Number(m[2] ?? 5060) };
}

function sdpMedia(body: string): Endpoint | null {
  const c = /c=IN IP4 ([0-9.]+)/.exec(body);
  const m = /m=audio (\d+)/.exec(body);
  return c && m ? { address: c[1], port: Number(m[1]) } : null;
}

export class SimProxy {
  readonly socket: UdpSocket;
  readonly bindings = new Map<string, { contact: string; expires: number }>();

  constructor(
    private readonly host: SimHost,
    readonly domain: string,
  ) {
    this.socket = host.bindUdp({ port: 5060 });
    this.socket.onMessage((d, from) => this.receive(parse(dec(d)), from));
  }

  private receive(m: SipMsg, from: Endpoint): void {
    if (m.first.startsWith('SIP/2.0')) return this.forwardResponse(m);
    // RFC 3261 18.2.1 and RFC 3581: note where the request really came from.
    const top = m.headers.find(([k]) => k.toLowerCase() === 'via');
    if (top) top[1] = `${top[1].replace(/;rport(?=;|$)/, `;rport=${from.port}`)};received=${from.address}`;
    const method = m.first.split(' ')[0];
    if (method === 'REGISTER') {
      const user = /sip:([^@]+)@/.exec(header(m, 'To')!)![1];
      const contact = /<([^>]+)>/.exec(header(m, 'Contact')!)![1];
      const expires = Number(header(m, 'Expires') ?? 3600);
      this.bindings.set(user, { contact, expires });
      const resp = build('SIP/2.0 200 OK', [
        ...m.headers.filter(([k]) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(k.toLowerCase())),
        ['Contact', `<${contact}>;expires=${expires}`],
      ]);
      this.reply(m, resp, from);
      return;
    }
    // Requests for our domain go to the registered contact; others to their Request-URI.
    const target = m.first.split(' ')[1];
    const user = /sip:([^@]+)@/.exec(target)?.[1];
    const domainHost = target.includes(`@${this.domain}`) && user ? this.bindings.get(user)?.contact : undefined;
    const dest = uriHostPort(domainHost ?? target);
    const first = domainHost ? m.first.replace(target, domainHost) : m.first;
    const via: [string, string] = ['Via', `SIP/2.0/UDP ${this.host.address}:5060;branch=z9hG4bKp${Math.floor(this.host.random() * 1e9)}`];
    this.socket.send(enc(build(first, [via, ...m.headers], m.body)), dest);
  }

  /** Stateless: pop our Via, send to the next one (its received/rport when present). */
  private forwardResponse(m: SipMsg): void {
    const vias = m.headers.filter(([k]) => k.toLowerCase() === 'via');
    if (vias.length < 2) return;
    const rest = m.headers.filter((h) => h !== vias[0]);
    const next = vias[1][1];
    const sentBy = /SIP\/2\.0\/UDP ([0-9.]+)(?::(\d+))?/.exec(next)!;
    const received = /received=([0-9.]+)/.exec(next)?.[1];
    const rport = /rport=(\d+)/.exec(next)?.[1];
    this.socket.send(enc(build(m.first, rest, m.body)), { address: received ?? sentBy[1], port: Number(rport ?? sentBy[2] ?? 5060) });
  }

  private reply(req: SipMsg, text: string, from: Endpoint): void {
    const via = header(req, 'Via')!;
    const rport = via.includes('rport') ? from.port : Number(/:(\d+)/.exec(via)?.[1] ?? 5060);
    this.socket.send(enc(text), { address: from.address, port: rport });
  }
}

export interface CallResult {
  status: number;
  rtpReceived: number;
  rtpSent: number;
  /** Where we sent media: the address in the peer's SDP. */
  peerMedia: Endpoint | null;
}

export class SimPhone {
  readonly sip: UdpSocket;
  readonly media: UdpSocket;
  rtpReceived = 0;
  rtpSent = 0;
  private readonly waiters = new Map<string, (m: SipMsg) => void>();
  private cseq = 1;
  private dialog: { callId: string; peerContact: string; peerMedia: Endpoint | null; toHeader: string; fromHeader: string } | null = null;
  incomingCalls = 0;
  /** RTP packets this phone sends when it answers a call (20 ms apart). */
  answerPackets = 50;

  constructor(
    readonly host: SimHost,
    readonly user: string,
    readonly proxy: Endpoint,
    readonly domain: string,
    readonly sipPort = 5060,
    readonly mediaPort = 30000,
  ) {
    this.sip = host.bindUdp({ port: sipPort });
    this.media = host.bindUdp({ port: mediaPort });
    this.sip.onMessage((d) => this.receive(parse(dec(d))));
    this.media.onMessage(() => this.rtpReceived++);
  }

  private get me(): string {
    return `${this.host.address}:${this.sipPort}`;
  }

  private sdp(): string {
    const a = this.host.address;
    return `v=0\r\no=${this.user} 1 1 IN IP4 ${a}\r\ns=call\r\nc=IN IP4 ${a}\r\nt=0 0\r\nm=audio ${this.mediaPort} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n`;
  }

  private request(method: string, uri: string, extra: Array<[string, string]>, body = ''): Promise<SipMsg> {
    const branch = `z9hG4bK${this.user}${this.cseq}${Math.floor(this.host.random() * 1e6)}`;
    const callId = extra.find(([k]) => k === 'Call-ID')![1];
    const cseq = this.cseq++;
    const text = build(`${method} ${uri} SIP/2.0`, [['Via', `SIP/2.0/UDP ${this.me};branch=${branch};rport`], ...extra, ['CSeq', `${cseq} ${method}`], ['Max-Forwards', '70']], body);
    return new Promise((resolve) => {
      this.waiters.set(`${callId}|${cseq}`, resolve);
      this.sip.send(enc(text), this.proxy);
    });
  }

  register(expires = 600): Promise<SipMsg> {
    return this.request('REGISTER', `sip:${this.domain}`, [
      ['From', `<sip:${this.user}@${this.domain}>;tag=r${this.user}`],
      ['To', `<sip:${this.user}@${this.domain}>`],
      ['Call-ID', `reg-${this.user}`],
      ['Contact', `<sip:${this.user}@${this.me}>`],
      ['Expires', String(expires)],
    ]);
  }

  /** Calls `callee`; resolves when answered, after sending ACK and starting media. */
  async call(callee: string, packets = 50): Promise<CallResult> {
    const callId = `call-${this.user}-${Math.floor(this.host.random() * 1e9)}`;
    const from = `<sip:${this.user}@${this.domain}>;tag=f${this.user}`;
    const to = `<sip:${callee}@${this.domain}>`;
    const r = await this.request('INVITE', `sip:${callee}@${this.domain}`, [['From', from], ['To', to], ['Call-ID', callId], ['Contact', `<sip:${this.user}@${this.me}>`], ['Content-Type', 'application/sdp']], this.sdp());
    const status = Number(r.first.split(' ')[1]);
    if (status !== 200) return { status, rtpReceived: 0, rtpSent: 0, peerMedia: null };
    const peerContact = /<([^>]+)>/.exec(header(r, 'Contact')!)![1];
    const peerMedia = sdpMedia(r.body);
    this.dialog = { callId, peerContact, peerMedia, toHeader: header(r, 'To')!, fromHeader: from };
    this.sip.send(enc(build(`ACK ${peerContact} SIP/2.0`, [['Via', `SIP/2.0/UDP ${this.me};branch=z9hG4bKack${this.user};rport`], ['From', from], ['To', header(r, 'To')!], ['Call-ID', callId], ['CSeq', `${Number(header(r, 'CSeq')!.split(' ')[0])} ACK`]])), this.proxy);
    if (peerMedia) this.sendRtp(peerMedia, packets);
    return { status, rtpReceived: this.rtpReceived, rtpSent: this.rtpSent, peerMedia };
  }

  hangup(): Promise<SipMsg> | null {
    const d = this.dialog;
    if (!d) return null;
    this.dialog = null;
    return this.request('BYE', d.peerContact, [['From', d.fromHeader], ['To', d.toHeader], ['Call-ID', d.callId]]);
  }

  private sendRtp(to: Endpoint, packets: number): void {
    let seq = 0;
    const tick = () => {
      if (seq >= packets) return;
      const pkt = new Uint8Array(172);
      pkt[0] = 0x80;
      pkt[1] = 8;
      pkt[2] = seq >> 8;
      pkt[3] = seq & 0xff;
      this.media.send(pkt, to);
      this.rtpSent++;
      seq++;
      this.host.scheduler.setTimeout(tick, 20);
    };
    tick();
  }

  private receive(m: SipMsg): void {
    if (m.first.startsWith('SIP/2.0')) {
      const status = Number(m.first.split(' ')[1]);
      if (status < 200) return;
      const key = `${header(m, 'Call-ID')}|${header(m, 'CSeq')!.split(' ')[0]}`;
      this.waiters.get(key)?.(m);
      this.waiters.delete(key);
      return;
    }
    const method = m.first.split(' ')[0];
    const resp = (status: string, extra: Array<[string, string]> = [], body = '') =>
      build(`SIP/2.0 ${status}`, [...m.headers.filter(([k]) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(k.toLowerCase())), ...extra], body);
    const replyTo = this.replyTarget(m);
    if (method === 'INVITE') {
      this.incomingCalls++;
      const peerMedia = sdpMedia(m.body);
      this.dialog = { callId: header(m, 'Call-ID')!, peerContact: /<([^>]+)>/.exec(header(m, 'Contact')!)![1], peerMedia, toHeader: header(m, 'From')!, fromHeader: `${header(m, 'To')};tag=t${this.user}` };
      const ok = resp('200 OK', [['Contact', `<sip:${this.user}@${this.me}>`], ['Content-Type', 'application/sdp']], this.sdp()).replace(`To: ${header(m, 'To')}`, `To: ${header(m, 'To')};tag=t${this.user}`);
      this.sip.send(enc(ok), replyTo);
      if (peerMedia) this.sendRtp(peerMedia, this.answerPackets);
    } else if (method === 'BYE') {
      this.dialog = null;
      this.sip.send(enc(resp('200 OK')), replyTo);
    }
  }

  /** Responses go to the top Via's received/rport, else its sent-by (RFC 3261 18.2.2, RFC 3581). */
  private replyTarget(m: SipMsg): Endpoint {
    const via = header(m, 'Via')!;
    const sentBy = /SIP\/2\.0\/UDP ([0-9.]+)(?::(\d+))?/.exec(via)!;
    return { address: /received=([0-9.]+)/.exec(via)?.[1] ?? sentBy[1], port: Number(/rport=(\d+)/.exec(via)?.[1] ?? sentBy[2] ?? 5060) };
  }
}

/**
 * The FTP ALG through NatEngine.process(): active mode from an inside client
 * (PORT, EPRT rewritten, a pinhole for the server only, once), passive mode
 * from an inside client (nothing opened, the data connection tied to its
 * control connection), an inside server behind a static forward (227 and 229
 * rewritten to the public endpoint), and what opens nothing: FTP bounce,
 * ports below 1024, IPv6, a PORT inside an HTTP body (slipstreaming).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import { Side, type NatEngine } from '../../../src/nat/engine.js';
import { TCP_SYN } from '../../../src/wire/tcp.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { describe as show, makeEngine, tcpPkt } from '../../nat/packets.js';
import type { NatConfigInput } from '../../../src/nat/config.js';
import { run, TcpConversation } from '../tcp-conversation.js';

const CLIENT = '10.0.0.2';
const SERVER = '198.51.100.10';
const PUBLIC = '203.0.113.1';

function withFtp(config: Partial<NatConfigInput> = {}, options?: unknown) {
  const { engine, clock } = makeEngine(config);
  const def = findAlg('ftp')!;
  const alg = attachAlg(engine, def, def.defaultPorts, options);
  return { engine, clock, alg, counters: () => alg.counters() };
}

function ftpExpectations(engine: NatEngine) {
  return engine.listExpectations().filter((e) => e.helper === 'ftp');
}

/** A SYN from `from` to `to` on `side`: where it went, or null when dropped. */
function syn(engine: NatEngine, from: string, to: string, side: Side, isn = 7000): string | null {
  const out = run(engine, tcpPkt(from, to, TCP_SYN, isn), side);
  return out.length ? show(out[0]) : null;
}

test('active mode: PORT gets the public address and port; the server, and only it, connects once', () => {
  const { engine, counters } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40000`, `${SERVER}:21`, Side.Inside);
  assert.equal(c.reply('220 ready\r\n').text, '220 ready\r\n');
  const port = c.send('PORT 10,0,0,2,156,64\r\n');
  const m = /^PORT 203,0,113,1,(\d+),(\d+)\r\n$/.exec(port.text);
  assert.ok(m, port.text);
  const publicPort = Number(m[1]) * 256 + Number(m[2]);
  assert.ok(publicPort >= 1024);
  // The length changed: later bytes, and the server's acknowledgements, still line up.
  assert.equal(c.reply('200 PORT command successful\r\n').text, '200 PORT command successful\r\n');
  assert.equal(c.send('RETR f\r\n').text, 'RETR f\r\n');
  const [pinhole] = ftpExpectations(engine);
  assert.equal(pinhole.remoteAddr, parseIpv4(SERVER));
  assert.equal(pinhole.insidePort, 156 * 256 + 64);
  // Another host cannot use it; the server can, once.
  assert.equal(syn(engine, '198.51.100.99:20', `${PUBLIC}:${publicPort}`, Side.Outside), null);
  assert.equal(syn(engine, `${SERVER}:20`, `${PUBLIC}:${publicPort}`, Side.Outside), `${SERVER}:20 > ${CLIENT}:${156 * 256 + 64}`);
  assert.equal(syn(engine, `${SERVER}:2020`, `${PUBLIC}:${publicPort}`, Side.Outside, 9000), null, 'a second connection is refused');
  assert.equal(ftpExpectations(engine).length, 0);
  assert.equal(counters().portCommands, 1);
  assert.equal(counters().dataPinholes, 1);
});

test('active mode: a PORT split across segments, and in lower case, is rewritten whole', () => {
  const { engine } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40001`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  const line = 'port 10,0,0,2,200,10\r\n';
  const out = c.send(line, [1, 6, 12, 20]);
  assert.match(out.text, /^port 203,0,113,1,\d+,\d+\r\n$/);
  assert.equal(ftpExpectations(engine).length, 1);
});

test('EPRT |1| gets the public address and port; EPRT |2| passes untouched and is counted', () => {
  const { engine, counters } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40002`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  const out = c.send('EPRT |1|10.0.0.2|40100|\r\n');
  const m = /^EPRT \|1\|203\.0\.113\.1\|(\d+)\|\r\n$/.exec(out.text);
  assert.ok(m, out.text);
  assert.equal(ftpExpectations(engine)[0].publicPort, Number(m[1]));
  const v6 = 'EPRT |2|2001:db8::2|40101|\r\n';
  assert.equal(c.send(v6).text, v6);
  assert.equal(counters().notIpv4, 1);
});

test('FTP bounce: a PORT naming another host, or a port below 1024, opens nothing and is counted', () => {
  const { engine, counters } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40003`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  for (const line of ['PORT 10,0,0,3,156,64\r\n', 'PORT 198,51,100,77,0,25\r\n', 'EPRT |1|10.0.0.200|40000|\r\n']) {
    assert.equal(c.send(line).text, line, 'passed as written');
  }
  assert.equal(c.send('PORT 10,0,0,2,0,21\r\n').text, 'PORT 10,0,0,2,0,21\r\n');
  assert.equal(ftpExpectations(engine).length, 0);
  assert.equal(counters().thirdParty, 3);
  assert.equal(counters().lowPort, 1);
  assert.equal(engine.counters.snapshot().expectationsOpened, 0);
});

test('one data pinhole per control connection: a new PORT replaces the unused one', () => {
  const { engine, counters } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40004`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  for (let k = 0; k < 20; k++) c.send(`PORT 10,0,0,2,100,${k + 1}\r\n`);
  const live = ftpExpectations(engine);
  assert.equal(live.length, 1);
  assert.equal(live[0].insidePort, 100 * 256 + 20);
  assert.equal(counters().replaced, 19);
  // Another control connection has its own.
  const d = TcpConversation.open(engine, `${CLIENT}:40005`, `${SERVER}:21`, Side.Inside);
  d.reply('220 ready\r\n');
  d.send('PORT 10,0,0,2,101,1\r\n');
  assert.equal(ftpExpectations(engine).length, 2);
});

test('a data pinhole lives for its bounded time only', () => {
  const { engine, clock } = withFtp({}, { dataSeconds: 10 });
  const c = TcpConversation.open(engine, `${CLIENT}:40006`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  const m = /(\d+),(\d+)\r\n$/.exec(c.send('PORT 10,0,0,2,156,70\r\n').text)!;
  clock.advance(11_000);
  engine.tick(clock.now());
  assert.equal(syn(engine, `${SERVER}:20`, `${PUBLIC}:${Number(m[1]) * 256 + Number(m[2])}`, Side.Outside), null);
});

test('passive mode from an inside client: 227 and 229 pass as written; the data connection joins its control connection', () => {
  const { engine, counters } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40007`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  c.send('PASV\r\n');
  const pasv = '227 Entering Passive Mode (198,51,100,10,195,80).\r\n';
  assert.equal(c.reply(pasv).text, pasv);
  assert.equal(ftpExpectations(engine)[0].direction, 'outbound');
  const data = TcpConversation.open(engine, `${CLIENT}:40008`, `${SERVER}:${195 * 256 + 80}`, Side.Inside);
  assert.equal(data.send('x').delivered, true);
  const flow = engine.listFlows().find((f) => f.inside[1] === 40008)!;
  assert.equal(engine.groupOfFlow(flow.id)?.helper, 'ftp', 'a child of the control connection');
  c.send('EPSV\r\n');
  const epsv = '229 Entering Extended Passive Mode (|||40200|)\r\n';
  assert.equal(c.reply(epsv).text, epsv);
  assert.equal(counters().dataDials, 2);
  // A 227 naming another server opens nothing.
  c.reply('227 Entering Passive Mode (198,51,100,99,195,81).\r\n');
  assert.equal(counters().thirdParty, 1);
});

test('inside server behind a static forward: 227 and 229 name the public endpoint; only the client that asked may connect', () => {
  const SRV = '10.0.0.5';
  const { engine, counters } = withFtp({ forwards: [{ port: 21, to: SRV }] });
  const c = TcpConversation.open(engine, '198.51.100.20:50000', `${PUBLIC}:21`, Side.Outside);
  assert.equal(c.reply('220 ready\r\n').seen?.src, `${PUBLIC}:21`);
  c.send('PASV\r\n');
  const r = c.reply('227 Entering Passive Mode (10,0,0,5,117,48).\r\n');
  const m = /^227 Entering Passive Mode \(203,0,113,1,(\d+),(\d+)\)\.\r\n$/.exec(r.text);
  assert.ok(m, r.text);
  const pub = Number(m[1]) * 256 + Number(m[2]);
  assert.equal(syn(engine, '198.51.100.21:50001', `${PUBLIC}:${pub}`, Side.Outside), null, 'another client');
  assert.equal(syn(engine, '198.51.100.20:50001', `${PUBLIC}:${pub}`, Side.Outside), `198.51.100.20:50001 > ${SRV}:${117 * 256 + 48}`);
  c.send('EPSV\r\n');
  const e = c.reply('229 Entering Extended Passive Mode (|||30001|)\r\n');
  const port = Number(/\(\|\|\|(\d+)\|\)/.exec(e.text)![1]);
  assert.equal(ftpExpectations(engine)[0].publicPort, port);
  assert.equal(syn(engine, '198.51.100.20:50002', `${PUBLIC}:${port}`, Side.Outside), `198.51.100.20:50002 > ${SRV}:30001`);
  assert.equal(counters().dataPinholes, 2);
});

test('inside server that already names the public address (pasv_address): the pinhole is on the port it names', () => {
  const SRV = '10.0.0.5';
  const { engine } = withFtp({ forwards: [{ port: 21, to: SRV }] });
  const c = TcpConversation.open(engine, '198.51.100.20:50010', `${PUBLIC}:21`, Side.Outside);
  c.reply('220 ready\r\n');
  const line = '227 Entering Passive Mode (203,0,113,1,117,60).\r\n';
  assert.equal(c.reply(line).text, line);
  assert.equal(syn(engine, '198.51.100.20:50011', `${PUBLIC}:${117 * 256 + 60}`, Side.Outside), `198.51.100.20:50011 > ${SRV}:${117 * 256 + 60}`);
});

test('an active-mode PORT from an outside client to an inside server: the server dials out, nothing is opened', () => {
  const SRV = '10.0.0.5';
  const { engine, counters } = withFtp({ forwards: [{ port: 21, to: SRV }] });
  const c = TcpConversation.open(engine, '198.51.100.20:50020', `${PUBLIC}:21`, Side.Outside);
  c.reply('220 ready\r\n');
  const line = 'PORT 198,51,100,20,200,1\r\n';
  assert.equal(c.send(line).text, line);
  const [e] = ftpExpectations(engine);
  assert.equal(e.direction, 'outbound');
  assert.equal(syn(engine, `${SRV}:20`, `198.51.100.20:${200 * 256 + 1}`, Side.Inside), `${PUBLIC}:20 > 198.51.100.20:${200 * 256 + 1}`);
  // Bounce through our server to a third host: not ours to tie to anything.
  c.send('PORT 192,0,2,1,200,80\r\n');
  c.send('PORT 198,51,100,20,0,80\r\n');
  assert.equal(counters().thirdParty, 1);
  assert.equal(counters().lowPort, 1);
});

test('slipstreaming: an HTTP POST to port 21 whose body holds PORT lines opens nothing and passes unchanged', () => {
  const { engine, alg } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40030`, `${SERVER}:21`, Side.Inside);
  const body = 'x'.repeat(30) + '\r\nPORT 10,0,0,2,4,1\r\nEPRT |1|10.0.0.2|1025|\r\n';
  const post = `POST / HTTP/1.1\r\nHost: ${SERVER}:21\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  // Cut so that each PORT line starts a segment, as the attack arranges.
  const cuts = [post.indexOf('PORT'), post.indexOf('EPRT')];
  assert.equal(c.send(post, cuts).text, post);
  assert.equal(ftpExpectations(engine).length, 0);
  assert.equal(engine.counters.snapshot().expectationsOpened, 0);
  assert.equal(alg.counters().streamsNotThisProtocol, 1);
});

test('a data connection with no announcement is refused (nothing is open by default)', () => {
  const { engine } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40040`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  assert.equal(syn(engine, `${SERVER}:20`, `${PUBLIC}:40041`, Side.Outside), null);
});

test('a gone control connection takes its unused pinhole with it (at the next message)', () => {
  const { engine, clock } = withFtp();
  const c = TcpConversation.open(engine, `${CLIENT}:40050`, `${SERVER}:21`, Side.Inside);
  c.reply('220 ready\r\n');
  c.send('PORT 10,0,0,2,156,80\r\n');
  assert.equal(ftpExpectations(engine).length, 1);
  // The control flow ends (its FIN exchange and then its transitory timeout) while the pinhole would still live.
  engine.expireFlow(engine.listFlows().find((f) => f.inside[1] === 40050)!.id);
  clock.advance(1000);
  const d = TcpConversation.open(engine, `${CLIENT}:40051`, `${SERVER}:21`, Side.Inside);
  d.reply('220 ready\r\n');
  assert.equal(ftpExpectations(engine).length, 0);
});

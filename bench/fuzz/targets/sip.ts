/**
 * The SIP codec alone: every decoder on arbitrary bytes, and the rewriter on
 * whatever parses, with contexts that answer arbitrary things. A rewrite that
 * succeeds must give a message that parses again, with the same headers and
 * a Content-Length that matches its body.
 */
import {
  applyEdits, frameSipStream, parseAddressList, parseContentType, parseCSeq, parseHostPort, parseSipMessage, parseUri, parseViaList,
  rewriteSipMessage, type Endpoint, type RewriteContext,
} from '../../../src/alg/sip/index.js';
import { hashBytes } from '../rng.js';
import { defineFuzzTarget, invariant, latin1 } from '../target.js';
import { sipMessageArb } from '../../../test/alg/sip/message-generator.js';
import { captureSipMessages, generatedSipMessages, rfc4475Messages, SIP_DICTIONARY, SIP_WORLD } from '../lib/sip-seeds.js';

/** Answers arbitrary but repeatable things: the rewriter must cope with any context. */
function arbitraryContext(direction: 'outbound' | 'inbound', seed: number): RewriteContext {
  const pick = (s: string, port: number) => ((s.length * 31 + port + seed) & 3) !== 0;
  const to = (port: number): Endpoint => ({ addr: (seed & 1) === 0 ? '203.0.113.77' : '2001:db8::7', port: (port + seed) & 0xffff });
  return {
    direction,
    transport: (seed & 4) === 0 ? 'udp' : 'tcp',
    rewriteFromTo: (seed & 2) !== 0,
    isPrivate: (a, port) => pick(a, port),
    mapSignalling: (a, port) => (pick(a, port + 1) ? to(port) : null),
    mapMedia: (s) => (pick(s.addr, s.port) ? to(s.port) : null),
  };
}

export default defineFuzzTarget({
  name: 'sip',
  description: 'SIP codec: parse (datagram and stream), frame, the header parsers, rewrite and re-parse',
  seeds: () => [...rfc4475Messages(), ...captureSipMessages(), ...generatedSipMessages(64)],
  generator: sipMessageArb(SIP_WORLD).map(latin1),
  dictionary: SIP_DICTIONARY,
  text: true,
  maxLength: 8192,
  ciCount: 1000,
  run(b) {
    const d = parseSipMessage(b);
    parseSipMessage(b, { transport: 'stream' });
    frameSipStream(b);
    parseUri(b, 0, b.length);
    parseAddressList(b, 0, b.length, true);
    parseViaList(b, 0, b.length);
    parseCSeq(b, { start: 0, end: b.length });
    parseContentType(b, { start: 0, end: b.length });
    parseHostPort(b, 0, b.length);
    if (!d.ok) return;
    const seed = hashBytes(b);
    for (const dir of ['outbound', 'inbound'] as const) {
      const r = rewriteSipMessage(d.message, arbitraryContext(dir, seed));
      if (!r.ok) continue;
      const a = applyEdits(b, r.edits);
      invariant(a.ok, () => `edits of a successful rewrite do not apply: ${a.ok ? '' : a.reason}`);
      const again = parseSipMessage(a.bytes);
      invariant(again.ok, () => `a rewritten message does not parse: ${again.ok ? '' : again.reason}`);
      invariant(again.message.headers.length === d.message.headers.length, 'a rewrite changed the number of headers');
      if (d.message.contentLength !== null && again.message.contentLength !== null) {
        invariant(again.message.contentLength === again.message.body.end - again.message.body.start, 'Content-Length does not match the rewritten body');
      }
    }
  },
});

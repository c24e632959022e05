import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, logNatEvent } from '../../src/control/logging.js';
import { parseIpv4 } from '../../src/wire/address.js';

function capture(level = 'info') {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: createLogger(level, stream), lines };
}

describe('engine events as log lines', () => {
  test('one JSON line per event, addresses as text', () => {
    const { log, lines } = capture();
    logNatEvent(log, { type: 'limit', limit: 'flows', detail: 'flow table full (10)' });
    logNatEvent(log, { type: 'forward', proto: 6, publicAddr: parseIpv4('203.0.113.1'), publicPort: 8080, insideAddr: parseIpv4('10.0.1.2'), insidePort: 80, remoteAddr: parseIpv4('198.51.100.10'), remotePort: 41000 });
    logNatEvent(log, { type: 'trigger-activated', trigger: 0, insideAddr: parseIpv4('10.0.1.2'), remoteAddr: parseIpv4('198.51.100.10'), publicAddr: parseIpv4('203.0.113.1') });
    logNatEvent(log, { type: 'trigger-expired', trigger: 0, insideAddr: parseIpv4('10.0.1.2') });
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.event]),
      [
        [40, 'limit reached: flow table full (10)', 'limit'],
        [30, 'port forward used', 'forward'],
        [30, 'port trigger activated', 'trigger-activated'],
        [30, 'port trigger expired', 'trigger-expired'],
      ],
    );
    assert.deepEqual([lines[1].proto, lines[1].public, lines[1].inside, lines[1].remote], ['tcp', '203.0.113.1:8080', '10.0.1.2:80', '198.51.100.10:41000']);
    assert.equal(lines[0].service, 'masq-gateway');
  });

  test('an expectation opened is logged with its reason at info; the rest only at debug', () => {
    const e = {
      type: 'expectation' as const,
      id: 3,
      proto: 17,
      publicAddr: parseIpv4('203.0.113.1'),
      publicPort: 40000,
      insideAddr: parseIpv4('10.0.1.2'),
      insidePort: 4000,
      remoteAddr: 0,
      remotePort: 0,
      helper: 'sip',
      reason: 'INVITE SDP m=audio',
    };
    const info = capture('info');
    logNatEvent(info.log, { ...e, action: 'opened' });
    logNatEvent(info.log, { ...e, action: 'expired' });
    assert.equal(info.lines.length, 1);
    assert.deepEqual([info.lines[0].msg, info.lines[0].reason, info.lines[0].remote], ['expectation opened', 'INVITE SDP m=audio', '*:*']);
    const debug = capture('debug');
    logNatEvent(debug.log, { ...e, action: 'removed' });
    assert.equal(debug.lines[0].msg, 'expectation removed');
  });
});

/**
 * Structured logs for the long-running services: pino, one JSON line per event
 * worth knowing, never one per packet. NAT engine events become log lines here
 * with addresses as text, so a line can be read without a decoder.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { ipv4ToString } from '../wire/address.js';
import { stdoutLogOutput } from './log-output.js';
import type { NatEvent } from '../nat/events.js';

export type { Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return createServiceLogger('masq-gateway', level, destination);
}

/**
 * The logger of one masq daemon (masq-gateway, masq-stun, masq-rendezvous,
 * masq-relay, masq-sip-proxy): JSON lines on stdout with the service's name,
 * ISO times, and secrets never printed whole (redacted by key). Stdout is
 * written without ever blocking the daemon (log-output.ts): a reader that
 * falls behind loses lines, counted, rather than stalling packet forwarding.
 */
export function createServiceLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', 'secret', 'token', '*.password', '*.secret', '*.token'], censor: '[redacted]' },
  };
  return pino(options, destination ?? stdoutLogOutput());
}

/** `(event, fields)` callbacks (the servers' log and warn options) onto a logger at one level. */
export function eventLog(log: Logger, level: 'debug' | 'info' | 'warn' | 'error'): (event: string, fields?: Record<string, unknown>) => void {
  return (event, fields = {}) => {
    if (!log.isLevelEnabled(level)) return;
    log[level]({ event, ...fields }, event);
  };
}

export function protoName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 ? 'icmp' : String(p);
}

const endpoint = (addr: number, port: number) => `${ipv4ToString(addr)}:${port}`;
/** 0 means "any" in expectations. */
const pattern = (addr: number, port: number) => `${addr === 0 ? '*' : ipv4ToString(addr)}:${port === 0 ? '*' : port}`;

/** One engine event, one line, at the level its importance deserves. */
export function logNatEvent(log: Logger, e: NatEvent): void {
  switch (e.type) {
    case 'limit':
      log.warn({ event: 'limit', limit: e.limit, detail: e.detail }, `limit reached: ${e.detail}`);
      return;
    case 'forward':
      log.info(
        {
          event: 'forward',
          proto: protoName(e.proto),
          public: endpoint(e.publicAddr, e.publicPort),
          inside: endpoint(e.insideAddr, e.insidePort),
          remote: endpoint(e.remoteAddr, e.remotePort),
        },
        'port forward used',
      );
      return;
    case 'trigger-activated':
      log.info(
        { event: 'trigger-activated', trigger: e.trigger, inside: ipv4ToString(e.insideAddr), remote: ipv4ToString(e.remoteAddr), public: ipv4ToString(e.publicAddr) },
        'port trigger activated',
      );
      return;
    case 'trigger-expired':
      log.info({ event: 'trigger-expired', trigger: e.trigger, inside: ipv4ToString(e.insideAddr) }, 'port trigger expired');
      return;
    case 'expectation': {
      // Lines nobody reads build nothing: the gateway runs at warn under load, where a call's pinholes
      // would otherwise format a dozen addresses for a line that is never written.
      if (!log.isLevelEnabled(e.action === 'opened' ? 'info' : 'debug')) return;
      const fields = {
        event: 'expectation',
        action: e.action,
        id: e.id,
        proto: protoName(e.proto),
        public: endpoint(e.publicAddr, e.publicPort),
        inside: endpoint(e.insideAddr, e.insidePort),
        remote: pattern(e.remoteAddr, e.remotePort),
        helper: e.helper,
        reason: e.reason,
      };
      // Every pinhole opened is logged with its reason (DESIGN, ALG safety rule 8); the rest is detail.
      if (e.action === 'opened') log.info(fields, 'expectation opened');
      else log.debug(fields, `expectation ${e.action}`);
      return;
    }
  }
}

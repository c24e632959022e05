/**
 * ipautofw and `ipmasqadm autofw` command lines, as the 1999 masquerading
 * HOWTOs wrote them, read into masq's own rules: a user migrating pastes the
 * lines into `autofw:` and `masq gateway --check` shows what each became.
 *
 * The rule kinds of Linux 2.0/2.2 autofw and what they become here:
 *
 * - RANGE with a control port (`-r PROTO LOW HIGH -c PROTO PORT`): a port
 *   trigger. Outbound traffic to the control port gives the range to the
 *   workstation that sent it. Secure unless `-i` (the tool's default: inbound
 *   only from the remote that workstation contacted). Without `-u` the rule
 *   lapsed 15 s (IP_AUTOFW_EXPIRE) after the last control-port packet; with
 *   `-u` it never lapsed. masq: without `-u`, 15 s refreshed by control-port
 *   traffic only; with `-u`, released after an idle time refreshed by any use
 *   (default 300 s, the UDP masquerading timeout the HOWTO's users waited
 *   out); `idleTimeout` overrides either.
 * - RANGE to a fixed host (`-r PROTO LOW HIGH -h HOST`): a static forward.
 * - PORT (`-p PROTO VISIBLE HOST:HIDDEN`): a static forward of one port.
 * - DIRECT (`-d PROTO LOW HIGH`): outbound traffic to those destination ports
 *   keeps its source port on the public side (when it is free: masq never
 *   gives one public port to two workstations, as 2.0 masquerading did).
 *
 * An option masq does not read, or one that means nothing with the rule's
 * kind, is an error naming it.
 */
import { tryParseIpv4 } from '../wire/address.js';

type Protocol = 'tcp' | 'udp';

/** A port trigger, in the words of the `triggers:` section. */
export interface AutofwTrigger {
  protocol: Protocol;
  port: [number, number];
  open: { protocol: Protocol; ports: [number, number] };
  idleTimeout: number;
  onlyFromContacted: boolean;
  refresh: 'any-use' | 'control-port';
}

/** A static forward, in the words of the `forwards:` section. */
export interface AutofwForward {
  protocol: Protocol;
  port: [number, number];
  to: string;
  toPort?: number;
}

/** A destination port range whose flows keep their source port, in the words of `keepSourcePorts:`. */
export interface AutofwKeepPort {
  protocol: Protocol;
  port: [number, number];
}

export type AutofwRule = { kind: 'trigger'; rule: AutofwTrigger } | { kind: 'forward'; rule: AutofwForward } | { kind: 'keepSourcePort'; rule: AutofwKeepPort };

export type AutofwResult = { ok: true; rules: AutofwRule[] } | { ok: false; error: string };

/** Historical timers (Linux ip_autofw.h) and masq's release time for `-u`. */
export const AUTOFW_EXPIRE_SECONDS = 15;
export const AUTOFW_USE_IDLE_SECONDS = 300;

const SUPPORTED = '-A -r -c -h -d -p -u -i -v';

class AutofwError extends Error {}

function fail(message: string): never {
  throw new AutofwError(message);
}

interface Parsed {
  type?: 'range' | 'direct' | 'port';
  typeOption?: string;
  protocol?: Protocol;
  low?: number;
  high?: number;
  host?: string;
  hidden?: number;
  control?: { protocol: Protocol; port: number };
  noTimer: boolean;
  insecure: boolean;
}

/** The words of a line after the command name, or an error when it is not an autofw command. */
function argumentsOf(line: string): string[] {
  const words: string[] = [];
  for (const w of line.trim().split(/\s+/)) {
    if (w.startsWith('#')) break;
    if (w) words.push(w);
  }
  const command = words[0]?.split('/').pop();
  if (command === 'ipautofw') return words.slice(1);
  if (command === 'ipmasqadm' && words[1] === 'autofw') return words.slice(2);
  return fail('expected a command line starting with ipautofw or ipmasqadm autofw');
}

function protocolOf(option: string, word: string | undefined): Protocol {
  if (word === 'tcp' || word === 'udp') return word;
  return fail(`${option}: expected tcp or udp, got ${word === undefined ? 'nothing' : JSON.stringify(word)}`);
}

function portOf(option: string, word: string | undefined): number {
  const n = word !== undefined && /^\d{1,5}$/.test(word) ? Number(word) : NaN;
  if (!(n >= 1 && n <= 65535)) fail(`${option}: expected a port 1-65535, got ${word === undefined ? 'nothing' : JSON.stringify(word)}`);
  return n;
}

function hostOf(option: string, word: string | undefined): string {
  if (word === undefined || tryParseIpv4(word) === null) fail(`${option}: expected an IPv4 address, got ${word === undefined ? 'nothing' : JSON.stringify(word)}`);
  return word;
}

function setType(p: Parsed, option: string, type: Parsed['type']): void {
  if (p.typeOption) fail(`${option} cannot be used with ${p.typeOption}: one rule type per line`);
  p.type = type;
  p.typeOption = option;
}

function parseOptions(args: string[]): Parsed {
  const command = args[0];
  if (command === undefined) fail('no command: expected -A (add a rule)');
  if (command === '-D' || command === '-F' || command === '-L') {
    fail(`${command} ${command === '-D' ? 'deletes a rule' : command === '-F' ? 'flushes the table' : 'lists the table'}: a configuration lists the rules to add, each with -A`);
  }
  if (command !== '-A') fail(`expected -A (add a rule) first, got ${JSON.stringify(command)}`);
  const p: Parsed = { noTimer: false, insecure: false };
  for (let i = 1; i < args.length; i++) {
    const o = args[i];
    switch (o) {
      case '-r':
      case '-d': {
        setType(p, o, o === '-r' ? 'range' : 'direct');
        p.protocol = protocolOf(o, args[i + 1]);
        p.low = portOf(o, args[i + 2]);
        p.high = portOf(o, args[i + 3]);
        if (p.high < p.low) fail(`${o}: the range ${p.low} ${p.high} ends before it starts`);
        i += 3;
        break;
      }
      case '-p': {
        setType(p, o, 'port');
        p.protocol = protocolOf(o, args[i + 1]);
        p.low = p.high = portOf(o, args[i + 2]);
        const m = /^([^:]+):(\d{1,5})$/.exec(args[i + 3] ?? '');
        if (!m) fail(`-p: expected HOST:PORT after the visible port, got ${JSON.stringify(args[i + 3] ?? '')}`);
        p.host = hostOf('-p', m[1]);
        p.hidden = portOf('-p', m[2]);
        i += 3;
        break;
      }
      case '-h':
        if (p.host !== undefined) fail('-h given twice (or with -p, which names its host itself)');
        p.host = hostOf(o, args[i + 1]);
        i += 1;
        break;
      case '-c':
        p.control = { protocol: protocolOf(o, args[i + 1]), port: portOf(o, args[i + 2]) };
        i += 2;
        break;
      case '-u':
        p.noTimer = true;
        break;
      case '-i':
        p.insecure = true;
        break;
      case '-v':
        // The tool's verbose output: nothing to configure.
        break;
      default:
        fail(o.startsWith('-') ? `option ${o} is not supported (masq reads ${SUPPORTED})` : `unexpected ${JSON.stringify(o)} (not an option)`);
    }
  }
  return p;
}

/** Options that mean nothing for a rule kind are refused rather than silently dropped. */
function refuse(p: Parsed, kind: string, options: Array<['-c' | '-h' | '-u' | '-i', boolean]>): void {
  for (const [option, given] of options) if (given) fail(`${option} has no meaning with ${kind}`);
}

function rulesOf(p: Parsed, idleTimeout: number | undefined): AutofwRule[] {
  if (!p.type || !p.protocol || p.low === undefined || p.high === undefined) return fail('no rule type: give -r (range), -d (direct) or -p (port)');
  const range: [number, number] = [p.low, p.high];
  if (idleTimeout !== undefined && !(p.type === 'range' && p.control)) fail('idleTimeout applies only to a range with a control port (-r ... -c ...)');
  switch (p.type) {
    case 'direct':
      refuse(p, '-d', [['-c', p.control !== undefined], ['-h', p.host !== undefined], ['-u', p.noTimer], ['-i', p.insecure]]);
      return [{ kind: 'keepSourcePort', rule: { protocol: p.protocol, port: range } }];
    case 'port':
      refuse(p, '-p', [['-c', p.control !== undefined], ['-u', p.noTimer], ['-i', p.insecure]]);
      return [{ kind: 'forward', rule: { protocol: p.protocol, port: range, to: p.host!, toPort: p.hidden } }];
    case 'range':
      if (p.control && p.host !== undefined) fail('-h with -c is not supported: a range goes to the workstation that last used the control port (-c) or to a fixed host (-h), one rule each');
      if (p.host !== undefined) {
        refuse(p, '-r ... -h (a fixed host has no timer and admits anyone)', [['-u', p.noTimer], ['-i', p.insecure]]);
        return [{ kind: 'forward', rule: { protocol: p.protocol, port: range, to: p.host } }];
      }
      if (!p.control) return fail('-r needs -c PROTO PORT (the control port) or -h HOST (a fixed host)');
      return [
        {
          kind: 'trigger',
          rule: {
            protocol: p.control.protocol,
            port: [p.control.port, p.control.port],
            open: { protocol: p.protocol, ports: range },
            idleTimeout: idleTimeout ?? (p.noTimer ? AUTOFW_USE_IDLE_SECONDS : AUTOFW_EXPIRE_SECONDS),
            onlyFromContacted: !p.insecure,
            refresh: p.noTimer ? 'any-use' : 'control-port',
          },
        },
      ];
  }
}

/** Reads one command line; `idleTimeout` (seconds) overrides the release time of a control-port rule. */
export function parseAutofwLine(line: string, idleTimeout?: number): AutofwResult {
  try {
    return { ok: true, rules: rulesOf(parseOptions(argumentsOf(line)), idleTimeout) };
  } catch (err) {
    if (err instanceof AutofwError) return { ok: false, error: err.message };
    throw err;
  }
}

const range = (r: [number, number]) => (r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`);

/** A derived rule as the configuration line that would say the same, and what it does. */
export function describeAutofwRule(r: AutofwRule): string {
  switch (r.kind) {
    case 'trigger': {
      const t = r.rule;
      return (
        `triggers: { protocol: ${t.protocol}, port: ${range(t.port)}, open: { protocol: ${t.open.protocol}, ports: ${range(t.open.ports)} }, ` +
        `idleTimeout: ${t.idleTimeout}, onlyFromContacted: ${t.onlyFromContacted}, refresh: ${t.refresh} }` +
        `  # ${t.open.protocol} ${range(t.open.ports)} to the workstation that last sent to ${t.protocol} ${range(t.port)}` +
        `${t.onlyFromContacted ? ', only from the remote it sent to' : ''}, released ${t.idleTimeout} s after its last ${t.refresh === 'any-use' ? 'use' : 'control-port packet'}`
      );
    }
    case 'forward': {
      const f = r.rule;
      return `forwards: { protocol: ${f.protocol}, port: ${range(f.port)}, to: ${f.to}${f.toPort !== undefined ? `, toPort: ${f.toPort}` : ''} }  # always to ${f.to}`;
    }
    case 'keepSourcePort':
      return `keepSourcePorts: { protocol: ${r.rule.protocol}, port: ${range(r.rule.port)} }  # traffic to these ports leaves from its own source port when that public port is free`;
  }
}

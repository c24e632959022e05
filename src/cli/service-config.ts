/**
 * Configuration files for the servers (`masq stun serve`, `rendezvous serve`,
 * `relay serve`): `--config FILE`, a YAML mapping whose keys are the
 * command's own long options (`listen: 0.0.0.0:3478`, `rate-limit: 100`,
 * `tcp: false` for --no-tcp; camelCase is accepted too). Every value goes
 * through the option's own parser, so a file is checked exactly as the
 * command line is, and reported as the gateway's is: all problems at once,
 * each with file, line, column and key, an unknown key with a "did you mean",
 * a missing file as missing. Options given on the command line win over the file.
 */
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { z } from 'zod';
import { GatewayConfigError, parseYamlSections, readConfigText, sortIssues, type ConfigIssue } from '../control/config/load.js';

const NOT_IN_FILES = new Set(['config', 'help', 'version']);

/** The command's options by every name a file may use: long flag (kebab-case) and attribute (camelCase). */
function optionsByKey(cmd: Command): Map<string, Option> {
  const out = new Map<string, Option>();
  for (const o of cmd.options) {
    const flag = o.long?.replace(/^--(no-)?/, '');
    if (!flag || NOT_IN_FILES.has(flag)) continue;
    // --tcp and --no-tcp are one key; the negated one says what false means.
    if (!out.has(flag) || !o.negate) out.set(flag, o);
    const attr = o.attributeName();
    if (!out.has(attr) || !o.negate) out.set(attr, o);
  }
  return out;
}

/** Reads and checks a server's configuration file; returns option values by attribute name. Throws GatewayConfigError. */
export function loadServiceConfig(file: string, cmd: Command): Record<string, unknown> {
  const known = optionsByKey(cmd);
  // Every key a file may use, each taking any value: the YAML checks and unknown keys ("did you mean") are the gateway's; values go through the options' parsers below.
  const keys = z.object(Object.fromEntries([...known.keys()].map((k) => [k, z.unknown()])));
  const y = parseYamlSections(readConfigText(file), file, keys, 'the file is empty: expected options as "key: value" lines, such as listen: 0.0.0.0:3478');
  const issues: ConfigIssue[] = [...y.issues];
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(y.top)) {
    const option = known.get(key);
    if (!option) continue;
    const problem = (message: string) => issues.push(y.at([key], message));
    const attr = option.attributeName();
    if (option.isBoolean() || option.negate) {
      if (typeof value !== 'boolean') problem('expected true or false');
      else values[attr] = value;
      continue;
    }
    const texts = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && !isRepeatable(option)) {
      problem('expected one value, not a list');
      continue;
    }
    let parsed: unknown = option.defaultValue;
    for (const v of texts) {
      if (typeof v !== 'string' && typeof v !== 'number') {
        problem(`expected a ${typeof option.defaultValue === 'number' ? 'number' : 'text'} value`);
        parsed = undefined;
        break;
      }
      try {
        parsed = option.parseArg ? option.parseArg(String(v), isRepeatable(option) ? parsed : undefined) : String(v);
      } catch (err) {
        problem(err instanceof InvalidArgumentError ? err.message : String((err as Error).message));
        parsed = undefined;
        break;
      }
    }
    if (parsed !== undefined) values[attr] = parsed;
  }
  if (issues.length > 0) throw new GatewayConfigError(sortIssues(issues));
  return values;
}

/** Options that collect several values (--session NAME=SECRET, repeated). */
function isRepeatable(o: Option): boolean {
  return o.variadic || Array.isArray(o.defaultValue) || /repeatable/.test(o.description);
}

/** Puts the file's values in `opts` where the command line left the default. */
export function mergeServiceConfig(cmd: Command, opts: Record<string, unknown>, fromFile: Record<string, unknown>): void {
  for (const [attr, value] of Object.entries(fromFile)) {
    const source = cmd.getOptionValueSource(attr);
    if (source === undefined || source === 'default') opts[attr] = value;
  }
}

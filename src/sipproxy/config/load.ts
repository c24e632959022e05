/**
 * Reads a `masq sip-proxy` configuration file the way the gateway's is read
 * (src/control/config/load.ts): YAML, then each section against the schema,
 * then the checks across fields; every problem with its file, line, column
 * and field, all at once.
 */
import { parseYamlSections, readConfigText, sortIssues, GatewayConfigError, type ConfigIssue } from '../../control/config/load.js';
import { laterDuplicates } from '../../control/config/duplicates.js';
import { sipProxyConfigSchema, type SipProxyConfig } from './schema.js';

export interface LoadedSipProxyConfig {
  source: string;
  config: SipProxyConfig;
}

export function loadSipProxyConfigFile(file: string): LoadedSipProxyConfig {
  return parseSipProxyConfig(readConfigText(file), file);
}

export function parseSipProxyConfig(text: string, source = '<config>'): LoadedSipProxyConfig {
  const { at, parts, issues } = parseYamlSections(text, source, sipProxyConfigSchema, 'the file is empty: expected at least listen and media');
  const c = parts as Partial<SipProxyConfig>;
  const problems: ConfigIssue[] = [...issues];
  if (c.listen) {
    for (const d of laterDuplicates(c.listen, (l) => `${l.transport} ${l.address}:${l.port ?? defaultPort(l.transport)}`)) {
      problems.push(at(['listen', d.index], `the same listener as listen.${d.firstIndex}`));
    }
  }
  if (c.mode === 'path' && Object.hasOwn(parts, 'registrar') && c.registrar === undefined) problems.push(at(['mode'], 'path mode needs registrar: the SIP URI of the registrar to forward REGISTERs to'));
  if (c.registrations && c.registrations.minExpires > c.registrations.maxExpires) problems.push(at(['registrations', 'minExpires'], `above maxExpires (${c.registrations.maxExpires})`));
  if (c.media && c.listen) {
    const sipPorts = new Set(c.listen.filter((l) => l.transport === 'udp').map((l) => l.port ?? 5060));
    for (const p of sipPorts) if (p >= c.media.ports.min && p <= c.media.ports.max) problems.push(at(['media', 'ports'], `the range ${c.media.ports.min}-${c.media.ports.max} holds the SIP port ${p}`));
  }
  if (problems.length > 0) throw new GatewayConfigError(sortIssues(problems));
  return { source, config: c as SipProxyConfig };
}

export function defaultPort(transport: string): number {
  return transport === 'tls' ? 5061 : 5060;
}

/**
 * Every subcommand area registers itself here. One line per area; the area's
 * module owns its options and help text.
 */
import type { Command } from 'commander';
import { registerConntrackCommands } from './conntrack.js';
import { registerDemoCommands } from './demo.js';
import { registerGatewayCommands } from './gateway.js';
import { registerLabCommands } from './lab.js';
import { registerPcapCommands } from './pcap.js';
import { registerStunCommands } from './stun.js';
import { registerRendezvousCommands } from './rendezvous.js';
import { registerRelayCommands } from './relay.js';
import { registerPunchCommands } from './punch.js';
import { registerLabPunchCommands } from './lab-punch.js';
import { registerSipProxyCommands } from './sip-proxy.js';
import { registerLabCuSeeMeCommands } from './lab-cuseeme.js';

export function registerAll(program: Command): void {
  registerConntrackCommands(program);
  registerDemoCommands(program);
  registerGatewayCommands(program);
  registerLabCommands(program);
  registerPcapCommands(program);
  registerStunCommands(program);
  registerRendezvousCommands(program);
  registerRelayCommands(program);
  registerPunchCommands(program);
  registerLabPunchCommands(program);
  registerSipProxyCommands(program);
  registerLabCuSeeMeCommands(program);
}

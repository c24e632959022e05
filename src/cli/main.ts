#!/usr/bin/env node
/** The `masq` command: one program, a subcommand per area (see commands.ts). */
import { Command, CommanderError } from 'commander';
import { registerAll } from './commands.js';
import { CliError, describeSystemError, EXIT_FAILURE, EXIT_USAGE } from './errors.js';

const program = new Command('masq')
  .description('NAT gateway with application-level gateways, and a NAT traversal toolkit')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerAll(program);

/** commander's own ends that are not mistakes. */
const NOT_MISTAKES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version', 'commander.executeSubCommandAsync']);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander printed its one line already; every usage mistake exits alike.
    process.exitCode = NOT_MISTAKES.has(err.code) ? err.exitCode : EXIT_USAGE;
  } else if (err instanceof CliError) {
    process.stderr.write(`masq: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    const system = describeSystemError(err);
    if (system) {
      process.stderr.write(`masq: ${system}\n`);
    } else if (process.env.MASQ_DEBUG) {
      process.stderr.write(`masq: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    } else {
      process.stderr.write(`masq: ${err instanceof Error ? err.message : String(err)} (MASQ_DEBUG=1 shows where)\n`);
    }
    process.exitCode = EXIT_FAILURE;
  }
}

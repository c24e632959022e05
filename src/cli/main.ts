#!/usr/bin/env node
/** The `masq` command: one program, a subcommand per area (see commands.ts). */
import { Command, CommanderError } from 'commander';
import { registerAll } from './commands.js';
import { CliError } from './errors.js';

const program = new Command('masq')
  .description('NAT gateway with application-level gateways, and a NAT traversal toolkit')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerAll(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof CliError) {
    process.stderr.write(`masq: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`masq: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}

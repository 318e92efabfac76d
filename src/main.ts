#!/usr/bin/env node
/**
 * Entry point of the `sigwatch` binary: runs the CLI and turns its result into
 * the process exit code. Nothing else lives here so that every command stays
 * testable through `runCli` without a child process.
 */
import { describeError } from './base/errors.js';
import { ExitCode, runCli } from './cli/program.js';

const output = {
  writeOut: (text: string): void => {
    process.stdout.write(text);
  },
  writeErr: (text: string): void => {
    process.stderr.write(text);
  },
};

try {
  process.exitCode = await runCli(process.argv.slice(2), output);
} catch (error: unknown) {
  process.stderr.write(`sigwatch: internal error: ${describeError(error)}\n`);
  process.exitCode = ExitCode.Internal;
}

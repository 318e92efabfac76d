#!/usr/bin/env node
/**
 * Entry point of the `sigwatch` binary: runs the CLI and turns its result into
 * the process exit code. Nothing else lives here so that every command stays
 * testable through `runCli` without a child process.
 *
 * Start-up is most of a short command's time (`sigwatch verify IMAGE` in CI),
 * and most of start-up is compiling JavaScript. Node's compile cache keeps the
 * compiled code of every module loaded on disk (`$NODE_COMPILE_CACHE`, by
 * default `node-compile-cache` in the OS temporary directory; the container
 * image ships none, see the Dockerfile), checked against each file's content,
 * so a later run skips compiling. It must be on before the CLI's modules load,
 * hence the dynamic imports. A cache that cannot be written changes nothing
 * but speed; `NODE_DISABLE_COMPILE_CACHE=1` turns it off.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
const [{ describeError }, { ExitCode, runCli }] = await Promise.all([
  import('./base/errors.js'),
  import('./cli/program.js'),
]);

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

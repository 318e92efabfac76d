import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError, describeError } from '../base/errors.js';
import { auditCommand } from './audit.js';
import { crdsCommand } from './crds.js';
import { runCommand } from './run.js';
import type { CommandFactory, Output } from './context.js';
import { oneLine } from './flags.js';
import { verifyCommand } from './verify.js';
import { sbomCommand } from './sbom.js';
import { queryCommand } from './query.js';
import { verifyBundleCommand } from './verify-bundle.js';

/** Exit codes shared by every command; `verify` and `audit` add 1 and 2 (see their help). */
export const ExitCode = {
  Ok: 0,
  /** Bad flags or arguments (BSD sysexits EX_USAGE): never confused with a verdict. */
  Usage: 64,
  /** An unexpected internal failure. */
  Internal: 70,
} as const;

interface PackageInfo {
  readonly version: string;
  readonly description: string;
}

/**
 * Reads name and version from package.json, which sits two levels above this
 * file both in src/cli (tsx) and in dist/cli (built), so one URL serves both.
 */
function readPackageInfo(): PackageInfo {
  const raw: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  if (typeof raw === 'object' && raw !== null && 'version' in raw && 'description' in raw) {
    const { version, description } = raw;
    if (typeof version === 'string' && typeof description === 'string') {
      return { version, description };
    }
  }
  throw new CliError('UsageError', 'package.json has no version or description');
}

const commands: readonly CommandFactory[] = [
  verifyCommand,
  verifyBundleCommand,
  sbomCommand,
  queryCommand,
  auditCommand,
  crdsCommand,
  runCommand,
];

/**
 * Builds the `sigwatch` command tree. Output goes through `output` so tests
 * read help text without touching the process streams; commander's own
 * `process.exit` is replaced by a thrown CliError (usage) or a clean return.
 */
export function buildProgram(output: Output, setExitCode: (code: number) => void = () => undefined): Command {
  const pkg = readPackageInfo();
  const program = new Command('sigwatch')
    .description(pkg.description)
    .version(pkg.version, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print usage and exit')
    // One error and a hint, not the whole usage: the error is what the user must read.
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => {
        output.writeOut(s);
      },
      writeErr: (s) => {
        output.writeErr(s);
      },
    })
    .exitOverride((err: CommanderError) => {
      // Help and version requests end with code 0 and are not errors.
      if (err.exitCode === 0) {
        throw new HelpShown();
      }
      throw new CliError('UsageError', err.message, { cause: err });
    });
  for (const factory of commands) {
    // addCommand does not copy the parent's output and exit handling, so copy it explicitly.
    program.addCommand(factory({ output, setExitCode }).copyInheritedSettings(program));
  }
  program.addHelpText(
    'after',
    `
Exit codes: 0 success, ${String(ExitCode.Usage)} usage error, ${String(ExitCode.Internal)} internal error.`,
  );
  return program;
}

/** Thrown through commander when help or the version was printed: a normal end. */
export class HelpShown extends Error {}

/** Runs the CLI with `argv` (without node and script) and returns the process exit code. */
export async function runCli(argv: readonly string[], output: Output): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = buildProgram(output, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error: unknown) {
    if (error instanceof HelpShown) {
      return ExitCode.Ok;
    }
    if (error instanceof CliError) {
      // commander has already printed its own parse errors; ours need saying.
      if (!(error.cause instanceof CommanderError)) {
        output.writeErr(`sigwatch: ${oneLine(describeError(error))}\n`);
      }
      return ExitCode.Usage;
    }
    throw error;
  }
}

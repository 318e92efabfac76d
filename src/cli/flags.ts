/**
 * Helpers for commander flag definitions and messages. Every command
 * definition imports this file, so it stays free of engine imports: `--help`
 * and commands that never touch the engine load nothing more.
 */
import type { Command } from 'commander';
import { CliError } from '../base/errors.js';
import type { GithubWorkflowClaims } from '../verify/fulcio.js';

/** One line, whatever the message holds (stderr lines are parsed by scripts). */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

/** A commander option parser for a repeatable flag: each use adds a value. */
export const repeatable = (value: string, previous: string[]): string[] => [...previous, value];

const byteUnits: Readonly<Record<string, number>> = { '': 1, Ki: 1 << 10, Mi: 1 << 20, Gi: 1 << 30 };

/**
 * A byte size flag: a whole number of bytes, or with a Kubernetes-style unit (`16Mi`, `512Ki`, `1Gi`),
 * between 64 KiB and 4 GiB.
 * @throws CliError `UsageError`
 */
export function parseByteSize(flag: string, value: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(value.trim());
  const bytes = m === null ? NaN : Number(m[1]) * (byteUnits[m[2] ?? ''] ?? NaN);
  if (!Number.isSafeInteger(bytes) || bytes < 64 << 10 || bytes > 4 * 2 ** 30)
    throw new CliError('UsageError', `${flag} must be a size between 64Ki and 4Gi, e.g. 16Mi`);
  return bytes;
}

/** cosign's `--certificate-github-workflow-*`, as commander hands them to an action. */
export interface GithubWorkflowFlags {
  readonly certificateGithubWorkflowTrigger?: string;
  readonly certificateGithubWorkflowSha?: string;
  readonly certificateGithubWorkflowName?: string;
  readonly certificateGithubWorkflowRepository?: string;
  readonly certificateGithubWorkflowRef?: string;
}

/**
 * Adds cosign's `--certificate-github-workflow-*` (cmd/cosign/cli/options/certificate.go): exact values
 * for the deprecated GitHub extensions of a keyless leaf, for `verify` and `verify-bundle` alike.
 */
export function withGithubWorkflowOptions(command: Command): Command {
  const exact = (claim: string, oid: string): string =>
    `keyless: exact GitHub Actions ${claim} claim of the certificate (extension …57264.1.${oid}), as cosign`;
  return command
    .option('--certificate-github-workflow-trigger <event>', exact('event_name', '2'))
    .option('--certificate-github-workflow-sha <sha>', exact('sha', '3'))
    .option('--certificate-github-workflow-name <name>', exact('workflow', '4'))
    .option('--certificate-github-workflow-repository <owner/repo>', exact('repository', '5'))
    .option('--certificate-github-workflow-ref <ref>', exact('ref', '6'));
}

/**
 * The claims the flags require, or undefined when none is given. An empty value requires nothing,
 * as in cosign (`if co.CertGithubWorkflowTrigger != ""`).
 */
export function githubWorkflowFromFlags(flags: GithubWorkflowFlags): GithubWorkflowClaims | undefined {
  const given = {
    trigger: flags.certificateGithubWorkflowTrigger,
    sha: flags.certificateGithubWorkflowSha,
    name: flags.certificateGithubWorkflowName,
    repository: flags.certificateGithubWorkflowRepository,
    ref: flags.certificateGithubWorkflowRef,
  };
  const claims = Object.fromEntries(
    Object.entries(given).filter((entry): entry is [string, string] => (entry[1] ?? '') !== ''),
  );
  return Object.keys(claims).length === 0 ? undefined : claims;
}

/**
 * Printed when the flags come with `--key`: cosign accepts them there and never reads them (its key
 * path checks no certificate), so Sigwatch does the same, but says so.
 */
export const githubWorkflowIgnoredWithKey =
  'sigwatch: --certificate-github-workflow-* only constrain keyless verification: ignored with --key, as cosign does\n';

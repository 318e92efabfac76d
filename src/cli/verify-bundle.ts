/**
 * `sigwatch verify-bundle`: the Sigstore conformance client protocol
 * (sigstore/sigstore-conformance, `verify-bundle` with `--bundle`, `--key` or
 * `--certificate-identity` + `--certificate-oidc-issuer`, optional
 * `--trusted-root`, and the artifact as a file path or `sha256:<hex>`).
 *
 * Exit 0: verified (one line on stdout). Exit 1: not verified, with exactly
 * one line on stderr, `sigwatch: verify-bundle: <Reason>: <message>`, where
 * Reason is a design §3 reason or `BundleInvalid` for a bundle that is not a
 * valid Sigstore bundle. Exit 64: bad flags, unreadable files, an invalid
 * key, trust root or digest (the inputs, not the evidence, are wrong).
 *
 * `--certificate-github-workflow-*` are `cosign verify-blob`'s: exact values
 * for the leaf's deprecated GitHub extensions (a mismatch is
 * `IdentityMismatch`); with `--key` they are ignored, as cosign ignores them,
 * and a warning line on stderr, before any result line, says so.
 *
 * The transparency log is required in both modes, as conformance clients and
 * `cosign verify-blob` require it. Without `--trusted-root` the embedded
 * public-good production root is used; no staging root is embedded, so
 * `--staging` needs `--trusted-root`.
 */
import { Command } from 'commander';
import type { CommandContext } from './context.js';
import { withGithubWorkflowOptions } from './flags.js';
import type { VerifyBundleFlags } from './verify-bundle-action.js';

/** Builds the `verify-bundle` command; exit codes and output in the module comment. */
export function verifyBundleCommand(context: CommandContext): Command {
  const command = new Command('verify-bundle')
    .description(
      'verify a Sigstore bundle for a file or sha256:<hex> digest (Sigstore conformance protocol; exit 1: not verified)',
    )
    .argument('<artifact>', 'the signed file, or its digest as sha256:<hex>')
    .requiredOption('--bundle <file>', 'the Sigstore bundle (JSON)')
    .option('--key <file>', 'PEM public key that must have signed the bundle')
    .option('--certificate-identity <id>', 'keyless: exact certificate identity (SAN)')
    .option('--certificate-oidc-issuer <url>', 'keyless: exact OIDC issuer');
  return withGithubWorkflowOptions(command)
    .option('--trusted-root <file>', 'Sigstore trusted_root.json (default: the embedded public-good root)')
    .option('--staging', 'use the Sigstore staging instance (requires --trusted-root: none is embedded)')
    .action(async (argument: string, flags: VerifyBundleFlags) => {
      // The Sigstore libraries load only now: `--help` and the other commands never need them.
      const { verifyBundleFile } = await import('./verify-bundle-action.js');
      verifyBundleFile(argument, flags, context);
    });
}

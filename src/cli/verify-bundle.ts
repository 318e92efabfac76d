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
 * The transparency log is required in both modes, as conformance clients and
 * `cosign verify-blob` require it. Without `--trusted-root` the embedded
 * public-good production root is used; no staging root is embedded, so
 * `--staging` needs `--trusted-root`.
 */
import { Command } from 'commander';
import { CliError, describeError } from '../base/errors.js';
import { parseDigest } from '../base/digest.js';
import type { Authority } from '../verify/authority.js';
import { verifyBundle, type Artifact, type BundleResult } from '../verify/bundle.js';
import { VerifyError } from '../verify/errors.js';
import { exactIdentity } from '../verify/identity.js';
import { parsePublicKey } from '../verify/keys.js';
import type { LoadedTrustRoot } from '../verify/trust.js';
import type { CommandContext } from './context.js';
import { loadInput, oneLine, readInputFile, trustedRootFrom } from './inputs.js';

/** Exit code of a bundle that does not verify (usage errors are ExitCode.Usage, 64). */
export const verifyBundleFailed = 1;

interface VerifyBundleFlags {
  readonly bundle: string;
  readonly key?: string;
  readonly certificateIdentity?: string;
  readonly certificateOidcIssuer?: string;
  readonly trustedRoot?: string;
  readonly staging?: boolean;
}

const usage = (message: string, cause?: unknown): CliError =>
  new CliError('UsageError', message, cause === undefined ? undefined : { cause });

function trustFrom(flags: VerifyBundleFlags): LoadedTrustRoot {
  if (flags.trustedRoot === undefined && flags.staging === true) {
    throw usage('--staging: no staging trusted root is embedded; pass the staging root with --trusted-root');
  }
  return trustedRootFrom(flags.trustedRoot);
}

/**
 * The one authority the flags describe: `--key`, or keyless with an exact
 * identity and issuer (the protocol has no regexp flags).
 * @throws CliError `UsageError` for missing or contradictory flags and unusable files.
 */
export function bundleAuthorityFromFlags(flags: VerifyBundleFlags): Authority {
  const keyless = flags.certificateIdentity !== undefined || flags.certificateOidcIssuer !== undefined;
  if (flags.key !== undefined && keyless) {
    throw usage('--key and --certificate-identity/--certificate-oidc-issuer are exclusive');
  }
  if (flags.key !== undefined) {
    const pem = readInputFile(flags.key, 'key').toString('utf8');
    const publicKey = loadInput('--key', () => parsePublicKey(pem));
    return { kind: 'key', name: 'key', publicKey, trust: trustFrom(flags), requireTransparencyLog: true };
  }
  if (flags.certificateIdentity === undefined || flags.certificateOidcIssuer === undefined) {
    throw usage('either --key, or both --certificate-identity and --certificate-oidc-issuer, are required');
  }
  return {
    kind: 'keyless',
    name: 'keyless',
    identity: exactIdentity(flags.certificateIdentity),
    issuer: exactIdentity(flags.certificateOidcIssuer),
    trust: trustFrom(flags),
    requireTransparencyLog: true,
  };
}

/** `sha256:<64 lower-case hex>` is a digest; anything else names the artifact file. */
export function artifactFromArgument(argument: string): Artifact {
  if (argument.startsWith('sha256:')) {
    const digest = parseDigest(argument);
    if (digest === undefined) throw usage(`${argument} is not sha256:<64 lower-case hex digits>`);
    return { kind: 'digest', digest };
  }
  return { kind: 'bytes', bytes: readInputFile(argument, 'artifact') };
}

/** Verifies, turning a malformed bundle into a result line rather than a crash. */
function verify(bundlePath: string, artifact: Artifact, authority: Authority): BundleResult | VerifyError {
  const text = readInputFile(bundlePath, 'bundle').toString('utf8');
  try {
    return verifyBundle(JSON.parse(text), artifact, authority, new Date());
  } catch (error: unknown) {
    if (error instanceof SyntaxError)
      return new VerifyError('BundleInvalid', 'bundle is not JSON', { cause: error });
    if (error instanceof VerifyError) return error;
    throw error;
  }
}

/** Builds the `verify-bundle` command; exit codes and output in the module comment. */
export function verifyBundleCommand(context: CommandContext): Command {
  return new Command('verify-bundle')
    .description(
      'verify a Sigstore bundle for a file or sha256:<hex> digest (Sigstore conformance protocol; exit 1: not verified)',
    )
    .argument('<artifact>', 'the signed file, or its digest as sha256:<hex>')
    .requiredOption('--bundle <file>', 'the Sigstore bundle (JSON)')
    .option('--key <file>', 'PEM public key that must have signed the bundle')
    .option('--certificate-identity <id>', 'keyless: exact certificate identity (SAN)')
    .option('--certificate-oidc-issuer <url>', 'keyless: exact OIDC issuer')
    .option('--trusted-root <file>', 'Sigstore trusted_root.json (default: the embedded public-good root)')
    .option('--staging', 'use the Sigstore staging instance (requires --trusted-root: none is embedded)')
    .action((argument: string, flags: VerifyBundleFlags) => {
      const authority = bundleAuthorityFromFlags(flags);
      const artifact = artifactFromArgument(argument);
      const result = verify(flags.bundle, artifact, authority);
      if (result instanceof VerifyError) {
        const cause = result.cause === undefined ? '' : ` (${describeError(result.cause)})`;
        context.output.writeErr(
          `sigwatch: verify-bundle: ${result.code}: ${oneLine(result.message + cause)}\n`,
        );
        context.setExitCode(verifyBundleFailed);
      } else if (!result.ok) {
        context.output.writeErr(`sigwatch: verify-bundle: ${result.reason}: ${oneLine(result.message)}\n`);
        context.setExitCode(verifyBundleFailed);
      } else {
        const signer = result.signer.identity ?? 'the key';
        context.output.writeOut(`Verified OK: signed by ${signer}\n`);
      }
    });
}

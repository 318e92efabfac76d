/**
 * What `sigwatch verify-bundle` does (flags, exit codes and output in
 * verify-bundle.ts): build the authority and artifact the flags name, verify
 * the bundle, print one line.
 */
import { CliError, describeError } from '../base/errors.js';
import { parseDigest } from '../base/digest.js';
import type { Authority } from '../verify/authority.js';
import { verifyBundle, type Artifact, type BundleResult } from '../verify/bundle.js';
import { VerifyError } from '../verify/errors.js';
import { exactIdentity } from '../verify/identity.js';
import { parsePublicKey } from '../verify/keys.js';
import type { LoadedTrustRoot } from '../verify/trust.js';
import type { CommandContext } from './context.js';
import {
  githubWorkflowFromFlags,
  githubWorkflowIgnoredWithKey,
  oneLine,
  type GithubWorkflowFlags,
} from './flags.js';
import { loadInput, readInputFile } from './inputs.js';
import { trustedRootFrom } from './trusted-root.js';

/** Exit code of a bundle that does not verify (usage errors are ExitCode.Usage, 64). */
export const verifyBundleFailed = 1;

export interface VerifyBundleFlags extends GithubWorkflowFlags {
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
 * identity and issuer (the protocol has no regexp flags) and any GitHub
 * workflow claims (ignored with `--key`, as in cosign).
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
  const githubWorkflow = githubWorkflowFromFlags(flags);
  return {
    kind: 'keyless',
    name: 'keyless',
    identity: exactIdentity(flags.certificateIdentity),
    issuer: exactIdentity(flags.certificateOidcIssuer),
    ...(githubWorkflow === undefined ? {} : { githubWorkflow }),
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

/** The `verify-bundle` command's action; exit codes and output in verify-bundle.ts. */
export function verifyBundleFile(argument: string, flags: VerifyBundleFlags, context: CommandContext): void {
  const authority = bundleAuthorityFromFlags(flags);
  const artifact = artifactFromArgument(argument);
  if (authority.kind === 'key' && githubWorkflowFromFlags(flags) !== undefined) {
    context.output.writeErr(githubWorkflowIgnoredWithKey);
  }
  const result = verify(flags.bundle, artifact, authority);
  if (result instanceof VerifyError) {
    const cause = result.cause === undefined ? '' : ` (${describeError(result.cause)})`;
    context.output.writeErr(`sigwatch: verify-bundle: ${result.code}: ${oneLine(result.message + cause)}\n`);
    context.setExitCode(verifyBundleFailed);
  } else if (!result.ok) {
    context.output.writeErr(`sigwatch: verify-bundle: ${result.reason}: ${oneLine(result.message)}\n`);
    context.setExitCode(verifyBundleFailed);
  } else {
    const signer = result.signer.identity ?? 'the key';
    context.output.writeOut(`Verified OK: signed by ${signer}\n`);
  }
}

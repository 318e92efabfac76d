/**
 * What `sigwatch verify IMAGE...` does (flags and help in verify.ts): build
 * one registry client, then check every image concurrently — at most
 * `--concurrency` at once, and no more per registry host than the client
 * sends requests to it at once — and print one verdict per image in the
 * order the images were given. Exit codes in verify-output.ts.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, describeError } from '../base/errors.js';
import type { Digest } from '../base/digest.js';
import type { UnknownReason } from '../base/reasons.js';
import { RegistryClient, type Repository } from '../registry/client.js';
import { parseDockerConfig, type CredentialEntry } from '../registry/credentials.js';
import { RegistryError, unknownReasonFor } from '../registry/errors.js';
import { collectEvidence } from '../registry/evidence.js';
import { formatReference, parseReference, type ImageReference } from '../registry/reference.js';
import type { Authority } from '../verify/authority.js';
import { exactIdentity, regexpIdentity } from '../verify/identity.js';
import { checkImageSignatures } from '../verify/image-signatures.js';
import { parsePublicKey } from '../verify/keys.js';
import type { CommandContext } from './context.js';
import { mapBounded } from './fleet.js';
import {
  githubWorkflowFromFlags,
  githubWorkflowIgnoredWithKey,
  parseByteSize,
  type GithubWorkflowFlags,
} from './flags.js';
import { loadInput, readInputText } from './inputs.js';
import { trustedRootFrom } from './trusted-root.js';
import { exitCodeFor, formatTable, type ImageVerdict, type Judge } from './verify-output.js';

export interface VerifyFlags extends GithubWorkflowFlags {
  readonly key?: string;
  readonly certificateIdentity?: string;
  readonly certificateIdentityRegexp?: string;
  readonly certificateOidcIssuer?: string;
  readonly certificateOidcIssuerRegexp?: string;
  readonly trustedRoot?: string;
  readonly insecureIgnoreTlog?: boolean;
  readonly insecureRegistry: string[];
  readonly registryCa: string[];
  /** cosign's spelling of --registry-ca. */
  readonly registryCacert: string[];
  readonly allowHttpRegistry?: boolean;
  readonly allowInsecureRegistry?: boolean;
  readonly dockerConfig?: string;
  readonly signatureRepository?: string;
  readonly output: 'json' | 'table';
  readonly concurrency: string;
  readonly maxEvidenceBytes: string;
  readonly policy?: string;
  readonly trustedRootRef: string[];
  readonly secretKey: string[];
}

const usage = (message: string): CliError => new CliError('UsageError', message);

/**
 * Builds the one authority the flags describe (key xor keyless). The GitHub
 * workflow flags go to a keyless authority only: with `--key` cosign never
 * reads them, and neither does Sigwatch (the caller warns).
 * @throws CliError `UsageError` for contradictory flags or unusable key, pattern or trust root files.
 */
export function authorityFromFlags(flags: VerifyFlags): Authority {
  const keyless = flags.certificateIdentity !== undefined || flags.certificateIdentityRegexp !== undefined;
  if (flags.key !== undefined && keyless)
    throw usage('--key and --certificate-identity(-regexp) are exclusive');
  if (flags.key !== undefined) {
    return {
      kind: 'key',
      name: 'key',
      publicKey: loadInput('--key', () => parsePublicKey(readInputText(flags.key ?? '', 'key'))),
      requireTransparencyLog: false,
    };
  }
  if (!keyless)
    throw usage('one of --key or --certificate-identity / --certificate-identity-regexp is required');
  if (flags.certificateIdentity !== undefined && flags.certificateIdentityRegexp !== undefined) {
    throw usage('--certificate-identity and --certificate-identity-regexp are exclusive');
  }
  if (flags.certificateOidcIssuer !== undefined && flags.certificateOidcIssuerRegexp !== undefined) {
    throw usage('--certificate-oidc-issuer and --certificate-oidc-issuer-regexp are exclusive');
  }
  if (flags.certificateOidcIssuer === undefined && flags.certificateOidcIssuerRegexp === undefined) {
    throw usage(
      'one of --certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for keyless verification',
    );
  }
  const trust = trustedRootFrom(flags.trustedRoot);
  const githubWorkflow = githubWorkflowFromFlags(flags);
  return {
    kind: 'keyless',
    name: 'keyless',
    identity:
      flags.certificateIdentity !== undefined
        ? exactIdentity(flags.certificateIdentity)
        : loadInput('--certificate-identity-regexp', () =>
            regexpIdentity(flags.certificateIdentityRegexp ?? ''),
          ),
    issuer:
      flags.certificateOidcIssuer !== undefined
        ? exactIdentity(flags.certificateOidcIssuer)
        : loadInput('--certificate-oidc-issuer-regexp', () =>
            regexpIdentity(flags.certificateOidcIssuerRegexp ?? ''),
          ),
    ...(githubWorkflow === undefined ? {} : { githubWorkflow }),
    trust,
    requireTransparencyLog: flags.insecureIgnoreTlog !== true,
  };
}

function dockerCredentials(path: string | undefined): CredentialEntry[] {
  const file = path ?? join(process.env['DOCKER_CONFIG'] ?? join(homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    if (path !== undefined) throw usage(`cannot read docker config ${path}`);
    return []; // no default config: anonymous
  }
  return parseDockerConfig(text);
}

interface VerifyRun {
  readonly client: RegistryClient;
  readonly judge: Judge;
  readonly extraRepositories: readonly Repository[];
  /** Only policies with attestation or SBOM rules need the `.att` tags read. */
  readonly attestations: boolean;
  readonly signal: AbortSignal;
}

async function verifyOne(run: VerifyRun, input: string): Promise<ImageVerdict> {
  const { client, signal } = run;
  let ref: ImageReference;
  try {
    ref = parseReference(input);
  } catch (error: unknown) {
    return unknown(
      input,
      undefined,
      ['DigestUnresolved'],
      error instanceof Error ? error.message : String(error),
    );
  }
  const repo = { registry: ref.registry, repository: ref.repository };
  let digest: Digest | undefined = ref.digest;
  if (digest === undefined) {
    try {
      const head = await client.headManifest(repo, ref.tag ?? 'latest', signal);
      if (head === undefined)
        return unknown(input, undefined, ['DigestUnresolved'], `tag ${ref.tag ?? 'latest'} not found`);
      digest = head.digest;
    } catch (error: unknown) {
      if (!(error instanceof RegistryError)) throw error;
      return unknown(input, undefined, [unknownReasonFor(error.code)], error.message);
    }
  }
  const evidence = await collectEvidence(client, {
    image: repo,
    digest,
    extraRepositories: run.extraRepositories,
    // .sbom attachments never change a verdict; .att only matters to attestation and SBOM rules.
    include: { attestations: run.attestations, attachedSboms: false },
    now: new Date(),
    signal,
  });
  return run.judge(evidence, formatReference(ref));
}

/** The signature check of one authority given by flags (no policy). */
function authorityJudge(authority: Authority): Judge {
  return (evidence, image) => {
    const digest = evidence.digest;
    const check = checkImageSignatures(evidence, [authority], evidence.fetchedAt);
    switch (check.verdict) {
      case 'Compliant':
        return {
          image,
          digest,
          verdict: 'Compliant',
          reasons: [],
          signers: check.accepted.map((a) => ({ authority: a.authority, format: a.format, ...a.signer })),
        };
      case 'NonCompliant':
        return {
          image,
          digest,
          verdict: 'NonCompliant',
          reasons: check.reasons,
          signers: [],
          message: check.message ?? check.rejected[0]?.message ?? 'no signature found',
        };
      case 'Unknown': {
        const detail = evidence.sources.find((s) => s.outcome === 'error')?.message;
        return {
          image,
          digest,
          verdict: 'Unknown',
          reasons: check.reasons,
          signers: [],
          ...(detail === undefined ? {} : { message: detail }),
        };
      }
    }
  };
}

function unknown(
  image: string,
  digest: string | undefined,
  reasons: UnknownReason[],
  message: string,
): ImageVerdict {
  return {
    image,
    ...(digest === undefined ? {} : { digest }),
    verdict: 'Unknown',
    reasons,
    signers: [],
    message,
  };
}

/** `registry/repository` from a flag or a policy's `source.repository`. */
function repositoryFlag(what: string, value: string): Repository {
  try {
    const ref = parseReference(value);
    return { registry: ref.registry, repository: ref.repository };
  } catch (error: unknown) {
    throw new CliError('UsageError', `${what}: ${describeError(error)}`, { cause: error });
  }
}

/** How images are judged: by the policy file, or by the one authority of the flags. */
async function verifyPlan(
  flags: VerifyFlags,
  context: CommandContext,
): Promise<Pick<VerifyRun, 'judge' | 'extraRepositories' | 'attestations'>> {
  if (flags.policy === undefined) {
    if (flags.trustedRootRef.length > 0 || flags.secretKey.length > 0) {
      throw usage('--trusted-root-ref and --secret-key only apply with --policy');
    }
    const authority = authorityFromFlags(flags);
    if (authority.kind === 'key' && githubWorkflowFromFlags(flags) !== undefined) {
      context.output.writeErr(githubWorkflowIgnoredWithKey);
    }
    return { judge: authorityJudge(authority), extraRepositories: [], attestations: false };
  }
  const authorityFlags = [
    flags.key,
    flags.certificateIdentity,
    flags.certificateIdentityRegexp,
    flags.certificateOidcIssuer,
    flags.certificateOidcIssuerRegexp,
    githubWorkflowFromFlags(flags),
  ];
  if (authorityFlags.some((f) => f !== undefined) || flags.insecureIgnoreTlog === true) {
    throw usage(
      '--policy replaces --key, --certificate-* and --insecure-ignore-tlog: authorities come from the policy',
    );
  }
  const { policyPlan } = await import('./verify-policy.js');
  const plan = policyPlan(
    {
      path: flags.policy,
      trustedRootRefs: flags.trustedRootRef,
      secretKeys: flags.secretKey,
      ...(flags.trustedRoot === undefined ? {} : { trustedRoot: flags.trustedRoot }),
    },
    context.output,
  );
  return {
    judge: plan.judge,
    extraRepositories: plan.sourceRepositories.map((r) => repositoryFlag('source.repository', r)),
    attestations: plan.attestations,
  };
}

/** The registry host an image is fetched from, for the per-registry bound ('' when unparseable: no request). */
function registryOf(input: string): string {
  try {
    return parseReference(input).registry;
  } catch {
    return '';
  }
}

/**
 * The `verify` command's action: checks `images`, prints their verdicts in
 * the given order and sets the exit code.
 * @throws CliError `UsageError` for bad flags or unreadable inputs (before any request).
 */
export async function verifyImages(
  images: readonly string[],
  flags: VerifyFlags,
  context: CommandContext,
): Promise<void> {
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw usage('--concurrency must be 1..64');
  }
  const plan = await verifyPlan(flags, context);
  const extraRepositories = [...plan.extraRepositories];
  if (flags.signatureRepository !== undefined) {
    extraRepositories.push(repositoryFlag('--signature-repository', flags.signatureRepository));
  }
  const credentials = dockerCredentials(flags.dockerConfig);
  const caCertificates = [...flags.registryCa, ...flags.registryCacert].map((f) =>
    readInputText(f, 'registry CA'),
  );
  if (flags.allowInsecureRegistry === true)
    context.output.writeErr(
      'sigwatch: --allow-insecure-registry is accepted but TLS is always verified; trust a private CA with --registry-ca\n',
    );
  const client = new RegistryClient({
    plainHttpRegistries:
      flags.allowHttpRegistry === true
        ? [...flags.insecureRegistry, ...images.map(registryOf).filter((r) => r !== '')]
        : flags.insecureRegistry,
    credentials,
    caCertificates,
    limits: { maxEvidenceBytes: parseByteSize('--max-evidence-bytes', flags.maxEvidenceBytes) },
  });
  const controller = new AbortController();
  try {
    const run: VerifyRun = { client, ...plan, extraRepositories, signal: controller.signal };
    // More images of one host in flight than the client sends it requests at once would only queue
    // inside the client, holding overall slots that another host's images could use.
    const bounds = { total: concurrency, perKey: client.limits.perRegistryConcurrency };
    const results = await mapBounded(images, registryOf, bounds, (image) => verifyOne(run, image));
    context.output.writeOut(
      flags.output === 'json' ? `${JSON.stringify(results, null, 2)}\n` : formatTable(results),
    );
    context.setExitCode(exitCodeFor(results));
  } finally {
    controller.abort();
    await client.close();
  }
}

/**
 * `sigwatch verify IMAGE...`: the operator's signature check, run once from a
 * laptop or CI against live registries. Exit 1 if any image definitely fails,
 * else 2 if any could not be decided (registry down, incomplete evidence),
 * else 0. With `--policy FILE` the images are judged by the ImagePolicy
 * documents in the file, with the operator's evaluator.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import pLimit from 'p-limit';
import { CliError, describeError } from '../base/errors.js';
import type { Digest } from '../base/digest.js';
import type { UnknownReason } from '../base/reasons.js';
import { RegistryClient, type Repository } from '../registry/client.js';
import { parseDockerConfig, type CredentialEntry } from '../registry/credentials.js';
import { RegistryError, unknownReasonFor } from '../registry/errors.js';
import { collectEvidence, type Evidence } from '../registry/evidence.js';
import { formatReference, parseReference, type ImageReference } from '../registry/reference.js';
import type { Authority } from '../verify/authority.js';
import { exactIdentity, regexpIdentity } from '../verify/identity.js';
import { checkImageSignatures } from '../verify/image-signatures.js';
import { parsePublicKey } from '../verify/keys.js';
import { PolicyEvaluator } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { CommandContext } from './context.js';
import { loadPolicyFile, trustMaterialFromFlags } from './policy-file.js';
import { loadInput, parseByteSize, readInputText, repeatable, trustedRootFrom } from './inputs.js';
import { exitCodeFor, formatTable, type ImageVerdict } from './verify-output.js';

interface VerifyFlags {
  readonly key?: string;
  readonly certificateIdentity?: string;
  readonly certificateIdentityRegexp?: string;
  readonly certificateOidcIssuer?: string;
  readonly certificateOidcIssuerRegexp?: string;
  readonly trustedRoot?: string;
  readonly insecureIgnoreTlog?: boolean;
  readonly insecureRegistry: string[];
  readonly registryCa: string[];
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
 * Builds the one authority the flags describe (key xor keyless).
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

/** Turns evidence about one image into the printed verdict: one authority, or the policies. */
type Judge = (evidence: Evidence, image: string) => ImageVerdict;

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

/** Every policy of the file that matches the image, as the operator evaluates them. */
function policyJudge(policies: readonly CompiledPolicy[]): Judge {
  const evaluator = new PolicyEvaluator();
  return (evidence, image) => {
    const result = evaluator.evaluateImage(evidence, policies, evidence.fetchedAt);
    const decisive = result.policies.filter((p) => p.verdict === result.verdict);
    const message =
      result.verdict === 'Unmatched'
        ? `no policy in the file matches ${evidence.repository}`
        : result.verdict === 'Exempt'
          ? decisive.map((p) => `${p.policy}: ${p.exemptBecause ?? 'exempt'}`).join('; ')
          : decisive
              .flatMap((p) => p.findings.filter((f) => p.reasons.includes(f.reason)).map((f) => f.message))
              .join('; ');
    return {
      image,
      digest: evidence.digest,
      verdict: result.verdict,
      reasons: result.reasons,
      signers: result.policies.flatMap((p) => p.signers),
      ...(message === '' ? {} : { message }),
      policies: result.policies.map((p) => ({
        policy: p.policy,
        verdict: p.verdict,
        reasons: p.reasons,
        findings: p.findings,
        ...(p.exemptBecause === undefined ? {} : { exemptBecause: p.exemptBecause }),
        ...(p.validUntil === undefined ? {} : { validUntil: p.validUntil.toISOString() }),
      })),
    };
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

/** commander collector for options that may be given several times. */

export function verifyCommand(context: CommandContext): Command {
  return new Command('verify')
    .description(
      'verify the signatures of images in their registries (exit 1: a definite failure, 2: undecided)',
    )
    .argument('<image...>', 'image references (tag or @sha256:digest)')
    .option('--key <file>', 'PEM public key that must have signed the image')
    .option('--certificate-identity <id>', 'keyless: exact certificate identity (SAN)')
    .option(
      '--certificate-identity-regexp <re2>',
      'keyless: identity pattern, RE2, unanchored like cosign (anchor it with ^…$)',
    )
    .option('--certificate-oidc-issuer <url>', 'keyless: exact OIDC issuer')
    .option(
      '--certificate-oidc-issuer-regexp <re2>',
      'keyless: OIDC issuer pattern, RE2, unanchored like cosign (anchor it with ^…$)',
    )
    .option('--trusted-root <file>', 'Sigstore trusted_root.json (default: the embedded public-good root)')
    .option('--insecure-ignore-tlog', 'keyless: accept signatures without a transparency-log entry')
    .option('--insecure-registry <host>', 'speak plain HTTP to this registry (repeatable)', repeatable, [])
    .option(
      '--registry-ca <file>',
      'PEM CA certificate for registries behind a private CA (repeatable)',
      repeatable,
      [],
    )
    .option(
      '--signature-repository <repo>',
      "also look for signatures in this repository (cosign's COSIGN_REPOSITORY), e.g. registry.example.com/signatures",
    )
    .option(
      '--docker-config <file>',
      'docker config.json with registry credentials (default: $DOCKER_CONFIG or ~/.docker/config.json)',
    )
    .option(
      '--policy <file>',
      'judge the images against the ImagePolicy documents in this YAML file instead of --key / --certificate-*',
    )
    .option(
      '--trusted-root-ref <name=file>',
      'with --policy: the trusted_root.json a keyless.trustedRootRef named NAME stands for (repeatable)',
      repeatable,
      [],
    )
    .option(
      '--secret-key <name/key=file>',
      'with --policy: the PEM public key a key.secretRef {name, key} stands for (repeatable)',
      repeatable,
      [],
    )
    .option('--concurrency <n>', 'images verified at once', '8')
    .option(
      '--max-evidence-bytes <size>',
      'bytes fetched per evidence source of a digest (each .sig, .att, .sbom tag and referrers); beyond it the newest that fit are judged',
      '16Mi',
    )
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (images: string[], flags: VerifyFlags) => {
      const concurrency = Number(flags.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw usage('--concurrency must be 1..64');
      }
      const plan = verifyPlan(flags, context);
      const extraRepositories = [...plan.extraRepositories];
      if (flags.signatureRepository !== undefined) {
        extraRepositories.push(repositoryFlag('--signature-repository', flags.signatureRepository));
      }
      const credentials = dockerCredentials(flags.dockerConfig);
      const caCertificates = flags.registryCa.map((f) => readInputText(f, 'registry CA'));
      const client = new RegistryClient({
        plainHttpRegistries: flags.insecureRegistry,
        credentials,
        caCertificates,
        limits: { maxEvidenceBytes: parseByteSize('--max-evidence-bytes', flags.maxEvidenceBytes) },
      });
      const controller = new AbortController();
      try {
        const limit = pLimit(concurrency);
        const run: VerifyRun = { client, ...plan, extraRepositories, signal: controller.signal };
        const results = await Promise.all(images.map((image) => limit(() => verifyOne(run, image))));
        context.output.writeOut(
          flags.output === 'json' ? `${JSON.stringify(results, null, 2)}\n` : formatTable(results),
        );
        context.setExitCode(exitCodeFor(results));
      } finally {
        controller.abort();
        await client.close();
      }
    });
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
function verifyPlan(
  flags: VerifyFlags,
  context: CommandContext,
): Pick<VerifyRun, 'judge' | 'extraRepositories' | 'attestations'> {
  if (flags.policy === undefined) {
    if (flags.trustedRootRef.length > 0 || flags.secretKey.length > 0) {
      throw usage('--trusted-root-ref and --secret-key only apply with --policy');
    }
    return { judge: authorityJudge(authorityFromFlags(flags)), extraRepositories: [], attestations: false };
  }
  const authorityFlags = [
    flags.key,
    flags.certificateIdentity,
    flags.certificateIdentityRegexp,
    flags.certificateOidcIssuer,
    flags.certificateOidcIssuerRegexp,
  ];
  if (authorityFlags.some((f) => f !== undefined) || flags.insecureIgnoreTlog === true) {
    throw usage(
      '--policy replaces --key, --certificate-* and --insecure-ignore-tlog: authorities come from the policy',
    );
  }
  const inputs = {
    path: flags.policy,
    trustedRootRefs: flags.trustedRootRef,
    secretKeys: flags.secretKey,
    ...(flags.trustedRoot === undefined ? {} : { trustedRoot: flags.trustedRoot }),
  };
  const policies = loadPolicyFile(inputs, trustMaterialFromFlags(inputs));
  for (const p of policies) {
    for (const w of p.warnings)
      context.output.writeErr(`sigwatch: warning: policy ${p.name}: ${w.path}: ${w.message}\n`);
  }
  const sources = new Set(policies.flatMap((p) => p.authorities.flatMap((a) => a.sourceRepository ?? [])));
  return {
    judge: policyJudge(policies),
    extraRepositories: [...sources].map((r) => repositoryFlag('source.repository', r)),
    attestations: policies.some((p) => p.needsAttestations),
  };
}

/**
 * The real `cosign` CLI (built by hack/build-tools.sh), driven offline: no
 * signing config from TUF, no transparency-log upload, plain HTTP to the
 * loopback registries. Both signature formats are supported:
 *
 *  - `bundle` (cosign v3's default): a Sigstore bundle v0.3 pushed as an OCI
 *    1.1 referrer, plus the referrers fallback tag `sha256-<hex>` (an index);
 *  - `legacy` (`--new-bundle-format=false`): the simple-signing payload under
 *    the tag `sha256-<hex>.sig` (attestations: `.att`).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, execOutcome, type ExecOutcome } from './exec.js';
import type { LeafCertificate } from './test-ca.js';

export type SignatureFormat = 'bundle' | 'legacy';

/** Private keys written by cosign are encrypted with this password (COSIGN_PASSWORD). */
const password = 'sigwatch-test';

export interface CosignKey {
  /** Encrypted cosign private key (PEM). */
  readonly key: string;
  /** PEM public key. */
  readonly pub: string;
  /** Present when the key belongs to a test-CA certificate. */
  readonly certificate?: LeafCertificate;
}

let workDir: string | undefined;

async function dir(): Promise<string> {
  workDir ??= await mkdtemp(join(tmpdir(), 'sigwatch-cosign-'));
  return workDir;
}

async function cosign(
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<string> {
  const d = await dir();
  const { stdout } = await exec('cosign', args, {
    // TUF_ROOT: anything cosign caches stays in a throw-away directory.
    env: { COSIGN_PASSWORD: password, TUF_ROOT: join(d, 'tuf'), COSIGN_YES: 'true', ...env },
    cwd: cwd ?? d,
    timeoutMs: 60_000,
  });
  return stdout;
}

/**
 * Runs cosign for its verdict: the exit code and output, a refusal being an
 * outcome rather than a failure (parity tests compare it with Sigwatch's).
 * Requests to any host but loopback go to a closed loopback port (Go's proxy
 * settings never apply to loopback), so a cosign that tried to reach the
 * network fails here instead of leaving the machine.
 */
export async function cosignOutcome(args: readonly string[]): Promise<ExecOutcome> {
  const d = await dir();
  const nowhere = 'http://127.0.0.1:9';
  return execOutcome('cosign', args, {
    env: { TUF_ROOT: join(d, 'tuf'), HTTPS_PROXY: nowhere, HTTP_PROXY: nowhere, NO_PROXY: '' },
    cwd: d,
    timeoutMs: 60_000,
  });
}

let counter = 0;
const uniquePrefix = async (name: string): Promise<string> =>
  join(await dir(), `${name}-${String(++counter)}`);

/** `cosign generate-key-pair`: an ECDSA P-256 key pair. */
export async function generateKeyPair(): Promise<CosignKey> {
  const prefix = await uniquePrefix('cosign');
  await cosign(['generate-key-pair', '--output-key-prefix', prefix]);
  return { key: `${prefix}.key`, pub: `${prefix}.pub` };
}

/** `cosign import-key-pair` for a test-CA leaf: cosign's `--key` wants its own encrypted PEM type. */
export async function importCertificateKey(leaf: LeafCertificate): Promise<CosignKey> {
  const prefix = await uniquePrefix('leaf');
  await cosign(['import-key-pair', '--key', leaf.key, '--output-key-prefix', prefix]);
  return { key: `${prefix}.key`, pub: `${prefix}.pub`, certificate: leaf };
}

const offline = ['--use-signing-config=false', '--tlog-upload=false', '--allow-http-registry', '--yes'];

function signerArgs(key: CosignKey, format: SignatureFormat): string[] {
  const args = ['--key', key.key, ...offline, `--new-bundle-format=${String(format === 'bundle')}`];
  if (key.certificate) {
    args.push('--certificate', key.certificate.cert, '--certificate-chain', key.certificate.chain);
  }
  return args;
}

export interface SignOptions {
  /** Store signatures in this repository instead of the image's (cosign's COSIGN_REPOSITORY). */
  readonly repository?: string;
}

const placement = (options: SignOptions): Record<string, string> =>
  options.repository === undefined ? {} : { COSIGN_REPOSITORY: options.repository };

/** Signs `ref` (always `repo@sha256:…`). */
export async function sign(
  ref: string,
  key: CosignKey,
  format: SignatureFormat,
  options: SignOptions = {},
): Promise<void> {
  await cosign(['sign', ...signerArgs(key, format), ref], placement(options));
}

/**
 * Attests `ref` with a predicate file; `type` is cosign's `--type`
 * (custom, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson,
 * cyclonedx, link, vuln, openvex, or a predicate type URI).
 */
export async function attest(
  ref: string,
  key: CosignKey,
  format: SignatureFormat,
  type: string,
  predicateFile: string,
  options: SignOptions = {},
): Promise<void> {
  await cosign(
    ['attest', ...signerArgs(key, format), '--type', type, '--predicate', predicateFile, ref],
    placement(options),
  );
}

/** `cosign verify` with a public key and no transparency log: the baseline the benchmarks compare against. */
export async function verifyWithKey(refs: readonly string[], key: CosignKey): Promise<string> {
  return cosign([
    'verify',
    '--key',
    key.pub,
    '--insecure-ignore-tlog',
    '--allow-http-registry',
    '--output',
    'json',
    ...refs,
  ]);
}

/**
 * `cosign attach sbom`: an unsigned SBOM in the `<digest>.sbom` tag (deprecated
 * by cosign, still pushed by older pipelines; the inventory reads it, marked unsigned).
 */
export async function attachSbom(ref: string, sbomFile: string, type: 'spdx' | 'cyclonedx'): Promise<void> {
  await cosign([
    'attach',
    'sbom',
    '--allow-http-registry',
    '--input-format',
    'json',
    '--sbom',
    sbomFile,
    '--type',
    type,
    ref,
  ]);
}

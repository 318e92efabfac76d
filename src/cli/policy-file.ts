/**
 * `--policy FILE`: the same ImagePolicy YAML an admin would `kubectl apply`,
 * one or several documents separated by `---`, compiled with the operator's
 * code. Anything the API server would refuse is refused here, with every
 * problem and its field path: unknown fields, a wrong apiVersion or kind, a
 * spec that does not validate, a reference to a key or root not given.
 */
import { parseAllDocuments } from 'yaml';
import { CliError } from '../base/errors.js';
import { compilePolicy, type ReadyPolicy } from '../policy/compile.js';
import { secretKeyId, type TrustMaterial } from '../policy/trust-material.js';
import type { LoadedTrustRoot } from '../verify/trust.js';
import { loadInput, readInputText } from './inputs.js';
import { trustedRootFrom } from './trusted-root.js';

const apiVersion = 'sigwatch.dev/v1alpha1';
const topLevelFields = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
/** Policy files are small; a YAML alias bomb must not expand into gigabytes. */
const maxAliasCount = 100;

export interface PolicyFileInputs {
  readonly path: string;
  /** `--trusted-root FILE`: replaces the embedded public-good root. */
  readonly trustedRoot?: string;
  /** `--trusted-root-ref NAME=FILE`: what `keyless.trustedRootRef.name` NAME refers to. */
  readonly trustedRootRefs: readonly string[];
  /** `--secret-key NAME/KEY=FILE`: what `key.secretRef {name: NAME, key: KEY}` refers to. */
  readonly secretKeys: readonly string[];
}

const usage = (message: string): CliError => new CliError('UsageError', message);

function splitAssignment(flag: string, value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1)
    throw usage(`${flag} wants NAME=FILE, got ${JSON.stringify(value)}`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** Trust material for the CLI: files named by flags, generation 1, never stale. */
export function trustMaterialFromFlags(inputs: PolicyFileInputs): TrustMaterial {
  const trustedRoots = new Map<string, LoadedTrustRoot>();
  for (const value of inputs.trustedRootRefs) {
    const [name, file] = splitAssignment('--trusted-root-ref', value);
    trustedRoots.set(name, trustedRootFrom(file));
  }
  const secretKeys = new Map<string, string>();
  for (const value of inputs.secretKeys) {
    const [ref, file] = splitAssignment('--secret-key', value);
    const slash = ref.indexOf('/');
    if (slash <= 0 || slash === ref.length - 1)
      throw usage(`--secret-key wants NAME/KEY=FILE, got ${JSON.stringify(value)}`);
    secretKeys.set(
      secretKeyId({ name: ref.slice(0, slash), key: ref.slice(slash + 1) }),
      readInputText(file, 'key'),
    );
  }
  return {
    generation: 1,
    publicGood: { root: trustedRootFrom(inputs.trustedRoot), stale: false },
    trustedRoots,
    secretKeys,
  };
}

function describeDocument(index: number, total: number): string {
  return total > 1 ? `document ${String(index + 1)}: ` : '';
}

function policyName(metadata: unknown, index: number): string {
  const name = (metadata as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : `policy-${String(index + 1)}`;
}

/**
 * Reads and compiles every ImagePolicy in the file.
 * @throws CliError `UsageError` listing every problem of every document.
 */
export function loadPolicyFile(inputs: PolicyFileInputs, trust: TrustMaterial): ReadyPolicy[] {
  const text = readInputText(inputs.path, 'policy file');
  const documents = loadInput('--policy', () => parseAllDocuments(text, { uniqueKeys: true }));
  const list = Array.isArray(documents) ? documents : [documents];
  const problems: string[] = [];
  const policies: ReadyPolicy[] = [];
  const nonEmpty = list.filter((d) => d.contents !== null);
  nonEmpty.forEach((doc, i) => {
    const where = describeDocument(i, nonEmpty.length);
    if (doc.errors.length > 0) {
      problems.push(...doc.errors.map((e) => `${where}YAML: ${e.message}`));
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (error: unknown) {
      problems.push(`${where}YAML: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${where}not an ImagePolicy object`);
      return;
    }
    const o = value as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(o))
      if (!topLevelFields.has(key)) problems.push(`${where}${key}: unknown field`);
    if (o['apiVersion'] !== apiVersion) problems.push(`${where}apiVersion: must be ${apiVersion}`);
    if (o['kind'] !== 'ImagePolicy') problems.push(`${where}kind: must be ImagePolicy`);
    const compiled = compilePolicy(
      { name: policyName(o['metadata'], i), generation: 1, spec: o['spec'] },
      trust,
    );
    if (!compiled.ready) {
      problems.push(...compiled.problems.map((p) => `${where}${p.path}: ${p.message} (${p.code})`));
      return;
    }
    policies.push(compiled);
  });
  if (nonEmpty.length === 0) problems.push('no ImagePolicy document');
  if (problems.length > 0) {
    throw usage(`invalid policy file ${inputs.path}: ${problems.join('; ')}`);
  }
  return policies;
}

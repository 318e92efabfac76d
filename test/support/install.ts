/**
 * manifests/install.yaml on the shared bare API server of a test run. Its
 * admission webhook configurations are never left there: no operator serves
 * them, so their failurePolicy Fail would refuse every later pod and workload
 * the run creates; and the bare API server (no endpoint routing) would dial
 * the Service's ClusterIP, an address that is not on loopback. Tests that
 * need them create them and delete them in the same file
 * (install-webhook-policy.test.ts); the install test checks them with a
 * server-side dry run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { exec } from './exec.js';

export const installYaml = fileURLToPath(new URL('../../manifests/install.yaml', import.meta.url));

export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

const webhookKinds: ReadonlySet<string> = new Set([
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

export const isWebhookConfiguration = (o: ManifestObject): boolean => webhookKinds.has(o.kind);

/** Every object of install.yaml, in its order. */
export async function installObjects(): Promise<ManifestObject[]> {
  return parseAllDocuments(await readFile(installYaml, 'utf8'))
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null);
}

/** `kubectl apply` of `objects` (the client the install's users run), as one file. */
export async function kubectlApply(objects: readonly ManifestObject[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-apply-'));
  try {
    const file = join(dir, 'objects.yaml');
    await writeFile(file, objects.map((o) => stringify(o)).join('---\n'));
    return (await exec('kubectl', ['apply', '-f', file], { timeoutMs: 60_000 })).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Applies install.yaml without its webhook configurations, and fails if it
 * has none (a filter that matched nothing would hide a renamed kind).
 */
export async function applyInstallWithoutWebhooks(): Promise<void> {
  const objects = await installObjects();
  const kept = objects.filter((o) => !isWebhookConfiguration(o));
  if (objects.length - kept.length !== 2)
    throw new Error(
      `install.yaml holds ${String(objects.length - kept.length)} webhook configurations, not 2`,
    );
  await kubectlApply(kept);
}

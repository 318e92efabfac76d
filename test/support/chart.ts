/**
 * The Helm chart (charts/sigwatch) rendered with the helm that
 * hack/build-tools.sh builds. Renderings are passed through `kubectl
 * kustomize` before they are compared: manifests/install.yaml is kustomize's
 * output, and the same Go YAML parser and serializer on both sides means a
 * difference is one of objects, not of how a folded CEL string was written.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { exec } from './exec.js';
import type { ManifestObject } from './install.js';

export const chartDir = fileURLToPath(new URL('../../charts/sigwatch', import.meta.url));

/** `helm …` with the test environment's binary on PATH. */
export async function helm(
  args: readonly string[],
  timeoutMs = 120_000,
  env: Record<string, string> = {},
): Promise<string> {
  return (await exec('helm', args, { timeoutMs, env })).stdout;
}

/** Every object of a multi-document YAML text, in order. */
export function parseObjects(text: string): ManifestObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null);
}

/** kind/namespace/name: what identifies an object in a cluster. */
export const objectKey = (o: ManifestObject): string =>
  `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/**
 * `helm template` of the chart with `values` in `namespace` (CRDs included),
 * normalized by kustomize. `helm template` fails (and so does this) when the
 * values break the chart's schema.
 */
export async function renderChart(
  values: Record<string, unknown> = {},
  namespace = 'sigwatch-system',
): Promise<ManifestObject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-chart-'));
  try {
    await writeFile(join(dir, 'values.yaml'), stringify(values));
    const rendered = await helm([
      'template',
      'sigwatch',
      chartDir,
      '--namespace',
      namespace,
      '--include-crds',
      '--values',
      join(dir, 'values.yaml'),
    ]);
    await writeFile(join(dir, 'chart.yaml'), rendered);
    await writeFile(join(dir, 'kustomization.yaml'), 'resources: [chart.yaml]\n');
    return parseObjects((await exec('kubectl', ['kustomize', dir], { timeoutMs: 60_000 })).stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

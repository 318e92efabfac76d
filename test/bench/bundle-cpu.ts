/**
 * CPU cost of one Sigstore bundle verification (key authority, cosign v3
 * bundle from the real cosign), measured in process with process.cpuUsage
 * over a batch, after a warm-up.
 */
import { readFile } from 'node:fs/promises';
import type { Digest } from '../../src/base/digest.js';
import { RegistryClient } from '../../src/registry/client.js';
import { collectEvidence } from '../../src/registry/evidence.js';
import { verifyBundle } from '../../src/verify/bundle.js';
import { parsePublicKey } from '../../src/verify/keys.js';
import { sign, type CosignKey } from '../support/cosign.js';
import { pushRandomImage, randomRepo } from '../support/images.js';
import { median } from './stats.js';

export async function bundleCpuCost(
  registry: string,
  key: CosignKey,
): Promise<{ perOpUs: number; ops: number }> {
  const img = await pushRandomImage(registry, randomRepo('bench'));
  await sign(img.ref, key, 'bundle');
  const client = new RegistryClient({ plainHttpRegistries: [registry] });
  const [reg = '', ...path] = img.repository.split('/');
  const evidence = await collectEvidence(client, {
    image: { registry: reg, repository: path.join('/') },
    digest: img.digest as Digest,
    now: new Date(),
    signal: AbortSignal.timeout(30_000),
  });
  await client.close();
  const raw = evidence.bundles[0]?.bundle;
  if (raw === undefined) throw new Error('no bundle collected');
  const authority = {
    kind: 'key' as const,
    name: 'bench',
    publicKey: parsePublicKey(await readFile(key.pub, 'utf8')),
    requireTransparencyLog: false,
  };
  const now = new Date();
  const once = (): void => {
    const result = verifyBundle(
      JSON.parse(new TextDecoder().decode(raw)) as unknown,
      { kind: 'digest', digest: img.digest as Digest },
      authority,
      now,
    );
    if (!result.ok) throw new Error(`bundle did not verify: ${result.reason}`);
  };
  for (let i = 0; i < 50; i++) once();
  const batches: number[] = [];
  const perBatch = 100;
  for (let b = 0; b < 5; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < perBatch; i++) once();
    const used = process.cpuUsage(start);
    batches.push((used.user + used.system) / perBatch);
  }
  return { perOpUs: median(batches), ops: perBatch * batches.length };
}

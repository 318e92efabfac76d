/**
 * `sigwatch verify`'s work for N images inside an already running process:
 * a fresh registry client (empty token cache, new connections), evidence and
 * signature checks, no process start-up. This is the operator's situation.
 */
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { RegistryClient } from '../../src/registry/client.js';
import { collectEvidence } from '../../src/registry/evidence.js';
import { parseReference } from '../../src/registry/reference.js';
import { checkImageSignatures } from '../../src/verify/image-signatures.js';
import { parsePublicKey } from '../../src/verify/keys.js';
import type { CosignKey } from '../support/cosign.js';

export async function verifyInProcess(
  registry: string,
  refs: readonly string[],
  key: CosignKey,
): Promise<number> {
  const authority = {
    kind: 'key' as const,
    name: 'bench',
    publicKey: parsePublicKey(await readFile(key.pub, 'utf8')),
    requireTransparencyLog: false,
  };
  const t0 = performance.now();
  const client = new RegistryClient({ plainHttpRegistries: [registry] });
  const limit = pLimit(8);
  const verdicts = await Promise.all(
    refs.map((r) =>
      limit(async () => {
        const ref = parseReference(r);
        if (ref.digest === undefined) throw new Error('bench refs are digests');
        const evidence = await collectEvidence(client, {
          image: { registry: ref.registry, repository: ref.repository },
          digest: ref.digest,
          include: { attestations: false, attachedSboms: false },
          now: new Date(),
          signal: AbortSignal.timeout(60_000),
        });
        return checkImageSignatures(evidence, [authority], new Date()).verdict;
      }),
    ),
  );
  const elapsed = performance.now() - t0;
  await client.close();
  if (verdicts.some((v) => v !== 'Compliant')) throw new Error(`not all compliant: ${verdicts.join(',')}`);
  return elapsed;
}

/**
 * The attestation and provenance checks end to end: random images in olareg,
 * attested by the real cosign with each `--type` in both formats, collected
 * by Sigwatch and judged — found, missing, by another key, from the wrong
 * builder, and collected without `.att` (Unknown, never missing).
 */
import { expect } from 'chai';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../../../src/base/digest.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { collectEvidence } from '../../../src/registry/evidence.js';
import {
  checkAttestation,
  collectVerifiedAttestations,
  type AttestationCheck,
  type CollectedAttestations,
} from '../../../src/verify/attestations.js';
import type { Authority } from '../../../src/verify/authority.js';
import { regexpIdentity } from '../../../src/verify/identity.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import { checkProvenance } from '../../../src/verify/provenance.js';
import { attest, generateKeyPair, type CosignKey } from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { testEnv } from '../../support/testenv.js';

const builderId = 'https://github.com/sigwatch/builder/.github/workflows/build.yml@refs/tags/v1.0.0';
const source = 'git+https://github.com/sigwatch/app@refs/heads/main';

/** Small valid predicates, one per cosign `--type` under test. */
const predicates: Readonly<Record<string, unknown>> = {
  spdxjson: {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'app',
    documentNamespace: 'https://sigwatch.dev/spdx/app',
    creationInfo: { created: '2026-01-01T00:00:00Z', creators: ['Tool: sigwatch-test'] },
    packages: [
      {
        name: 'left-pad',
        SPDXID: 'SPDXRef-Package-left-pad',
        versionInfo: '1.3.0',
        downloadLocation: 'NOASSERTION',
      },
    ],
  },
  cyclonedx: {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    components: [{ type: 'library', name: 'left-pad', version: '1.3.0' }],
  },
  slsaprovenance: {
    builder: { id: builderId },
    buildType: 'https://github.com/slsa-framework/slsa-github-generator/generic@v1',
    invocation: { configSource: { uri: source, digest: { sha1: 'a'.repeat(40) }, entryPoint: 'build.yml' } },
    materials: [{ uri: source, digest: { sha1: 'a'.repeat(40) } }],
  },
  vuln: {
    invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
    scanner: { uri: 'pkg:github/aquasecurity/trivy@0.50.0', version: '0.50.0', result: {} },
    metadata: { scanStartedOn: '2026-01-01T00:00:00Z', scanFinishedOn: '2026-01-01T00:01:00Z' },
  },
};

describe('verify: attestations against real registries and cosign', function () {
  this.timeout(180_000);
  let client: RegistryClient;
  let key: CosignKey;
  let otherKey: CosignKey;
  let authority: Authority;
  let dir: string;

  before(async () => {
    client = new RegistryClient({ plainHttpRegistries: [testEnv().registry] });
    key = await generateKeyPair();
    otherKey = await generateKeyPair();
    authority = {
      kind: 'key',
      name: 'release-key',
      publicKey: parsePublicKey(await readFile(key.pub, 'utf8')),
      requireTransparencyLog: false,
    };
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-att-'));
    for (const [type, body] of Object.entries(predicates)) {
      await writeFile(join(dir, `${type}.json`), JSON.stringify(body));
    }
  });
  after(async () => {
    await client.close();
  });

  interface Judged {
    readonly collected: CollectedAttestations;
    readonly check: (required: string) => AttestationCheck;
  }

  async function judge(img: PushedImage, attestations = true): Promise<Judged> {
    const [registry = '', ...path] = img.repository.split('/');
    const now = new Date();
    const evidence = await collectEvidence(client, {
      image: { registry, repository: path.join('/') },
      digest: img.digest as Digest,
      now,
      include: { attestations },
      signal: AbortSignal.timeout(30_000),
    });
    const collected = collectVerifiedAttestations(evidence, [authority], now);
    return {
      collected,
      check: (required) => checkAttestation(evidence, collected.verified, collected.rejected, required),
    };
  }

  const reasons = (c: AttestationCheck): readonly string[] => (c.verdict === 'Compliant' ? [] : c.reasons);

  for (const format of ['legacy', 'bundle'] as const) {
    describe(`${format} format`, () => {
      let judged: Judged;
      before(async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        for (const type of Object.keys(predicates)) {
          await attest(img.ref, key, format, type, join(dir, `${type}.json`));
        }
        judged = await judge(img);
      });

      for (const required of [
        'spdxjson',
        'https://spdx.dev/Document',
        'cyclonedx',
        'slsaprovenance',
        'vuln',
      ]) {
        it(`finds and verifies ${required}`, () => {
          const c = judged.check(required);
          expect(c.verdict).to.equal('Compliant');
          expect(c.verdict === 'Compliant' && c.attestation.format).to.equal(format);
        });
      }

      it('an absent predicate type is AttestationMissing', () => {
        expect(reasons(judged.check('openvex'))).to.deep.equal(['AttestationMissing']);
      });

      it('checks the provenance: right builder passes, a wrong one is ProvenanceMismatch', () => {
        const c = judged.check('slsaprovenance');
        if (c.verdict !== 'Compliant') throw new Error('no provenance');
        const statement = c.attestation.statement;
        const builder = regexpIdentity('^https://github\\.com/sigwatch/builder/');
        expect(
          checkProvenance(statement, {
            builderIdRegExp: builder,
            sourceRepositories: ['git+https://github.com/sigwatch/app'],
          }),
        ).to.equal(undefined);
        const wrong = checkProvenance(statement, {
          builderIdRegExp: regexpIdentity('^https://github\\.com/evil/'),
        });
        expect(wrong?.reason).to.equal('ProvenanceMismatch');
      });

      it('an attestation by another key is rejected (KeyMismatch): AttestationInvalid', async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        await attest(img.ref, otherKey, format, 'slsaprovenance', join(dir, 'slsaprovenance.json'));
        const j = await judge(img);
        expect(j.collected.verified).to.deep.equal([]);
        expect(j.collected.rejected.map((r) => r.reason)).to.deep.equal(['KeyMismatch']);
        expect(reasons(j.check('slsaprovenance'))).to.deep.equal(['AttestationInvalid']);
      });
    });
  }

  it('evidence collected without .att is Unknown, never AttestationMissing', async () => {
    const img = await pushRandomImage(testEnv().registry, randomRepo());
    await attest(img.ref, key, 'legacy', 'slsaprovenance', join(dir, 'slsaprovenance.json'));
    const c = (await judge(img, false)).check('slsaprovenance');
    expect(c.verdict).to.equal('Unknown');
    expect(reasons(c)).to.deep.equal(['EvidenceIncomplete']);
  });
});

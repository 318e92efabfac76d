/**
 * Evidence built in-process, signed with real keys by node:crypto exactly as
 * cosign signs with `--key` (ECDSA P-256 over the simple-signing payload; a
 * DSSE envelope over an in-toto statement). For unit tests and benchmarks of
 * the pure evaluator; integration tests use the real cosign instead.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Digest } from '../../src/base/digest.js';
import type {
  AttestationLayer,
  Evidence,
  SignatureLayer,
  SourceStatus,
} from '../../src/registry/evidence.js';
import { inTotoPayloadType, preAuthEncoding } from '../../src/verify/dsse.js';
import { cosignAnnotations } from '../../src/verify/legacy-signature.js';

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
}

export function testKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export const randomDigest = (): Digest => `sha256:${randomBytes(32).toString('hex')}` as Digest;

/** A `.sig` layer as `cosign sign --key` writes it (no log entry). */
export function signatureLayer(key: TestKey, repository: string, digest: Digest): SignatureLayer {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': repository },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  return {
    repository,
    manifestDigest: randomDigest(),
    payload,
    annotations: {
      [cosignAnnotations.signature]: sign('sha256', payload, key.privateKey).toString('base64'),
    },
  };
}

/** A `.att` layer as `cosign attest --key` writes it: DSSE over an in-toto v1 statement about `digest`. */
export function attestationLayer(
  key: TestKey,
  repository: string,
  digest: Digest,
  predicateType: string,
  predicate: unknown,
): AttestationLayer {
  const body = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: repository, digest: { sha256: digest.slice('sha256:'.length) } }],
      predicateType,
      predicate,
    }),
  );
  const sig = sign('sha256', preAuthEncoding(inTotoPayloadType, body), key.privateKey);
  const envelope = {
    payloadType: inTotoPayloadType,
    payload: body.toString('base64'),
    signatures: [{ keyid: '', sig: sig.toString('base64') }],
  };
  return {
    repository,
    manifestDigest: randomDigest(),
    envelope: Buffer.from(JSON.stringify(envelope)),
    annotations: { [cosignAnnotations.signature]: '' },
  };
}

export interface EvidenceParts {
  readonly repository: string;
  readonly digest: Digest;
  readonly fetchedAt?: Date;
  readonly signatures?: readonly SignatureLayer[];
  readonly attestations?: readonly AttestationLayer[];
  /** Default: image, sig, att and referrers all answered (found when there is content, else absent). */
  readonly sources?: readonly SourceStatus[];
  readonly imageSeen?: boolean;
}

/** Evidence whose `complete` and `limitExceeded` follow from its sources, as collectEvidence computes them. */
export function buildEvidence(parts: EvidenceParts): Evidence {
  const { repository } = parts;
  const signatures = parts.signatures ?? [];
  const attestations = parts.attestations ?? [];
  const sources = parts.sources ?? [
    { repository, item: 'image', outcome: 'found' },
    { repository, item: 'sig', outcome: signatures.length > 0 ? 'found' : 'absent' },
    { repository, item: 'att', outcome: attestations.length > 0 ? 'found' : 'absent' },
    { repository, item: 'referrers', outcome: 'absent' },
  ];
  const imageSeen = parts.imageSeen ?? true;
  return {
    repository,
    digest: parts.digest,
    fetchedAt: parts.fetchedAt ?? new Date('2026-06-01T00:00:00Z'),
    imageSeen,
    signatures,
    attestations,
    bundles: [],
    sboms: [],
    sources,
    complete: imageSeen && sources.every((s) => s.outcome !== 'error' || s.item === 'sbom'),
    limitExceeded: sources.some((s) => (s.omitted ?? 0) > 0 && s.item !== 'sbom'),
  };
}

/**
 * Sigstore bundles of the corpus re-packaged the way cosign's legacy layers
 * carry the same evidence: the same signed bytes in another wrapping, so the
 * legacy verifiers can be tested on genuine Rekor entries.
 */

/** A Rekor v1 entry as a Sigstore bundle's JSON holds it. */
export interface TlogEntryJson {
  readonly logIndex: string;
  readonly logId: { readonly keyId: string };
  readonly integratedTime: string;
  readonly inclusionPromise: { readonly signedEntryTimestamp: string };
  readonly canonicalizedBody: string;
}

/** The part of a Sigstore bundle's JSON that holds its log entries. */
export interface BundleWithTlogEntries {
  readonly verificationMaterial: { readonly tlogEntries: readonly TlogEntryJson[] };
}

/**
 * The `dev.sigstore.cosign/bundle` annotation equivalent of a Sigstore
 * bundle's first tlog entry: the same SET over the same signed fields.
 * Throws when the bundle has no tlog entry.
 */
export function cosignBundleAnnotation(bundle: BundleWithTlogEntries): string {
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (entry === undefined) {
    throw new Error('no tlog entry');
  }
  return JSON.stringify({
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
    Payload: {
      body: entry.canonicalizedBody,
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
    },
  });
}

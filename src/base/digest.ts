/**
 * Content digests. Only sha256 is accepted: it is what OCI registries, cosign
 * and Sigstore use for images, and the distribution spec requires its encoded
 * part to be exactly 64 lower-case hex characters.
 */
declare const digestBrand: unique symbol;

/** `sha256:<64 lower-case hex>`, validated. */
export type Digest = string & { readonly [digestBrand]: true };

const sha256Pattern = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): value is Digest {
  return sha256Pattern.test(value);
}

/** Returns the digest, or undefined when `value` is not `sha256:<64 lower-case hex>`. */
export function parseDigest(value: string): Digest | undefined {
  return isDigest(value) ? value : undefined;
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

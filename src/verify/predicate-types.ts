/**
 * Attestation predicate types and the shortcuts users may write instead of
 * URIs — the one list of formats.md §6, shared by `cosign attest --type`,
 * ImagePolicy `attestations[].predicateType` and the CLI.
 *
 * SBOM predicates are matched by prefix: producers other than cosign write
 * versioned forms (`https://spdx.dev/Document/v2.3`,
 * `https://cyclonedx.org/bom/v1.4`) for the same kind of document.
 */

/**
 * What cosign v3 puts in the DSSE statement of an image *signature* (not an
 * attestation): a verified bundle with this predicate type is a signature.
 */
export const cosignSignPredicateType = 'https://sigstore.dev/cosign/sign/v1';

/** cosign `--type` shortcut → predicate type URI. */
export const predicateShortcuts: Readonly<Record<string, string>> = {
  custom: 'https://cosign.sigstore.dev/attestation/v1',
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
};

const sbomPrefixes = ['https://spdx.dev/Document', 'https://cyclonedx.org/bom'];

/**
 * The predicate type URI a policy or flag means: a known shortcut, or an
 * absolute URI as given. Anything else (an unknown shortcut, a typo) is
 * undefined, so a policy validator can report it instead of matching nothing.
 */
export function resolvePredicateType(spec: string): string | undefined {
  const shortcut = predicateShortcuts[spec];
  if (shortcut !== undefined) return shortcut;
  return /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(spec) ? spec : undefined;
}

/** True for the SPDX and CycloneDX document predicates, versioned or not. */
export function isSbomPredicate(predicateType: string): boolean {
  return sbomPrefixes.some((p) => predicateType === p || predicateType.startsWith(`${p}/`));
}

/**
 * Whether an attestation's `actual` predicate type satisfies the `required`
 * one (already resolved): equality, or for SBOM predicates the same document
 * kind in any version (`…/Document/v2.3` satisfies `…/Document`).
 */
export function predicateMatches(required: string, actual: string): boolean {
  if (required === actual) return true;
  const prefix = sbomPrefixes.find((p) => required === p);
  return prefix !== undefined && actual.startsWith(`${prefix}/`);
}

/**
 * An authority is one way an image can be signed acceptably: a public key, or
 * keyless (a certificate from a trusted CA whose identity and issuer match).
 * Inside one policy authorities are alternatives (design §2).
 */
import type { KeyObject } from 'node:crypto';
import type { GithubWorkflowClaims } from './fulcio.js';
import type { IdentityMatcher } from './identity.js';
import type { LoadedTrustRoot } from './trust.js';

export interface KeyAuthority {
  readonly kind: 'key';
  readonly name: string;
  readonly publicKey: KeyObject;
  /** Rekor material to check SETs / inclusion proofs when a log entry is required or present. */
  readonly trust?: LoadedTrustRoot;
  /** Default false for keys: an offline key signature needs no log. */
  readonly requireTransparencyLog: boolean;
}

export interface KeylessAuthority {
  readonly kind: 'keyless';
  readonly name: string;
  readonly identity: IdentityMatcher;
  readonly issuer: IdentityMatcher;
  /**
   * cosign's `--certificate-github-workflow-*`: claims the leaf's deprecated
   * GitHub extensions must equal exactly (identity.ts `githubWorkflowMismatch`).
   */
  readonly githubWorkflow?: GithubWorkflowClaims;
  readonly trust: LoadedTrustRoot;
  /** Default true for keyless: a verified SET, or an inclusion proof with checkpoint. */
  readonly requireTransparencyLog: boolean;
}

export type Authority = KeyAuthority | KeylessAuthority;

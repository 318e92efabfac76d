/**
 * Validation of `spec.authorities[]`: who may sign. Patterns and keys are
 * compiled here with the same code the verifier uses (identity.ts, keys.ts),
 * so a spec that validates is a spec the verifier can load.
 */
import { parsePublicKey } from '../verify/keys.js';
import { regexpIdentity } from '../verify/identity.js';
import type { Authority, KeyAuthority, KeylessAuthority, LimitKey } from './spec.js';
import { policyDefaults } from './spec.js';
import {
  checkUnique,
  readBoolean,
  readList,
  readObject,
  readString,
  type Findings,
} from './validate-shape.js';

/**
 * Reads an RE2 pattern field: `InvalidPattern` when RE2 refuses it, and an
 * `UnanchoredPattern` warning when it does not pin both ends, because an
 * unanchored identity (or issuer) pattern also matches inside longer values.
 */
export function readPattern(
  f: Findings,
  path: string,
  value: unknown,
  limit: LimitKey,
  required: boolean,
): string | undefined {
  const source = readString(f, path, value, limit, required);
  if (source === undefined) return undefined;
  let anchored: boolean;
  try {
    const matcher = regexpIdentity(source);
    anchored = matcher.kind === 'regexp' && matcher.anchored;
  } catch {
    // regexpIdentity throws VerifyError IdentityPatternInvalid; any other
    // failure of the RE2 compiler means the same thing for a policy.
    f.problem(path, 'InvalidPattern', 'not a valid RE2 pattern');
    return undefined;
  }
  if (!anchored) {
    f.warn(
      path,
      'UnanchoredPattern',
      'pattern is not anchored with ^…$ and also matches inside longer values',
    );
  }
  return source;
}

const objectRef = (f: Findings, path: string, value: unknown): { name: string } | undefined => {
  const o = readObject(f, path, value, ['name']);
  if (o === undefined) return undefined;
  const name = readString(f, `${path}.name`, o.name, 'authorities[].keyless.trustedRootRef.name', true);
  return name === undefined ? undefined : { name };
};

function readKeyless(f: Findings, path: string, value: unknown): KeylessAuthority | undefined {
  const o = readObject(f, path, value, [
    'issuer',
    'issuerRegExp',
    'subjectRegExp',
    'subject',
    'trustedRootRef',
  ]);
  if (o === undefined) return undefined;
  // Present means non-empty: an empty issuer or subject pins nothing and an empty pattern matches every value.
  const issuer = readString(
    f,
    `${path}.issuer`,
    o.issuer,
    'authorities[].keyless.issuer',
    o.issuer !== undefined,
  );
  const issuerRegExp = readPattern(
    f,
    `${path}.issuerRegExp`,
    o.issuerRegExp,
    'authorities[].keyless.issuerRegExp',
    o.issuerRegExp !== undefined,
  );
  const subjectRegExp = readPattern(
    f,
    `${path}.subjectRegExp`,
    o.subjectRegExp,
    'authorities[].keyless.subjectRegExp',
    o.subjectRegExp !== undefined,
  );
  const subject = readString(
    f,
    `${path}.subject`,
    o.subject,
    'authorities[].keyless.subject',
    o.subject !== undefined,
  );
  const root =
    o.trustedRootRef === undefined ? undefined : objectRef(f, `${path}.trustedRootRef`, o.trustedRootRef);
  let ok = o.trustedRootRef === undefined || root !== undefined;
  // Exactly one issuer rule and exactly one subject rule: without either, any signer of some issuer would pass.
  if (o.issuer === undefined && o.issuerRegExp === undefined) {
    f.problem(`${path}.issuer`, 'Required', 'one of issuer or issuerRegExp is required');
    ok = false;
  } else if (o.issuer !== undefined && o.issuerRegExp !== undefined) {
    f.problem(path, 'InvalidCombination', 'set issuer or issuerRegExp, not both');
    ok = false;
  } else if (issuer === undefined && issuerRegExp === undefined) {
    ok = false;
  }
  if (o.subject === undefined && o.subjectRegExp === undefined) {
    f.problem(`${path}.subjectRegExp`, 'Required', 'one of subject or subjectRegExp is required');
    ok = false;
  } else if (o.subject !== undefined && o.subjectRegExp !== undefined) {
    f.problem(path, 'InvalidCombination', 'set subject or subjectRegExp, not both');
    ok = false;
  } else if (subject === undefined && subjectRegExp === undefined) {
    ok = false;
  }
  if (!ok) return undefined;
  return {
    ...(issuer === undefined ? {} : { issuer }),
    ...(issuerRegExp === undefined ? {} : { issuerRegExp }),
    ...(subjectRegExp === undefined ? {} : { subjectRegExp }),
    ...(subject === undefined ? {} : { subject }),
    ...(root === undefined ? {} : { trustedRootRef: root }),
  };
}

function readPublicKey(f: Findings, path: string, value: unknown): string | undefined {
  const pem = readString(f, path, value, 'authorities[].key.publicKey', true);
  if (pem === undefined) return undefined;
  try {
    parsePublicKey(pem);
    return pem;
  } catch {
    // parsePublicKey throws VerifyError PublicKeyInvalid (wrong PEM, weak or exotic algorithm).
    f.problem(
      path,
      'InvalidPublicKey',
      'not a supported PEM public key (ECDSA P-256/P-384, Ed25519, RSA ≥ 2048)',
    );
    return undefined;
  }
}

function readKey(f: Findings, path: string, value: unknown): KeyAuthority | undefined {
  const o = readObject(f, path, value, ['publicKey', 'secretRef']);
  if (o === undefined) return undefined;
  if ((o.publicKey === undefined) === (o.secretRef === undefined)) {
    f.problem(path, 'InvalidCombination', 'set exactly one of publicKey or secretRef');
    return undefined;
  }
  if (o.publicKey !== undefined) {
    const publicKey = readPublicKey(f, `${path}.publicKey`, o.publicKey);
    return publicKey === undefined ? undefined : { publicKey };
  }
  const refPath = `${path}.secretRef`;
  const ref = readObject(f, refPath, o.secretRef, ['name', 'key']);
  if (ref === undefined) return undefined;
  const name = readString(f, `${refPath}.name`, ref.name, 'authorities[].key.secretRef.name', true);
  const key = readString(f, `${refPath}.key`, ref.key, 'authorities[].key.secretRef.key', true);
  return name === undefined || key === undefined ? undefined : { secretRef: { name, key } };
}

function readAuthority(f: Findings, path: string, value: unknown): Authority | undefined {
  const o = readObject(f, path, value, ['name', 'keyless', 'key', 'requireTransparencyLog', 'source']);
  if (o === undefined) return undefined;
  const name = readString(f, `${path}.name`, o.name, 'authorities[].name', true);
  let kind: { keyless: KeylessAuthority } | { key: KeyAuthority } | undefined;
  if ((o.keyless === undefined) === (o.key === undefined)) {
    f.problem(path, 'AuthorityKind', 'set exactly one of keyless or key');
  } else if (o.keyless !== undefined) {
    const keyless = readKeyless(f, `${path}.keyless`, o.keyless);
    kind = keyless === undefined ? undefined : { keyless };
  } else {
    const key = readKey(f, `${path}.key`, o.key);
    kind = key === undefined ? undefined : { key };
  }
  const tlogDefault =
    o.keyless === undefined
      ? policyDefaults.requireTransparencyLog.key
      : policyDefaults.requireTransparencyLog.keyless;
  const tlog = readBoolean(f, `${path}.requireTransparencyLog`, o.requireTransparencyLog, tlogDefault);
  let source: { repository: string } | undefined;
  let sourceOk = true;
  if (o.source !== undefined) {
    const s = readObject(f, `${path}.source`, o.source, ['repository']);
    const repository =
      s === undefined
        ? undefined
        : readString(f, `${path}.source.repository`, s.repository, 'authorities[].source.repository', true);
    source = repository === undefined ? undefined : { repository };
    sourceOk = source !== undefined;
  }
  if (name === undefined || kind === undefined || tlog === undefined || !sourceOk) return undefined;
  return { name, ...kind, requireTransparencyLog: tlog, ...(source === undefined ? {} : { source }) };
}

/** Reads `spec.authorities`: at least one, names unique. */
export function readAuthorities(f: Findings, path: string, value: unknown): Authority[] | undefined {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    f.problem(path, 'Required', 'at least one authority is required');
    return undefined;
  }
  const names = Array.isArray(value)
    ? value.map((item: unknown) =>
        typeof item === 'object' && item !== null && 'name' in item && typeof item.name === 'string'
          ? item.name
          : undefined,
      )
    : [];
  const authorities = readList(f, path, value, 'authorities', (item, itemPath) =>
    readAuthority(f, itemPath, item),
  );
  const before = f.problems.length;
  checkUnique(f, path, names, 'name');
  return f.problems.length === before ? authorities : undefined;
}

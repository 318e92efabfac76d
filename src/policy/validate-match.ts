/**
 * Validation of `spec.match` and of the image globs that `exceptions[]`
 * shares with it. Label selectors are checked the way the API server checks
 * metav1.LabelSelector, plus one Sigwatch rule: no `sigwatch.dev/*` keys,
 * because those labels are written by Sigwatch itself and a policy selecting
 * on its own verdict labels would feed back into its own scope.
 */
import { canonicalGlob, globProblem } from './glob.js';
import {
  labelSelectorOperators,
  policyDefaults,
  signatureOnValues,
  type ImageMatch,
  type LabelSelector,
  type LabelSelectorRequirement,
  type LimitKey,
} from './spec.js';
import {
  checkLength,
  memberPath,
  readBoolean,
  readEnum,
  readList,
  readObject,
  readString,
  readStringMap,
  type Findings,
} from './validate-shape.js';

const labelName = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const reservedPrefix = 'sigwatch.dev';

/** Reads a label key: `[prefix/]name` with a DNS-subdomain prefix (≤ 253) and a name (≤ 63), not sigwatch.dev. */
function readLabelKey(f: Findings, path: string, key: string, limit: LimitKey): boolean {
  if (!checkLength(f, path, key, limit)) return false;
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && dnsSubdomain.test(prefix));
  if (!prefixOk || name.length > 63 || !labelName.test(name)) {
    f.problem(path, 'InvalidLabel', 'not a valid label key');
    return false;
  }
  if (prefix === reservedPrefix || prefix?.endsWith(`.${reservedPrefix}`) === true) {
    f.problem(path, 'ReservedLabelKey', 'sigwatch.dev/* labels are written by Sigwatch and cannot select');
    return false;
  }
  return true;
}

function checkLabelValue(f: Findings, path: string, value: string, limit: LimitKey): boolean {
  if (!checkLength(f, path, value, limit)) return false;
  if (value !== '' && !labelName.test(value)) {
    f.problem(path, 'InvalidLabel', 'not a valid label value');
    return false;
  }
  return true;
}

function readRequirement(f: Findings, path: string, value: unknown): LabelSelectorRequirement | undefined {
  const o = readObject(f, path, value, ['key', 'operator', 'values']);
  if (o === undefined) return undefined;
  const key = readString(f, `${path}.key`, o.key, 'selector.matchExpressions[].key', true);
  const keyOk = key !== undefined && readLabelKey(f, `${path}.key`, key, 'selector.matchExpressions[].key');
  const operator = readEnum(f, `${path}.operator`, o.operator, labelSelectorOperators, undefined);
  const values = readList(
    f,
    `${path}.values`,
    o.values,
    'selector.matchExpressions[].values',
    (item, itemPath) => {
      const text = readString(f, itemPath, item, 'selector.matchExpressions[].values[]', false);
      return text !== undefined && checkLabelValue(f, itemPath, text, 'selector.matchExpressions[].values[]')
        ? text
        : undefined;
    },
  );
  if (!keyOk || operator === undefined || values === undefined) return undefined;
  const wantsValues = operator === 'In' || operator === 'NotIn';
  if (wantsValues !== values.length > 0) {
    f.problem(
      `${path}.values`,
      'InvalidCombination',
      `${operator} ${wantsValues ? 'needs values' : 'takes no values'}`,
    );
    return undefined;
  }
  return wantsValues ? { key, operator, values } : { key, operator };
}

export function readSelector(f: Findings, path: string, value: unknown): LabelSelector | undefined {
  const o = readObject(f, path, value, ['matchLabels', 'matchExpressions']);
  if (o === undefined) return undefined;
  let labels: Record<string, string> | undefined;
  let ok = true;
  if (o.matchLabels !== undefined) {
    const entries = readStringMap(f, `${path}.matchLabels`, o.matchLabels, 'selector.matchLabels');
    const good = entries?.filter(
      ([k, v]) =>
        readLabelKey(f, memberPath(`${path}.matchLabels`, k), k, 'selector.matchLabels{}') &&
        checkLabelValue(f, memberPath(`${path}.matchLabels`, k), v, 'selector.matchLabels{}='),
    );
    ok = entries !== undefined && good?.length === entries.length;
    labels = good === undefined ? undefined : Object.fromEntries(good);
  }
  const expressions =
    o.matchExpressions === undefined
      ? undefined
      : readList(
          f,
          `${path}.matchExpressions`,
          o.matchExpressions,
          'selector.matchExpressions',
          (item, itemPath) => readRequirement(f, itemPath, item),
        );
  if (!ok || (o.matchExpressions !== undefined && expressions === undefined)) return undefined;
  return {
    ...(labels === undefined ? {} : { matchLabels: labels }),
    ...(expressions === undefined ? {} : { matchExpressions: expressions }),
  };
}

/** Reads a non-empty list of image globs (glob.ts rules), each spelled canonically. */
export function readGlobs(
  f: Findings,
  path: string,
  value: unknown,
  limit: 'match.images' | 'exceptions[].images',
): string[] | undefined {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    f.problem(path, 'Required', 'at least one image glob is required');
    return undefined;
  }
  return readList(f, path, value, limit, (item, itemPath) => {
    const glob = readString(f, itemPath, item, `${limit}[]`, true);
    if (glob === undefined) return undefined;
    const problem = globProblem(glob);
    if (problem !== undefined) {
      f.problem(itemPath, 'InvalidGlob', problem);
      return undefined;
    }
    // Names are matched canonically (glob.ts): another spelling would silently match nothing.
    const canonical = canonicalGlob(glob);
    if (canonical !== undefined) {
      f.problem(
        itemPath,
        'NonCanonicalGlob',
        `image names are matched in canonical form (lower-case host, no ":443", Docker Hub as docker.io/library/…): write ${JSON.stringify(canonical)}`,
      );
      return undefined;
    }
    return glob;
  });
}

/** Reads `spec.match`, applying policyDefaults.match. */
export function readMatch(f: Findings, path: string, value: unknown): ImageMatch | undefined {
  const o = readObject(f, path, value, [
    'images',
    'namespaceSelector',
    'podSelector',
    'excludeNamespaces',
    'includeSystemNamespaces',
    'signatureOn',
  ]);
  if (o === undefined) return undefined;
  const d = policyDefaults.match;
  const images = readGlobs(f, `${path}.images`, o.images, 'match.images');
  const ns =
    o.namespaceSelector === undefined
      ? undefined
      : readSelector(f, `${path}.namespaceSelector`, o.namespaceSelector);
  const pod = o.podSelector === undefined ? undefined : readSelector(f, `${path}.podSelector`, o.podSelector);
  const exclude = readList(
    f,
    `${path}.excludeNamespaces`,
    o.excludeNamespaces,
    'match.excludeNamespaces',
    (item, p) => {
      const name = readString(f, p, item, 'match.excludeNamespaces[]', true);
      if (name !== undefined && !dnsLabel.test(name)) f.problem(p, 'InvalidLabel', 'not a namespace name');
      return name !== undefined && dnsLabel.test(name) ? name : undefined;
    },
  );
  const system = readBoolean(
    f,
    `${path}.includeSystemNamespaces`,
    o.includeSystemNamespaces,
    d.includeSystemNamespaces,
  );
  const signatureOn = readEnum(f, `${path}.signatureOn`, o.signatureOn, signatureOnValues, d.signatureOn);
  const selectorsOk =
    (o.namespaceSelector === undefined || ns !== undefined) &&
    (o.podSelector === undefined || pod !== undefined);
  if (
    images === undefined ||
    exclude === undefined ||
    system === undefined ||
    signatureOn === undefined ||
    !selectorsOk
  ) {
    return undefined;
  }
  return {
    images,
    ...(ns === undefined ? {} : { namespaceSelector: ns }),
    ...(pod === undefined ? {} : { podSelector: pod }),
    excludeNamespaces: exclude,
    includeSystemNamespaces: system,
    signatureOn,
  };
}

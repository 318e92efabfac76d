/**
 * test/fixtures holds only the corpus files that tests and benchmarks read,
 * beside each source's unmodified cases.json, which lists every file of the
 * upstream selection with its size and sha256. This guard keeps that trim
 * honest: every listed file is present with its recorded bytes, or a row of
 * `notCopied` names it and says why no test needs it; and nothing unlisted
 * lives there. A later trim that drops a file fails here until it says why, so
 * coverage cannot vanish silently (a missing file a test reads would throw,
 * but one only probed for existence, as legacy-signature.test.ts probes
 * manifests, would not).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { testdataRoot } from '../support/testdata.js';

/** A file as cases.json lists it, or as it is on disk; `path` is relative to test/fixtures. */
interface FileSum {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** Listed files deliberately left out of test/fixtures. */
interface Omission {
  readonly paths: RegExp;
  readonly why: string;
  /** A present file with the same recorded sha256, which the tests read instead. */
  readonly sameAs?: string;
}

const notCopied: readonly Omission[] = [
  {
    paths: /^sigstore-conformance\/bundle-verify\/([^/]+\/README|README\.md)$/,
    why: "upstream prose about the directory and each case; the case's description in cases.json says what it tests",
  },
  {
    paths: /^sigstore-conformance\/bundle-verify\/integrated-time-in-future_fail\/(identity|issuer)$/,
    why: "the upstream harness's identity and issuer as files; the case's inputs carry the same strings",
  },
  {
    paths: /^(cyclonedx-spec\/schema|spdx-spec\/schemas|syft\/schema)\/[^/]+\.json$/,
    why: "JSON Schemas: Sigwatch is not a schema validator; the tests judge each document by its case's expected outcome",
  },
  {
    paths: /^sigstore-js\/trust\/trusted_root\.production\.json$/,
    why: 'the public-good root snapshot the tests read from sigstore-conformance/trust/',
    sameAs: 'sigstore-conformance/trust/trusted_root.production.json',
  },
  {
    paths: /^sigstore-js\/verify\/[^/]+\/key\.pub$/,
    why: 'the fixture key, unused by the certificate cases; the public-key case reads the same key',
    sameAs: 'sigstore-js/verify/v1-message-signature-public-key/key.pub',
  },
  {
    paths: /^sigstore-js\/compat\/statement\.json$/,
    why: 'the in-toto statement the compat bundles carry in their DSSE payload; the tests read the bundles',
  },
  {
    paths:
      /^slsa-verifier\/(bcr-MODULE\.bazel\/MODULE\.bazel|gha_container-based-v2\.1\.0-workflow_dispatch\/binary-linux-amd64-workflow_dispatch)$/,
    why: 'artifacts the upstream harness hashes; the provenance tests read only the statements',
  },
];

/** Files on disk that no cases.json lists: the folder's README, its license texts and each source's index. */
const unlisted = /^(README\.md|LICENSES\/[^/]+\.txt|[^/]+\/cases\.json)$/;

/** Every problem with the fixture tree, each naming its file; empty when the trim is sound. */
function fixtureProblems(
  listed: readonly FileSum[],
  present: readonly FileSum[],
  omissions: readonly Omission[],
): string[] {
  const problems: string[] = [];
  const index = new Map<string, FileSum>();
  for (const file of listed) {
    const seen = index.get(file.path);
    if (seen !== undefined && seen.sha256 !== file.sha256) {
      problems.push(`${file.path}: listed twice with different sha256`);
    }
    index.set(file.path, file);
  }
  const onDisk = new Map(present.map((f) => [f.path, f]));
  const used = new Set<Omission>();
  for (const file of index.values()) {
    const here = onDisk.get(file.path);
    if (here !== undefined) {
      if (here.size !== file.size || here.sha256 !== file.sha256) {
        problems.push(`${file.path}: bytes differ from cases.json (fixtures are never edited)`);
      }
      continue;
    }
    const omission = omissions.find((o) => o.paths.test(file.path));
    if (omission === undefined) {
      problems.push(
        `${file.path}: missing (copy it back, or add a notCopied row saying why no test needs it)`,
      );
      continue;
    }
    used.add(omission);
    if (omission.sameAs === undefined) continue;
    const twin = index.get(omission.sameAs);
    if (twin === undefined || !onDisk.has(twin.path) || twin.sha256 !== file.sha256) {
      problems.push(`${file.path}: left out as a copy of ${omission.sameAs}, which is absent or differs`);
    }
  }
  for (const file of present) {
    if (!index.has(file.path) && !unlisted.test(file.path)) {
      problems.push(`${file.path}: not listed by its source's cases.json`);
    }
  }
  for (const omission of omissions) {
    if (!used.has(omission))
      problems.push(`notCopied ${String(omission.paths)}: leaves out nothing (stale row)`);
  }
  return problems;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toFileSum(source: string, value: unknown): FileSum {
  if (!isRecord(value)) throw new TypeError(`${source}/cases.json: a file entry is not an object`);
  const { path, size, sha256 } = value;
  if (typeof path !== 'string' || typeof size !== 'number' || typeof sha256 !== 'string') {
    throw new TypeError(`${source}/cases.json: a file entry lacks path, size or sha256`);
  }
  return { path: `${source}/${path}`, size, sha256 };
}

/** Every file a source's cases.json lists: each case's `files` and the source's `support_files`. */
function listedFiles(source: string): FileSum[] {
  // A shape this guard does not expect throws: skipping it would shrink what the guard checks.
  const list = (value: unknown, what: string): readonly unknown[] => {
    if (!Array.isArray(value)) throw new TypeError(`${source}/cases.json: ${what} is not an array`);
    return value as unknown[];
  };
  const index: unknown = JSON.parse(readFileSync(new URL(`${source}/cases.json`, testdataRoot), 'utf8'));
  if (!isRecord(index)) throw new TypeError(`${source}/cases.json is not an object`);
  const caseFiles = list(index['cases'], 'cases').flatMap((c, i) =>
    list(isRecord(c) ? c['files'] : undefined, `cases[${String(i)}].files`),
  );
  return [...caseFiles, ...list(index['support_files'], 'support_files')].map((f) => toFileSum(source, f));
}

const root = fileURLToPath(testdataRoot);

function presentFiles(): FileSum[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = relative(root, `${entry.parentPath}/${entry.name}`);
      const bytes = readFileSync(`${root}/${path}`);
      return { path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
}

const sources = (): string[] =>
  readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'LICENSES')
    .map((entry) => entry.name)
    .sort();

describe('test/fixtures: the trimmed corpus', () => {
  it('has every source the tests load, each with its cases.json', () => {
    expect(sources()).to.deep.equal([
      'cdxgen',
      'containers-image',
      'cosign',
      'cyclonedx-bom-examples',
      'cyclonedx-spec',
      'guac',
      'guac-data',
      'kyverno',
      'kyverno-crds',
      'sigstore-conformance',
      'sigstore-js',
      'slsa-verifier',
      'spdx-examples',
      'spdx-spec',
      'syft',
    ]);
  });

  it('holds every file its cases.json files list, byte for byte, or says why not, and nothing else', () => {
    const listed = sources().flatMap(listedFiles);
    expect(fixtureProblems(listed, presentFiles(), notCopied)).to.deep.equal([]);
  });

  describe('the guard itself', () => {
    const sum = (path: string, sha256 = 'aa', size = 1): FileSum => ({ path, size, sha256 });
    const listed = [sum('s/case/a'), sum('s/case/b', 'bb'), sum('s/other/b', 'bb')];
    const rows: Omission[] = [{ paths: /^s\/other\/b$/, why: 'a copy', sameAs: 's/case/b' }];
    const present = [
      sum('s/cases.json', 'cc'),
      sum('s/case/a'),
      sum('s/case/b', 'bb'),
      sum('README.md', 'dd'),
    ];

    it('accepts a sound trim', () => {
      expect(fixtureProblems(listed, present, rows)).to.deep.equal([]);
    });

    it('names a listed file that vanished without a row', () => {
      const problems = fixtureProblems(listed, present.slice(0, 2).concat(present.slice(3)), []);
      expect(problems).to.include(
        's/case/b: missing (copy it back, or add a notCopied row saying why no test needs it)',
      );
    });

    it('names a file whose bytes changed', () => {
      const edited = present.map((f) => (f.path === 's/case/a' ? sum('s/case/a', 'ab') : f));
      expect(fixtureProblems(listed, edited, rows)).to.deep.equal([
        's/case/a: bytes differ from cases.json (fixtures are never edited)',
      ]);
    });

    it('names a file no cases.json lists', () => {
      expect(fixtureProblems(listed, [...present, sum('s/case/extra')], rows)).to.deep.equal([
        "s/case/extra: not listed by its source's cases.json",
      ]);
    });

    it('names a row that leaves out nothing, and a "copy" whose twin differs or is gone', () => {
      const stale: Omission = { paths: /^s\/gone$/, why: 'stale' };
      expect(fixtureProblems(listed, present, [...rows, stale])).to.deep.equal([
        'notCopied /^s\\/gone$/: leaves out nothing (stale row)',
      ]);
      const differs = [sum('s/case/a'), sum('s/case/b', 'bb'), sum('s/other/b', 'bx')];
      expect(fixtureProblems(differs, present, rows)).to.deep.equal([
        's/other/b: left out as a copy of s/case/b, which is absent or differs',
      ]);
      const twinGone = [sum('s/case/a'), sum('s/other/b', 'bb')];
      const withoutTwin = present.filter((f) => f.path !== 's/case/b');
      expect(fixtureProblems(twinGone, withoutTwin, rows)).to.deep.equal([
        's/other/b: left out as a copy of s/case/b, which is absent or differs',
      ]);
    });
  });
});

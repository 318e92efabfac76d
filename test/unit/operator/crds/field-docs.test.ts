import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CliError } from '../../../../src/base/errors.js';
import { auditDefaults } from '../../../../src/audit/spec.js';
import { runCli } from '../../../../src/cli/program.js';
import { allCrds } from '../../../../src/operator/crds/crds.js';
import { kindDocs } from '../../../../src/operator/crds/field-docs.js';
import { readmeSections, spliceSections } from '../../../../src/operator/crds/field-table.js';
import { defaultText, describeSchema } from '../../../../src/policy/field-docs.js';
import type { JsonSchema } from '../../../../src/policy/schema.js';
import { policyDefaults } from '../../../../src/policy/spec.js';

interface Crd {
  spec: { names: { kind: keyof typeof kindDocs }; versions: { schema: { openAPIV3Schema: JsonSchema } }[] };
}

const crds = (): Crd[] => allCrds() as Crd[];
const rootOf = (crd: Crd | undefined): JsonSchema => crd?.spec.versions[0]?.schema.openAPIV3Schema ?? {};

/** Every field of a schema: `''` for the object itself, then each property (`[]` items, `{}` map values). */
function fields(schema: JsonSchema, path = ''): [string, JsonSchema][] {
  const out: [string, JsonSchema][] = path === '' ? [['', schema]] : [];
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const p = path === '' ? k : `${path}.${k}`;
    out.push([p, v], ...fields(v, p));
  }
  if (schema.items !== undefined) out.push(...fields(schema.items, `${path}[]`).filter(([p]) => p !== ''));
  if (schema.additionalProperties !== undefined)
    out.push(...fields(schema.additionalProperties, `${path}{}`).filter(([p]) => p !== ''));
  return out;
}

/** Leaf paths of a defaults table, below `prefix`. */
function leaves(value: unknown, prefix: string): [string, unknown][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [[prefix, value]];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, `${prefix}.${k}`));
}

describe('CRD field descriptions', () => {
  for (const kind of Object.keys(kindDocs) as (keyof typeof kindDocs)[]) {
    it(`describes every field of ${kind} (kubectl explain), and documents no field it lacks`, () => {
      const crd = crds().find((c) => c.spec.names.kind === kind);
      expect(crd, kind).to.not.equal(undefined);
      const all = fields(rootOf(crd));
      // The API server refuses a CRD that says anything of metadata but name and generateName.
      expect(all.find(([p]) => p === 'metadata')?.[1], 'metadata as the API server wants it').to.deep.equal({
        type: 'object',
      });
      const undescribed = all
        .filter(([p, s]) => p !== 'metadata' && (s.description ?? '').trim() === '')
        .map(([p]) => p);
      expect(undescribed, 'fields without a description (add them to field-docs.ts)').to.deep.equal([]);
      const paths = new Set(all.map(([p]) => p));
      const stale = Object.keys(kindDocs[kind].fields).filter((p) => !paths.has(p));
      expect(stale, 'field docs that name no field').to.deep.equal([]);
      // One line each: kubectl explain and the README table show them as such.
      for (const [p, line] of Object.entries(kindDocs[kind].fields)) expect(line, p).to.not.match(/\n/);
    });
  }

  it('states every default of policyDefaults and auditDefaults in the description of its field', () => {
    const described = (kind: keyof typeof kindDocs): Map<string, string | undefined> => {
      const crd = crds().find((c) => c.spec.names.kind === kind);
      return new Map(fields(rootOf(crd)).map(([p, s]) => [p, s.description]));
    };
    const policy = described('ImagePolicy');
    const cases: [string, unknown, Map<string, string | undefined>][] = [
      ...leaves(policyDefaults, 'spec')
        .filter(([p]) => !p.startsWith('spec.requireTransparencyLog'))
        .map(([p, v]): [string, unknown, Map<string, string | undefined>] => [p, v, policy]),
      ...leaves(auditDefaults, 'spec').map(([p, v]): [string, unknown, Map<string, string | undefined>] => [
        p,
        v,
        described('ImageAudit'),
      ]),
    ];
    expect(cases.length).to.be.greaterThan(15);
    for (const [path, value, map] of cases) {
      expect(map.has(path), `${path} is a field`).to.equal(true);
      expect(map.get(path), path).to.satisfy((d: string | undefined) =>
        (d ?? '').endsWith(` Default: ${defaultText(value) ?? '?'}.`),
      );
    }
    expect(policy.get('spec.mode')).to.match(/ Default: Audit\.$/);
    expect(policy.get('spec.authorities[].requireTransparencyLog')).to.match(
      / Default: true for keyless, false for key\.$/,
    );
    // A field without a default says none.
    expect(policy.get('spec.match.images')).to.not.include('Default:');
  });

  it('keeps everything else of the schema (defaults, bounds, CEL rules) as it was', () => {
    const schema: JsonSchema = {
      type: 'object',
      'x-kubernetes-validations': [{ rule: 'true', message: 'm' }],
      properties: {
        a: { type: 'string', default: 'x', maxLength: 3, description: 'old' },
        b: { type: 'array', maxItems: 2, items: { type: 'object', properties: { c: { type: 'integer' } } } },
        m: { type: 'object', additionalProperties: { type: 'string' } },
      },
    };
    const before = structuredClone(schema);
    const out = describeSchema(schema, {
      fields: { '': 'root', a: 'A.', 'b[].c': 'C.' },
      defaultOf: (p) => (p === 'a' ? 'x' : undefined),
    });
    expect(schema, 'the input is not changed').to.deep.equal(before);
    expect(out).to.deep.equal({
      type: 'object',
      description: 'root',
      'x-kubernetes-validations': [{ rule: 'true', message: 'm' }],
      properties: {
        a: { type: 'string', default: 'x', maxLength: 3, description: 'A. Default: x.' },
        b: {
          type: 'array',
          maxItems: 2,
          items: { type: 'object', properties: { c: { type: 'integer', description: 'C.' } } },
        },
        m: { type: 'object', additionalProperties: { type: 'string' } },
      },
    });
  });
});

describe('README field tables', () => {
  const readme = new URL('../../../../README.md', import.meta.url);

  it('the README holds exactly what the generator prints (run `npm run docs`)', () => {
    const text = readFileSync(readme, 'utf8');
    expect(spliceSections(text, readmeSections())).to.equal(text);
  });

  it('has one row per field of each kind, with its type and default', () => {
    const sections = readmeSections();
    const policy = sections['imagepolicy-fields'] ?? '';
    expect(policy).to.include('| `spec.mode` | Audit \\| Enforce | Audit | Audit: verdicts in status');
    expect(policy).to.include('| `spec.reverifyInterval` | duration | 1h |');
    expect(policy).to.include(
      '| `spec.authorities[].requireTransparencyLog` | boolean | true for keyless, false for key |',
    );
    // Markdown in descriptions stays text: `*` and `<` are escaped.
    expect(policy).to.include('\\* stays within one path segment, \\*\\* crosses /');
    expect(sections['imageaudit-fields']).to.include('| `spec.timeZone` | string | UTC |');
    for (const crd of crds()) {
      const kind = crd.spec.names.kind;
      const rows = (sections[`${kind.toLowerCase()}-fields`] ?? '').split('\n').slice(2);
      const own = fields(rootOf(crd)).filter(
        ([p]) => p !== '' && !['apiVersion', 'kind', 'metadata'].includes(p) && !p.includes('{}'),
      );
      expect(
        rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1]),
        kind,
      ).to.deep.equal(own.map(([p]) => p));
    }
  });

  it('splices only between the markers, and refuses a text without them', () => {
    const text = 'a\n<!-- generated:x -->\nold\n<!-- end -->\nb\n';
    expect(spliceSections(text, { x: 'new' })).to.equal('a\n<!-- generated:x -->\nnew\n\n<!-- end -->\nb\n');
    expect(() => spliceSections('a\n', { x: 'new' })).to.throw(CliError);
    expect(() => spliceSections(`${text}${text}`, { x: 'new' })).to.throw(CliError);
  });

  it('`sigwatch crds --readme FILE` rewrites the tables of FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigwatch-docs-'));
    try {
      const file = join(dir, 'README.md');
      const markers = Object.keys(readmeSections())
        .map((n) => `<!-- generated:${n} -->\nOUTDATED-TABLE\n<!-- end -->\n`)
        .join('');
      writeFileSync(file, markers);
      const code = await runCli(['crds', '--readme', file], {
        writeOut: () => undefined,
        writeErr: () => undefined,
      });
      expect(code).to.equal(0);
      const text = readFileSync(file, 'utf8');
      expect(text).to.not.include('OUTDATED-TABLE');
      expect(spliceSections(text, readmeSections())).to.equal(text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

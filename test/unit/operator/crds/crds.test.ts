import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { crdYaml } from '../../../../src/cli/crds-action.js';
import { runCli } from '../../../../src/cli/program.js';
import {
  allCrds,
  imageAuditCrd,
  imageAuditReportCrd,
  imagePolicyCrd,
} from '../../../../src/operator/crds/crds.js';
import type { JsonSchema } from '../../../../src/policy/schema.js';
import { policyLimits, type Limit } from '../../../../src/policy/spec.js';
import { validatePolicySpec } from '../../../../src/policy/validate.js';
import { brokenPolicies, validPolicies } from '../../../support/policy-corpus.js';

const specSchema = (): JsonSchema =>
  (imagePolicyCrd() as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } }).spec.versions[0]
    ?.schema.openAPIV3Schema.properties?.['spec'] ?? {};

/** Every (path, schema) of the spec schema, with `[]` for items and `{}=` for map values. */
function walk(schema: JsonSchema, path = ''): [string, JsonSchema][] {
  const out: [string, JsonSchema][] = [[path, schema]];
  for (const [k, v] of Object.entries(schema.properties ?? {}))
    out.push(...walk(v, path === '' ? k : `${path}.${k}`));
  if (schema.items !== undefined) out.push(...walk(schema.items, `${path}[]`));
  if (schema.additionalProperties !== undefined) out.push(...walk(schema.additionalProperties, `${path}{}=`));
  return out;
}

/** Leaf paths of a JSON value, in the same notation. */
function leaves(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => leaves(v, `${path}[]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, path === '' ? k : `${path}.${k}`));
  }
  return [path];
}

describe('CRDs', () => {
  it('crds/ holds exactly what `sigwatch crds` generates (run `npm run crds` after a schema change)', () => {
    for (const crd of allCrds()) {
      const name = (crd as { metadata: { name: string } }).metadata.name;
      const [plural = '', ...group] = name.split('.');
      const file = new URL(`../../../../crds/${group.join('.')}_${plural}.yaml`, import.meta.url);
      expect(readFileSync(file, 'utf8').split('\n').slice(1).join('\n'), name).to.equal(crdYaml(crd));
    }
  });

  it('`sigwatch crds` prints the three CRDs as YAML documents', async () => {
    let out = '';
    const code = await runCli(['crds'], { writeOut: (t) => (out += t), writeErr: () => undefined });
    expect(code).to.equal(0);
    const names = parseAllDocuments(out).map(
      (d) => (d.toJS() as { metadata: { name: string } }).metadata.name,
    );
    expect(names).to.deep.equal([
      'imagepolicies.sigwatch.dev',
      'imageaudits.sigwatch.dev',
      'imageauditreports.sigwatch.dev',
    ]);
  });

  it('bounds every string and list of the spec', () => {
    for (const [path, s] of walk(specSchema())) {
      if (s.type === 'string' && s.enum === undefined) expect(s.maxLength, path).to.be.a('number');
      if (s.type === 'array') expect(s.maxItems, path).to.be.a('number');
      if (s.type === 'object' && s.additionalProperties !== undefined)
        expect(s.maxProperties, path).to.be.a('number');
    }
  });

  it('bounds every string and list of ImageAudit.status and of ImageAuditReport, and describes the report', () => {
    const root = (crd: object): JsonSchema =>
      (crd as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } }).spec.versions[0]?.schema
        .openAPIV3Schema ?? {};
    const status = root(imageAuditCrd()).properties?.['status'] ?? {};
    const report = root(imageAuditReportCrd());
    expect(status['x-kubernetes-preserve-unknown-fields'], 'a typed status').to.equal(undefined);
    const own = walk(report).filter(([path]) => !['apiVersion', 'kind', 'metadata'].includes(path));
    for (const [path, s] of [...walk(status, 'status'), ...own]) {
      expect(s['x-kubernetes-preserve-unknown-fields'], path).to.equal(undefined);
      if (s.type === 'string' && s.enum === undefined && s.format === undefined)
        expect(s.maxLength, path).to.be.a('number');
      if (s.type === 'array') expect(s.maxItems, path).to.be.a('number');
      if (s.type === 'object')
        expect(s.properties ?? s.additionalProperties, `${path} is typed`).to.not.equal(undefined);
    }
    for (const field of ['audit', 'time', 'part', 'parts', 'summary', 'entries', 'unmatchedPods'])
      expect(report.properties?.[field]?.description, field).to.be.a('string');
  });

  it('uses the validator’s bounds (policyLimits) wherever the schema has the field', () => {
    const paths = new Map(walk(specSchema()));
    // Selector bounds apply to both selectors and duration bounds to every duration: one instance each.
    const where = (key: string): string =>
      key === 'duration' ? 'reverifyInterval' : key.replace(/^selector\./, 'match.podSelector.');
    for (const [key, bound] of Object.entries(policyLimits) as [string, Limit][]) {
      if (key === 'selector.matchLabels{}') continue; // map keys: only the validator checks them
      const s = paths.get(where(key));
      expect(s, `schema has ${key}`).not.to.equal(undefined);
      if (bound.maxItems !== undefined) expect(s?.maxItems ?? s?.maxProperties, key).to.equal(bound.maxItems);
      if (bound.maxLength !== undefined) expect(s?.maxLength, key).to.equal(bound.maxLength);
    }
  });

  it('has a schema field for every field the validator accepts, and the reverse', () => {
    const everything = validPolicies.find((p) => p.name === 'everything')?.spec;
    expect(validatePolicySpec(everything).problems).to.deep.equal([]);
    const schemaLeaves = new Set(
      walk(specSchema())
        .filter(
          ([, s]) =>
            s.properties === undefined && s.items === undefined && s.additionalProperties === undefined,
        )
        .map(([p]) => p),
    );
    const specLeaves = new Set(
      leaves(everything).map((p) =>
        p.replace(/^match\.(namespace|pod)Selector\.matchLabels\.[^.]+$/, 'match.$1Selector.matchLabels{}='),
      ),
    );
    // namespaceSelector.matchExpressions is not in the example; the pod selector's is.
    const unused = [...schemaLeaves].filter(
      (p) =>
        !specLeaves.has(p) &&
        !p.startsWith('match.namespaceSelector.matchExpressions') &&
        !p.startsWith('match.podSelector.matchLabels'),
    );
    expect(unused, 'schema fields the full example does not set').to.deep.equal([]);
    expect([...specLeaves].filter((p) => !schemaLeaves.has(p))).to.deep.equal([]);
  });

  for (const p of brokenPolicies) {
    it(`the validator rejects ${p.name} at ${p.path}`, () => {
      const problems = validatePolicySpec(p.spec).problems;
      expect(
        problems.map((x) => x.path).some((path) => path.startsWith(p.path)),
        JSON.stringify(problems),
      ).to.equal(true);
    });
  }
});

/**
 * The README's field tables (path | type | default | description), printed
 * from the generated CRDs and field-docs.ts so the README, `kubectl explain`
 * and the schema say the same. `npm run docs` (`sigwatch crds --readme
 * README.md`) rewrites the marked sections; a unit test fails when the
 * README holds anything else.
 */
import { CliError } from '../../base/errors.js';
import { durationPattern, type JsonSchema } from '../../policy/schema.js';
import type { KindDocs } from '../../policy/field-docs.js';
import { imageAuditCrd, imageAuditReportCrd, imagePolicyCrd } from './crds.js';
import { kindDocs } from './field-docs.js';

/** Enums longer than this (the reason codes) are left to the description. */
const maxEnumShown = 8;

function typeOf(s: JsonSchema): string {
  if (s.type === 'array') return `[]${s.items === undefined ? 'object' : typeOf(s.items)}`;
  if (s.type === 'object' && s.additionalProperties !== undefined)
    return `map[string]${typeOf(s.additionalProperties)}`;
  if (s.enum !== undefined && s.enum.length <= maxEnumShown) return s.enum.join(' \\| ');
  if (s.pattern === durationPattern) return 'duration';
  if (s.format === 'date-time') return 'date-time';
  return s.type ?? 'any';
}

/** Markdown that must not act: table pipes, emphasis stars, `<…>` read as HTML. */
function cell(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('*', '\\*').replaceAll('<', '&lt;');
}

/** Every field below the object's own standard ones, in schema order. */
function rows(schema: JsonSchema, docs: KindDocs, path = ''): string[] {
  const out: string[] = [];
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const p = path === '' ? key : `${path}.${key}`;
    if (path === '' && ['apiVersion', 'kind', 'metadata'].includes(key)) continue;
    const line = docs.fields[p] ?? '';
    out.push(`| \`${p}\` | ${typeOf(s)} | ${cell(docs.defaultOf(p) ?? '')} | ${cell(line)} |`);
    out.push(...rows(s, docs, p));
  }
  if (schema.items !== undefined) out.push(...rows(schema.items, docs, `${path}[]`));
  return out;
}

function rootOf(crd: object): JsonSchema {
  return (
    (crd as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } }).spec.versions[0]?.schema
      .openAPIV3Schema ?? {}
  );
}

/** One kind's table as Markdown. */
export function fieldTable(crd: object, docs: KindDocs): string {
  return ['| field | type | default | description |', '|---|---|---|---|', ...rows(rootOf(crd), docs)].join(
    '\n',
  );
}

/** The README's generated sections by marker name. */
export function readmeSections(): Record<string, string> {
  return {
    'imagepolicy-fields': fieldTable(imagePolicyCrd(), kindDocs.ImagePolicy),
    'imageaudit-fields': fieldTable(imageAuditCrd(), kindDocs.ImageAudit),
    'imageauditreport-fields': fieldTable(imageAuditReportCrd(), kindDocs.ImageAuditReport),
  };
}

/**
 * `text` with what lies between `<!-- generated:NAME -->` and the next
 * `<!-- end -->` replaced by each section.
 *
 * @throws CliError (UsageError) when a section's markers are missing or repeated
 */
export function spliceSections(text: string, sections: Readonly<Record<string, string>>): string {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const start = `<!-- generated:${name} -->\n`;
    const at = out.indexOf(start);
    const end = at < 0 ? -1 : out.indexOf('<!-- end -->', at + start.length);
    if (at < 0 || end < 0 || out.includes(start, at + 1))
      throw new CliError('UsageError', `expected one "${start.trim()}" … "<!-- end -->" section`);
    out = `${out.slice(0, at + start.length)}${body}\n\n${out.slice(end)}`;
  }
  return out;
}

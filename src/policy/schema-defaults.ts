/**
 * The ImagePolicy defaults in the CRD's structural schema, from the same
 * table the validator applies (`policyDefaults`), so they cannot drift: the
 * API server stores and shows the effective values (`kubectl get -o yaml`,
 * the Mode column), while policy files read by the CLI get the same values
 * from the validator.
 *
 * A default on a field inside an optional object only applies when that
 * object exists, so every optional object on the way down defaults to `{}`;
 * the API server then fills its fields in the same pass. An object its
 * parent requires (`match`) gets no default: it is always there.
 */
import { policyDefaults } from './spec.js';

type Defaults = Readonly<Record<string, unknown>>;

/** The part of a JSON schema (schema.ts) defaulting needs. */
interface Defaultable {
  properties?: Record<string, Defaultable>;
  required?: string[];
  default?: unknown;
}

const isPlainObject = (v: unknown): v is Defaults => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Copies `defaults` into `schema` (in place) as `default:` keys; throws on a default naming no schema field. */
export function applyDefaults<S extends Defaultable>(schema: S, defaults: Defaults, path = 'spec'): S {
  for (const [key, value] of Object.entries(defaults)) {
    const field = schema.properties?.[key];
    if (field === undefined) throw new Error(`default for ${path}.${key}, which the schema does not have`);
    if (isPlainObject(value)) {
      if (!(schema.required ?? []).includes(key)) field.default = {};
      applyDefaults(field, value, `${path}.${key}`);
    } else {
      field.default = value;
    }
  }
  return schema;
}

/**
 * The defaults the schema carries: all of `policyDefaults` except
 * `requireTransparencyLog`, whose default depends on each authority's kind
 * (keyless true, key false) and is left to the validator.
 */
export function schemaDefaults(): Defaults {
  return Object.fromEntries(
    Object.entries(policyDefaults).filter(([key]) => key !== 'requireTransparencyLog'),
  );
}

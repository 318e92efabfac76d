/**
 * One shared object per distinct component, across every SBOM in memory.
 *
 * Why: the operator keeps the SBOM of every running digest (design §7: 1,000
 * digests of 500 components within 200 MiB). Images share most of their
 * packages — the same base image, the same libraries at the same versions —
 * yet each parsed document brings its own copies of the same strings and
 * objects. Interning makes a digest's SBOM cost an array of pointers.
 *
 * Entries are held weakly: a component no SBOM refers to any more is
 * collected without any bookkeeping by callers, and its table entry is
 * swept away later (see `sweep`).
 */
import type { SbomComponent } from './model.js';
import { parsePurl, purlKey } from './purl.js';

/** A shared component with what indexing needs, computed once per distinct component. */
export interface InternedComponent {
  readonly component: SbomComponent;
  /** purlKey of its purl, when that parses (the package deny rules look up). */
  readonly packageKey: string | undefined;
}

const sameLicenses = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((l, i) => l === b[i]);

const sameComponent = (a: SbomComponent, b: SbomComponent): boolean =>
  a.name === b.name && a.version === b.version && a.purl === b.purl && sameLicenses(a.licenses, b.licenses);

/**
 * The table's key: the purl, or the name without one. It is the shared
 * component's own string, so the table adds no string per component (a key
 * joining every field cost about as much as the component itself); the few
 * components sharing a key are told apart field by field.
 */
const keyOf = (c: SbomComponent): string => c.purl ?? c.name;

/** Most keys name one component: its reference alone, not an array of one. */
type Bucket = WeakRef<SbomComponent> | readonly WeakRef<SbomComponent>[];

const refsOf = (bucket: Bucket | undefined): readonly WeakRef<SbomComponent>[] =>
  bucket === undefined ? [] : bucket instanceof WeakRef ? [bucket] : bucket;

/** Documents repeat a few license lists over thousands of components: one frozen array each. */
const noLicenses: readonly string[] = Object.freeze([]);

/** The table is swept once it has grown by this factor since the last sweep (and holds this many keys). */
const sweepGrowth = 2;
const sweepFloor = 1024;

export class ComponentInterner {
  /** Held weakly by the component itself, which is what SBOMs keep. */
  private readonly table = new Map<string, Bucket>();
  /** Ephemeron: an entry lives exactly as long as its component. */
  private readonly entries = new WeakMap<SbomComponent, InternedComponent>();
  /** License lists by their entries joined with NUL, held weakly like the components. */
  private readonly licenseLists = new Map<string, WeakRef<readonly string[]>>();
  private sweptAt = 0;

  intern(component: SbomComponent): InternedComponent {
    const key = keyOf(component);
    const bucket = this.table.get(key);
    for (const ref of refsOf(bucket)) {
      const alive = ref.deref();
      const found =
        alive !== undefined && sameComponent(alive, component) ? this.entries.get(alive) : undefined;
      if (found !== undefined) return found;
    }
    const shared: SbomComponent = Object.freeze({
      name: component.name,
      ...(component.version === undefined ? {} : { version: component.version }),
      ...(component.purl === undefined ? {} : { purl: component.purl }),
      licenses: this.licenses(component.licenses),
    });
    const purl = shared.purl === undefined ? undefined : parsePurl(shared.purl);
    const entry: InternedComponent = {
      component: shared,
      packageKey: purl === undefined ? undefined : purlKey(purl),
    };
    const ref = new WeakRef(shared);
    this.table.set(key, bucket === undefined ? ref : [...refsOf(bucket), ref]);
    this.entries.set(shared, entry);
    if (this.table.size >= Math.max(sweepFloor, this.sweptAt * sweepGrowth)) this.sweep();
    return entry;
  }

  /** Distinct components in the table (some may be dead but not yet swept). */
  get size(): number {
    let n = 0;
    for (const bucket of this.table.values()) n += refsOf(bucket).length;
    return n;
  }

  private licenses(licenses: readonly string[]): readonly string[] {
    if (licenses.length === 0) return noLicenses;
    const key = licenses.join('\u0000');
    const found = this.licenseLists.get(key)?.deref();
    if (found !== undefined && sameLicenses(found, licenses)) return found;
    const list = Object.freeze([...licenses]);
    this.licenseLists.set(key, new WeakRef(list));
    return list;
  }

  /**
   * Drops the entries of collected components. Done when the table has
   * doubled since the last sweep rather than by a FinalizationRegistry,
   * whose record per component cost more than the component: the dead
   * entries kept meanwhile are at most as many as the live ones were.
   */
  private sweep(): void {
    for (const [key, bucket] of this.table) {
      const alive = refsOf(bucket).filter((ref) => ref.deref() !== undefined);
      const [only, ...more] = alive;
      if (only === undefined) this.table.delete(key);
      else if (alive.length !== refsOf(bucket).length) this.table.set(key, more.length === 0 ? only : alive);
    }
    for (const [key, ref] of this.licenseLists) if (ref.deref() === undefined) this.licenseLists.delete(key);
    this.sweptAt = this.table.size;
  }
}

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
 * collected, and its table entry removed, without any bookkeeping by callers.
 */
import type { SbomComponent } from './model.js';
import { parsePurl, purlKey } from './purl.js';

/** A shared component with what indexing needs, computed once per distinct component. */
export interface InternedComponent {
  readonly component: SbomComponent;
  /** purlKey of its purl, when that parses (the package deny rules look up). */
  readonly packageKey: string | undefined;
}

/** Fields joined by NUL (absent ones as U+0001): a collision needs a name or version containing NUL. */
const identity = (c: SbomComponent): string =>
  [c.name, c.version ?? '\u0001', c.purl ?? '\u0001', ...c.licenses].join('\u0000');

export class ComponentInterner {
  /** Held weakly by the component itself, which is what SBOMs keep. */
  private readonly table = new Map<string, WeakRef<SbomComponent>>();
  /** Ephemeron: an entry lives exactly as long as its component. */
  private readonly entries = new WeakMap<SbomComponent, InternedComponent>();
  private readonly cleanup = new FinalizationRegistry<string>((key) => {
    // The key may have been re-used by a newer component since this one died.
    if (this.table.get(key)?.deref() === undefined) this.table.delete(key);
  });

  intern(component: SbomComponent): InternedComponent {
    const key = identity(component);
    const alive = this.table.get(key)?.deref();
    const found = alive === undefined ? undefined : this.entries.get(alive);
    if (found !== undefined) return found;
    const shared: SbomComponent = Object.freeze({
      name: component.name,
      ...(component.version === undefined ? {} : { version: component.version }),
      ...(component.purl === undefined ? {} : { purl: component.purl }),
      licenses: Object.freeze([...component.licenses]),
    });
    const purl = shared.purl === undefined ? undefined : parsePurl(shared.purl);
    const entry: InternedComponent = {
      component: shared,
      packageKey: purl === undefined ? undefined : purlKey(purl),
    };
    this.table.set(key, new WeakRef(shared));
    this.entries.set(shared, entry);
    this.cleanup.register(shared, key);
    return entry;
  }

  /** Distinct components in the table (some may be dead but not yet cleaned up). */
  get size(): number {
    return this.table.size;
  }
}

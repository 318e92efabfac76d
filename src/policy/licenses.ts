/**
 * `sbom.deny.licenses` against a component's licenses, which SBOMs give as
 * SPDX license expressions (`MIT OR GPL-2.0-only`), bare ids, or free text.
 *
 * An expression is denied only when it cannot be satisfied without a denied
 * license: `A OR B` is denied when both sides are, `A AND B` when either is,
 * `A WITH exception` when `A` is. A dual-licensed package (`MIT OR
 * AGPL-3.0-only`) may be used under MIT, so denying AGPL does not deny it.
 * SPDX ids compare case-insensitively (SPDX spec, annex D); `GPL-2.0+` is
 * `GPL-2.0` "or later" and is denied by a rule naming `GPL-2.0+` or `GPL-2.0`.
 * Text that is not an expression (e.g. "Apache License 2.0") is compared as
 * one whole string, and any denied id inside it still counts.
 */

export interface LicenseDenyList {
  /** Lower-cased denied ids. */
  readonly ids: ReadonlySet<string>;
}

export function compileLicenseDenyList(ids: readonly string[]): LicenseDenyList {
  return { ids: new Set(ids.map((id) => id.trim().toLowerCase())) };
}

type Expr =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'and' | 'or'; readonly left: Expr; readonly right: Expr };

/** Expressions are short; a hostile SBOM cannot make parsing deep. */
const maxTokens = 256;

/** Recursive descent: or := and (OR and)*; and := unit (AND unit)*; unit := id [WITH id] | ( or ). */
class Parser {
  private pos = 0;
  constructor(private readonly tokens: readonly string[]) {}

  parse(): Expr | undefined {
    const e = this.or(0);
    return e !== undefined && this.pos === this.tokens.length ? e : undefined;
  }

  private peekWord(): string | undefined {
    return this.tokens[this.pos]?.toUpperCase();
  }

  private or(depth: number): Expr | undefined {
    let left = this.and(depth);
    while (left !== undefined && this.peekWord() === 'OR') {
      this.pos++;
      const right = this.and(depth);
      left = right === undefined ? undefined : { kind: 'or', left, right };
    }
    return left;
  }

  private and(depth: number): Expr | undefined {
    let left = this.unit(depth);
    while (left !== undefined && this.peekWord() === 'AND') {
      this.pos++;
      const right = this.unit(depth);
      left = right === undefined ? undefined : { kind: 'and', left, right };
    }
    return left;
  }

  private unit(depth: number): Expr | undefined {
    const token = this.tokens[this.pos];
    if (token === undefined || depth > 32) return undefined;
    if (token === '(') {
      this.pos++;
      const inner = this.or(depth + 1);
      if (inner === undefined || this.tokens[this.pos] !== ')') return undefined;
      this.pos++;
      return inner;
    }
    if (token === ')' || ['AND', 'OR', 'WITH'].includes(token.toUpperCase())) return undefined;
    this.pos++;
    if (this.peekWord() === 'WITH') {
      // The exception only grants more rights; the base license decides.
      this.pos++;
      const exception = this.tokens[this.pos];
      if (exception === undefined || exception === '(' || exception === ')') return undefined;
      this.pos++;
    }
    return { kind: 'id', id: token };
  }
}

function idDenied(list: LicenseDenyList, id: string): string | undefined {
  const lower = id.toLowerCase();
  if (list.ids.has(lower)) return id;
  if (lower.endsWith('+') && list.ids.has(lower.slice(0, -1))) return id;
  return undefined;
}

/** The denied ids that make `e` unsatisfiable, or empty when some choice avoids them all. */
function denied(list: LicenseDenyList, e: Expr): string[] {
  switch (e.kind) {
    case 'id': {
      const hit = idDenied(list, e.id);
      return hit === undefined ? [] : [hit];
    }
    case 'and':
      return [...denied(list, e.left), ...denied(list, e.right)];
    case 'or': {
      const left = denied(list, e.left);
      const right = denied(list, e.right);
      return left.length > 0 && right.length > 0 ? [...left, ...right] : [];
    }
  }
}

/**
 * The denied licenses that `license` (one entry of a component's
 * `licenses`) cannot avoid; empty when it is acceptable.
 */
export function deniedLicenses(list: LicenseDenyList, license: string): string[] {
  if (list.ids.size === 0) return [];
  const whole = idDenied(list, license.trim());
  if (whole !== undefined) return [whole];
  const tokens = license.match(/\(|\)|[^\s()]+/g) ?? [];
  const expr = tokens.length === 0 || tokens.length > maxTokens ? undefined : new Parser(tokens).parse();
  if (expr !== undefined) return [...new Set(denied(list, expr))];
  // Not an expression we can read (malformed, or too long): a denied id anywhere in it counts, so a
  // broken expression never hides a denied licence. Free text without one is not denied.
  return [...new Set(tokens.flatMap((t) => idDenied(list, t) ?? []))];
}

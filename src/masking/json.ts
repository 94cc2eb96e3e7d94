// Masking of parsed JSON (API bodies, MCP tool results): a value under a key that a
// column rule names (`password`, `*_token`, `ssn`) is replaced whole; every other string
// is scanned. Objects and arrays are copied only along the paths that changed, so an
// untouched document comes back as the same object.
import { builtinApplies, guessEntity, type ColumnInfo, type CompiledRule } from './columns.ts';
import type { Entity } from './entities.ts';
import type { Style, Stylist } from './styles.ts';
import type { TextMasker } from './text.ts';

export interface JsonMaskerParts {
  text: TextMasker;
  stylist: Stylist;
  /** name-only rules (a JSON key has no table) */
  rules: CompiledRule[];
  styleOf(entity: Entity): Style;
}

const MAX_DEPTH = 200;

export function maskJsonValue(value: unknown, p: JsonMaskerParts, depth = 0): unknown {
  if (typeof value === 'string') return p.text.mask(value);
  if (typeof value === 'number') {
    // A card or phone stored as a JSON number; short numbers cannot be one.
    if (!(Math.abs(value) >= 1e6)) return value;
    const s = String(value);
    const m = p.text.mask(s);
    return m === s ? value : m;
  }
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const m = maskJsonValue(value[i], p, depth + 1);
      if (m !== value[i]) {
        out ??= value.slice();
        out[i] = m;
      }
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | null = null;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    const m = maskByKey(key, v, p) ?? maskJsonValue(v, p, depth + 1);
    if (m !== v) {
      out ??= { ...obj };
      out[key] = m;
    }
  }
  return out ?? value;
}

/** The whole value under a key a rule masks; undefined when no rule applies. */
function maskByKey(key: string, v: unknown, p: JsonMaskerParts): unknown {
  if (v === null || v === undefined || typeof v === 'object' || v === '') return undefined;
  const col: ColumnInfo = { name: key };
  const rule = p.rules.find((r) => r.test(col));
  if (!rule || rule.action !== 'mask') return undefined;
  // As for typed columns: a number or flag under `password_attempts` / `token_expired` is a fact, not the secret.
  if (rule.builtin && typeof v !== 'string' && !builtinApplies(rule, 'number')) return undefined;
  const entity = rule.entity ?? guessEntity(key);
  return p.stylist.render(entity, String(v), rule.style ?? p.styleOf(entity));
}

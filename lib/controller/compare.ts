/**
 * Drift detection without managedFields bookkeeping: an object needs applying when some field of the
 * desired object has a different value in the live one. Fields only the live object has (defaults the
 * API server filled in, fields of other managers) are not ours and are ignored, as server-side apply
 * would leave them alone too.
 */
import { quantityValue } from '../spec/validate';

/** Map keys whose values are resource quantities, which the API server re-renders (1000m → 1). */
const QUANTITY_MAPS = new Set(['limits', 'requests']);
const QUANTITY_FIELDS = new Set(['divisor', 'sizeLimit']);
/**
 * Plain (non-pointer) Go bools with omitempty in the kinds we apply: the API server drops them when
 * false. Pointer bools (automountServiceAccountToken, privileged…) keep an explicit false, and a
 * missing one there means "default", which may be true — so those must stay strict.
 */
const OMITTED_WHEN_FALSE = new Set(['hostNetwork', 'hostPID', 'hostIPC', 'stdin', 'stdinOnce', 'tty', 'readOnly']);

/** The dotted path of the first desired field the live object does not match, or undefined. */
export function firstDifference(desired: unknown, live: unknown, path = ''): string | undefined {
  if (desired === undefined) return undefined;
  if (Array.isArray(desired)) {
    if (live === undefined && desired.length === 0) return undefined;
    if (!Array.isArray(live) || live.length !== desired.length) return path || '.';
    for (let i = 0; i < desired.length; i++) {
      const diff = firstDifference(desired[i], live[i], `${path}[${i}]`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  if (isObject(desired)) {
    const keys = Object.keys(desired);
    // Empty maps are omitted from what the API server returns.
    if (live === undefined && keys.length === 0) return undefined;
    if (!isObject(live)) return path || '.';
    const quantities = QUANTITY_MAPS.has(lastSegment(path));
    for (const key of keys) {
      const childPath = path ? `${path}.${key}` : key;
      if (desired[key] === false && live[key] === undefined && OMITTED_WHEN_FALSE.has(key)) continue;
      const diff = quantities || QUANTITY_FIELDS.has(key)
        ? sameQuantity(desired[key], live[key]) ? undefined : childPath
        : firstDifference(desired[key], live[key], childPath);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  if (desired === live) return undefined;
  // Go's omitempty drops zero numbers and empty strings (e.g. minReadySeconds: 0).
  if (live === undefined && (desired === 0 || desired === '')) return undefined;
  return path || '.';
}

function sameQuantity(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if ((typeof desired !== 'string' && typeof desired !== 'number') || (typeof live !== 'string' && typeof live !== 'number')) return false;
  const a = quantityValue(desired);
  const b = quantityValue(live);
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/** Order-insensitive deep equality of JSON values (for status comparisons). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

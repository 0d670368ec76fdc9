/**
 * Brings every published server.json shape to the one in ./types.ts. The 2025-07-09 schema spelled
 * keys in snake_case (`registry_type`, `environment_variables`, `is_secret`, ...); later schemas use
 * camelCase, and real documents even mix the two (headers with `is_required` in a camelCase file).
 * Renaming keys is the whole difference between the released schemas for the fields we read, so it is
 * done once here, instead of every reader checking both spellings.
 */
import { ServerJson } from './types';

/** Thrown when a document lacks what every schema version requires; callers wrap it with context. */
export class ServerJsonShapeError extends Error {}

const SNAKE_KEY = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;

function camel(key: string): string {
  return SNAKE_KEY.test(key) ? key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()) : key;
}

/**
 * `variables` maps are keyed by names the publisher chose (`source_path` is referenced as
 * `{source_path}`), so their keys must survive; `_meta` belongs to other tools and is kept verbatim.
 */
function renameKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => renameKeys(v));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  // camelCase keys first so that, should a document carry both spellings, the newer one wins.
  entries.sort(([a], [b]) => Number(SNAKE_KEY.test(b)) - Number(SNAKE_KEY.test(a)));
  for (const [key, child] of entries) {
    const name = camel(key);
    if (name in out) continue;
    if (key === '_meta') out[name] = child;
    else if (name === 'variables') out[name] = mapValues(child);
    else out[name] = renameKeys(child);
  }
  return out;
}

function mapValues(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renameKeys(v)]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function normalizeServerJson(raw: unknown): ServerJson {
  if (!isObject(raw)) throw new ServerJsonShapeError('server.json is not a JSON object');
  const doc = renameKeys(raw) as Record<string, unknown>;
  if (typeof doc.name !== 'string' || doc.name === '') throw new ServerJsonShapeError('server.json has no name');
  if (typeof doc.version !== 'string' || doc.version === '') throw new ServerJsonShapeError(`server.json of ${doc.name} has no version`);
  if (doc.packages !== undefined) checkPackages(doc.packages);
  if (doc.remotes !== undefined && (!Array.isArray(doc.remotes) || !doc.remotes.every(isObject))) {
    throw new ServerJsonShapeError(`server.json of ${doc.name}: remotes is not a list of objects`);
  }
  return doc as unknown as ServerJson;
}

function checkPackages(value: unknown): void {
  if (!Array.isArray(value)) throw new ServerJsonShapeError('server.json packages is not a list');
  value.forEach((p: unknown, i) => {
    if (!isObject(p) || typeof p.registryType !== 'string' || typeof p.identifier !== 'string') {
      throw new ServerJsonShapeError(`server.json packages[${i}] needs registryType and identifier`);
    }
    if (p.transport !== undefined && !(isObject(p.transport) && typeof p.transport.type === 'string')) {
      throw new ServerJsonShapeError(`server.json packages[${i}].transport needs a type`);
    }
  });
}

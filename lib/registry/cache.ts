/**
 * A disk cache of registry answers, so repeated runs are fast, work offline, and do not spend the
 * hosted registry's rate limit. Two lifetimes:
 * - a published `name@version` is immutable in the registry, so it is kept with no expiry (this is what
 *   lets a pinned lockfile work with no network at all);
 * - answers that move (`latest`, version lists, searches) expire after a TTL (default 1 h), and an
 *   expired one still serves when the registry cannot be reached, with a warning.
 */
import { createHash, randomBytes } from 'crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs';
import { homedir } from 'os';
import { join } from 'path';

export const DEFAULT_TTL_MS = 60 * 60 * 1000;

export type CacheKind = 'version' | 'latest' | 'versions' | 'list' | 'status';

export interface CacheEntry<T> {
  readonly storedAt: number;
  readonly value: T;
}

/**
 * What the registry source needs of a cache: the one abstraction behind every lookup of the resolver,
 * the CLI and the controller alike. `RegistryCache` keeps entries on disk; a library user may supply
 * any other store with these semantics (entries keyed by registry, kind and key; `version` entries
 * never expire).
 */
export interface AnswerCache {
  /** Where entries live, for messages (a directory). */
  readonly location: string;
  /** The entry whatever its age, or undefined; an unreadable entry counts as a miss. */
  read<T>(registry: string, kind: CacheKind, key: string): CacheEntry<T> | undefined;
  isFresh(entry: CacheEntry<unknown>, kind: CacheKind): boolean;
  write(registry: string, kind: CacheKind, key: string, value: unknown): void;
}

export interface RegistryCacheOptions {
  readonly dir?: string;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/registry` */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), '.cache');
  return join(base, 'mcp-operator', 'registry');
}

export class RegistryCache implements AnswerCache {
  public readonly dir: string;
  public readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: RegistryCacheOptions = {}) {
    this.dir = options.dir ?? defaultCacheDir();
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  public get location(): string {
    return this.dir;
  }

  /** The entry whatever its age, or undefined; an unreadable file counts as a miss. */
  public read<T>(registry: string, kind: CacheKind, key: string): CacheEntry<T> | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(registry, kind, key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = JSON.parse(text) as { storedAt?: unknown; key?: unknown; value?: unknown };
      // The key is stored too: file names of very long keys are hashes, and must not alias.
      if (typeof parsed.storedAt !== 'number' || parsed.key !== key || parsed.value === undefined) return undefined;
      return { storedAt: parsed.storedAt, value: parsed.value as T };
    } catch {
      return undefined;
    }
  }

  public isFresh(entry: CacheEntry<unknown>, kind: CacheKind): boolean {
    return kind === 'version' || this.now() - entry.storedAt < this.ttlMs;
  }

  /** Written to a temporary file and renamed, so a reader never sees half an entry. */
  public write(registry: string, kind: CacheKind, key: string, value: unknown): void {
    const file = this.path(registry, kind, key);
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      writeFileSync(temp, `${JSON.stringify({ storedAt: this.now(), key, value })}\n`, { mode: 0o600 });
      renameSync(temp, file);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }

  public path(registry: string, kind: CacheKind, key: string): string {
    return join(this.dir, registryDir(registry), kind, fileName(key));
  }
}

/** Readable for humans who look into the cache, unique per base URL. */
function registryDir(registry: string): string {
  const url = new URL(registry);
  const readable = `${url.hostname}${url.port ? `_${url.port}` : ''}`.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${readable}-${sha256(registry).slice(0, 12)}`;
}

function fileName(key: string): string {
  const encoded = encodeURIComponent(key);
  // Names may be 200 characters and versions 255: past common file name limits once encoded.
  return encoded.length <= 180 ? `${encoded}.json` : `${sha256(key)}.json`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

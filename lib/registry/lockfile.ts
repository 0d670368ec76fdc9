/**
 * `mcp-lock.yaml`: what each registry reference resolved to, so that `latest` is resolved once and
 * every later run deploys the same thing, and a server.json that changed under a pinned version is
 * noticed (by its sha256) instead of deployed.
 */
import { createHash, randomBytes } from 'crypto';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'fs';
import { dirname, join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { ServerJson } from './types';

export const LOCKFILE_NAME = 'mcp-lock.yaml';
const LOCKFILE_VERSION = 1;

export interface LockEntry {
  /** Base URL of the registry the server came from. */
  readonly registry: string;
  readonly name: string;
  /** What the MCPServer asked for: `latest` or an exact version. */
  readonly requested: string;
  /** The server version it resolved to. */
  readonly version: string;
  readonly packageType: string;
  readonly identifier: string;
  readonly packageVersion?: string;
  /** `sha256:<hex>` of the server.json (see `serverDigest`). */
  readonly sha256: string;
}

export interface LockChange {
  readonly key: string;
  readonly old?: LockEntry;
  readonly new: LockEntry;
}

/** A lockfile that cannot be read as one: never silently replaced, since it may hold pins worth keeping. */
export class LockfileError extends Error {
  constructor(public readonly file: string, message: string) {
    super(message);
    this.name = 'LockfileError';
  }
}

const HEADER = `# Written by mcp-operator: the MCP Registry versions each MCPServer resolved to.
# Commit this file. Run with --update to re-resolve "latest" and move the pins.
`;

export class Lockfile {
  /** A missing file is an empty lockfile. */
  public static read(path: string): Lockfile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Lockfile(path);
      throw new LockfileError(path, `cannot read the lockfile: ${(err as Error).message}`);
    }
    return new Lockfile(path, parseEntries(path, text));
  }

  private readonly entries = new Map<string, LockEntry>();

  constructor(public readonly path: string, entries: readonly LockEntry[] = []) {
    for (const e of entries) this.entries.set(entryKey(e.registry, e.name, e.requested), e);
  }

  public get(registry: string, name: string, requested: string): LockEntry | undefined {
    return this.entries.get(entryKey(registry, name, requested));
  }

  public get size(): number {
    return this.entries.size;
  }

  /** Records an entry and says what it replaced, if anything changed. */
  public set(entry: LockEntry): LockChange | undefined {
    const key = entryKey(entry.registry, entry.name, entry.requested);
    const old = this.entries.get(key);
    this.entries.set(key, entry);
    return old && sameEntry(old, entry) ? undefined : { key, old, new: entry };
  }

  /** Stable text: entries sorted, so the same pins always give the same bytes. */
  public toYaml(): string {
    const servers = [...this.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => ordered(e));
    return HEADER + yaml.dump({ lockfileVersion: LOCKFILE_VERSION, servers }, { lineWidth: -1, noRefs: true, quotingType: '"' });
  }

  /** Atomic: a crash leaves the old lockfile or the new one, never half of one. */
  public write(): void {
    const temp = `${this.path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      writeFileSync(temp, this.toYaml());
      renameSync(temp, this.path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }
}

function entryKey(registry: string, name: string, requested: string): string {
  return `${registry} ${name}@${requested}`;
}

function sameEntry(a: LockEntry, b: LockEntry): boolean {
  return JSON.stringify(ordered(a)) === JSON.stringify(ordered(b));
}

function ordered(e: LockEntry): LockEntry {
  return {
    registry: e.registry,
    name: e.name,
    requested: e.requested,
    version: e.version,
    packageType: e.packageType,
    identifier: e.identifier,
    ...(e.packageVersion !== undefined ? { packageVersion: e.packageVersion } : {}),
    sha256: e.sha256,
  };
}

const REQUIRED_FIELDS = ['registry', 'name', 'requested', 'version', 'packageType', 'identifier', 'sha256'] as const;

function parseEntries(path: string, text: string): LockEntry[] {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new LockfileError(path, `malformed lockfile: ${(err as yaml.YAMLException).reason ?? (err as Error).message}`);
  }
  if (doc === undefined || doc === null) return [];
  const root = doc as { lockfileVersion?: unknown; servers?: unknown };
  if (typeof doc !== 'object' || root.lockfileVersion !== LOCKFILE_VERSION || !Array.isArray(root.servers)) {
    throw new LockfileError(path, `not an mcp-operator lockfile (expected lockfileVersion: ${LOCKFILE_VERSION} and a servers list); fix or delete it`);
  }
  return root.servers.map((raw: unknown, i) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    const missing = REQUIRED_FIELDS.filter((f) => typeof e[f] !== 'string' || e[f] === '');
    if (missing.length > 0) throw new LockfileError(path, `servers[${i}] lacks ${missing.join(', ')}; fix or delete the lockfile`);
    if (!/^sha256:[0-9a-f]{64}$/.test(String(e.sha256))) throw new LockfileError(path, `servers[${i}].sha256 must be sha256:<64 hex digits>`);
    return e as unknown as LockEntry;
  });
}

/**
 * `sha256:` of the server.json as canonical JSON (keys sorted, no whitespace), so the digest names the
 * document's content, not how one HTTP answer happened to lay it out.
 */
export function serverDigest(server: ServerJson): string {
  return `sha256:${createHash('sha256').update(canonicalJson(server)).digest('hex')}`;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Beside the first input file (inside it when it is a directory); in `cwd` for stdin or no input, since
 * a lockfile belongs with the manifests it pins.
 */
export function defaultLockfilePath(inputs: readonly string[] | undefined, cwd: string = process.cwd()): string {
  const first = inputs?.[0];
  if (first === undefined || first === '-') return join(cwd, LOCKFILE_NAME);
  const full = resolve(cwd, first);
  try {
    if (statSync(full).isDirectory()) return join(full, LOCKFILE_NAME);
  } catch {
    // a missing input is reported by the reader; put the lockfile where the file would be
  }
  return join(dirname(full), LOCKFILE_NAME);
}

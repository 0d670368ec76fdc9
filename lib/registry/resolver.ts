/**
 * Turns MCPServers that name a registry server into fully specified ones: lockfile first (so `latest`
 * is resolved once), then the cache, then the registry. All or nothing: every problem of every resource
 * is collected into one InvalidInputError, and the lockfile is written only when all of them resolved
 * and synthesize.
 */
import { relative } from 'path';
import { API_GROUP, API_VERSION, KIND } from '../spec/mcpserver';
import { checkResource, InvalidInputError, Problem } from '../spec/validate';
import { desired, ValidatedResource } from '../synth';
import { RegistryCache } from './cache';
import { normalizeBaseUrl, RegistryClient, RegistryClientOptions } from './client';
import { MappingError, NotDeployableError, RegistryError } from './errors';
import { LockChange, LockEntry, Lockfile, LockfileError, serverDigest } from './lockfile';
import { mapServer } from './mapping';
import { RegistrySource } from './source';
import { DEFAULT_REGISTRY_URL, ServerResponse } from './types';

export interface ResolveOptions {
  /** For resources without `spec.registry.url`. Default https://registry.modelcontextprotocol.io. */
  readonly registryUrl?: string;
  /** Use only the lockfile and the cache. */
  readonly offline?: boolean;
  /** Re-resolve `latest` even when the lockfile pins it, and report what moved. */
  readonly update?: boolean;
  readonly lockfile: string;
  /** Default `${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/registry`. */
  readonly cacheDir?: string;
  readonly cacheTtlMs?: number;
  /** Transport knobs (fetch, timeouts, retries); tests inject these. */
  readonly client?: Omit<RegistryClientOptions, 'baseUrl' | 'onWarning'>;
  readonly warn: (message: string) => void;
  /** Lockfile news (new pins, changes under --update). */
  readonly info: (message: string) => void;
  /** False for `validate`: resolve and check, but leave the lockfile as it is. @default true */
  readonly writeLockfile?: boolean;
}

export interface Resolution {
  readonly resources: ValidatedResource[];
  readonly changes: readonly LockChange[];
}

/** The server.json behind a pinned version is not the one the lockfile recorded. */
export class LockMismatchError extends Error {}

export async function resolveRegistryResources(resources: readonly ValidatedResource[], options: ResolveOptions): Promise<Resolution> {
  if (!resources.some((r) => r.resource.spec.registry)) return { resources: [...resources], changes: [] };
  const lock = readLock(options.lockfile);
  const resolver = new Resolver(options, lock);
  const problems: Problem[] = [];
  const out: ValidatedResource[] = [];
  const changes: LockChange[] = [];
  for (const v of resources) {
    if (!v.resource.spec.registry) {
      out.push(v);
      continue;
    }
    try {
      const { resolved, change } = await resolver.resolve(v);
      out.push(resolved);
      if (change) changes.push(change);
    } catch (err) {
      problems.push(...asProblems(err, v));
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  if (changes.length > 0 && options.writeLockfile !== false) lock.write();
  report(changes, lock, options);
  return { resources: out, changes };
}

class Resolver {
  private readonly cache: RegistryCache;
  private readonly sources = new Map<string, RegistrySource>();

  constructor(private readonly options: ResolveOptions, private readonly lock: Lockfile) {
    this.cache = new RegistryCache({ dir: options.cacheDir, ttlMs: options.cacheTtlMs });
  }

  public async resolve(v: ValidatedResource): Promise<{ resolved: ValidatedResource; change?: LockChange }> {
    const { metadata, spec } = v.resource;
    const ref = spec.registry!;
    const source = this.source(ref.url ?? this.options.registryUrl ?? DEFAULT_REGISTRY_URL);
    const requested = ref.version ?? 'latest';
    const pinned = this.options.update ? undefined : this.lock.get(source.registry, ref.name, requested);
    const response = pinned
      ? await this.pinned(source, pinned)
      : await source.getVersion(ref.name, requested, { refresh: this.options.update === true && requested === 'latest' });
    if (response.server.name !== ref.name) {
      throw new RegistryError('malformed', `asked the registry at ${source.registry} for ${ref.name} and got ${response.server.name}`, { server: ref.name });
    }
    const mapped = mapServer(response.server, spec);
    const label = `${v.origin.file} (${metadata.name})`;
    for (const w of mapped.warnings) this.options.warn(`${label}: ${ref.name}@${response.server.version}: ${w}`);
    // The synthesized objects record the exact version they came from, whatever the reference asked for.
    const pinnedSpec = { ...mapped.spec, registry: { ...ref, version: response.server.version } };
    const resolved = checked(v, pinnedSpec, `${ref.name}@${response.server.version}`);
    const change = this.lock.set({
      registry: source.registry,
      name: ref.name,
      requested,
      version: response.server.version,
      packageType: mapped.package.registryType,
      identifier: mapped.package.identifier,
      packageVersion: mapped.packageVersion,
      sha256: serverDigest(response.server),
    });
    return { resolved, change };
  }

  /** The pinned version, its status re-checked now and then, and its document checked against the pinned digest. */
  private async pinned(source: RegistrySource, entry: LockEntry): Promise<ServerResponse> {
    const fresh = await source.revalidate(entry.name, entry.version);
    let response = fresh ?? await source.getVersion(entry.name, entry.version);
    if (serverDigest(response.server) !== entry.sha256 && !fresh && !this.options.offline) {
      // A damaged or outdated cached copy must not decide: the registry's copy does.
      response = await source.getVersion(entry.name, entry.version, { refresh: true });
    }
    const actual = serverDigest(response.server);
    if (actual === entry.sha256) return response;
    throw new LockMismatchError(
      `${entry.name}@${entry.version}: the server.json from ${source.registry} (${actual}) is not the one pinned in ${displayPath(this.lock.path)} (${entry.sha256}); `
      + 'a published version should never change, so check the registry, then run with --update to accept it',
    );
  }

  private source(url: string): RegistrySource {
    const registry = normalizeBaseUrl(url);
    let source = this.sources.get(registry);
    if (!source) {
      source = new RegistrySource({
        client: new RegistryClient({ ...this.options.client, baseUrl: registry, onWarning: this.options.warn }),
        cache: this.cache,
        offline: this.options.offline,
        warn: this.options.warn,
      });
      this.sources.set(registry, source);
    }
    return source;
  }
}

/**
 * The resolved spec passes the same validation as a hand-written one, and must synthesize: a lockfile
 * is only written for inputs that produce manifests.
 */
function checked(v: ValidatedResource, spec: ValidatedResource['resource']['spec'], what: string): ValidatedResource {
  const { metadata } = v.resource;
  const { resource, issues } = checkResource({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata, spec });
  if (!resource) {
    throw new InvalidInputError(issues.map((i) => ({ origin: v.origin, name: metadata.name, path: i.path || undefined, message: `${i.message} (after resolving ${what})` })));
  }
  try {
    desired(resource);
  } catch (err) {
    throw new InvalidInputError([{ origin: v.origin, name: metadata.name, message: `${what} does not synthesize: ${(err as Error).message}` }]);
  }
  return { origin: v.origin, resource };
}

const PATH_OF_KIND: Partial<Record<RegistryError['kind'], string>> = {
  'not-found': 'spec.registry.name',
  'unknown-version': 'spec.registry.version',
  'deleted': 'spec.registry.version',
};

function asProblems(err: unknown, v: ValidatedResource): Problem[] {
  const base = { origin: v.origin, name: v.resource.metadata.name };
  if (err instanceof InvalidInputError) return [...err.problems];
  if (err instanceof MappingError) {
    const what = `${err.server}@${err.version}`;
    return err.problems.map((p) => ({ ...base, path: p.path, message: p.message.includes(what) ? p.message : `${p.message} (${what})` }));
  }
  if (err instanceof NotDeployableError) return [{ ...base, path: 'spec.registry.name', message: err.message }];
  if (err instanceof RegistryError) return [{ ...base, path: PATH_OF_KIND[err.kind] ?? 'spec.registry', message: err.message }];
  if (err instanceof LockMismatchError) return [{ ...base, path: 'spec.registry.version', message: err.message }];
  if (err instanceof RangeError) return [{ ...base, path: 'spec.registry.url', message: err.message }];
  throw err;
}

function readLock(path: string): Lockfile {
  try {
    return Lockfile.read(path);
  } catch (err) {
    if (err instanceof LockfileError) throw new InvalidInputError([{ origin: { file: displayPath(err.file), index: 0 }, message: err.message }]);
    throw err;
  }
}

function report(changes: readonly LockChange[], lock: Lockfile, options: ResolveOptions): void {
  const file = displayPath(lock.path);
  for (const c of changes) options.info(`${file}: ${describeChange(c)}`);
  if (options.update && changes.length === 0) options.info(`${file}: up to date (${lock.size} pinned)`);
}

export function describeChange(c: LockChange): string {
  const subject = `${c.new.name} (${c.new.requested})`;
  if (!c.old) return `${subject}: pinned ${c.new.version} (${c.new.packageType} ${c.new.identifier}${c.new.packageVersion ? ` ${c.new.packageVersion}` : ''})`;
  const parts: string[] = [];
  if (c.old.version !== c.new.version) parts.push(`${c.old.version} → ${c.new.version}`);
  const oldPkg = `${c.old.packageType} ${c.old.identifier} ${c.old.packageVersion ?? ''}`.trim();
  const newPkg = `${c.new.packageType} ${c.new.identifier} ${c.new.packageVersion ?? ''}`.trim();
  if (oldPkg !== newPkg) parts.push(`package ${oldPkg} → ${newPkg}`);
  if (parts.length === 0 && c.old.sha256 !== c.new.sha256) parts.push(`server.json ${c.old.sha256.slice(0, 19)}… → ${c.new.sha256.slice(0, 19)}…`);
  return `${subject}: ${parts.join('; ')}`;
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || rel === '' ? file : rel;
}

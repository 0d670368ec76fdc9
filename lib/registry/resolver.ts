/**
 * The one registry resolver: turns an MCPServer that names a registry server into a fully specified
 * one, for the CLI (`synth`, `validate`, `init`), the controller and library users alike.
 *
 * One resolution, whoever asks: the pin store first (so `latest` is resolved once), then the cache,
 * then the registry; the server.json is mapped onto the user's spec and the result passes the same
 * validation as a hand-written resource. What differs between callers is only where pins live (a
 * `PinStore`, ./pins.ts), which registries may be asked (an allow-list, for the controller: a tenant
 * writes `spec.registry.url`), and how problems are reported (see `resolveRegistryResources` for the
 * CLI's batch, and lib/controller/resolve.ts for the controller's status).
 *
 * Rendering is not this layer's business: a caller that must only pin what renders (the CLI's
 * lockfile) renders before it commits, through `ResolveOptions.check`.
 */
import { AnswerCache, RegistryCache } from './cache';
import { normalizeBaseUrl, RegistryClient, RegistryClientOptions } from './client';
import { MappingError, MappingProblem, NotDeployableError, RegistryError } from './errors';
import { LockChange, LockEntry, LockfileError, serverDigest } from './lockfile';
import { mapServer, MappedServer } from './mapping';
import { displayPath, LockfilePinStore, Pin, PinStore } from './pins';
import { RegistrySource } from './source';
import { DEFAULT_REGISTRY_URL, ServerResponse } from './types';
import { API_GROUP, API_VERSION, KIND, MCPServerResource, MCPServerSpec } from '../spec/mcpserver';
import { checkResource, InvalidInputError, Problem } from '../spec/validate';
import type { ValidatedResource } from '../synth';

export interface RegistryResolverOptions {
  /** For resources without `spec.registry.url`. @default https://registry.modelcontextprotocol.io */
  readonly registryUrl?: string;
  /**
   * Registries `spec.registry.url` may name besides `registryUrl`, which is always allowed; any other
   * URL is refused before a single request (`RegistryError` of kind `not-allowed`). Undefined: every
   * URL may be asked, which is right only where the person who wrote the spec runs the resolver (the
   * CLI). Compared after normalisation: origin and path, no trailing slash.
   */
  readonly allowedRegistryUrls?: readonly string[];
  /** The option that extends the allow-list, for the refusal message. @default --allowed-registry-url */
  readonly allowFlag?: string;
  /** The cache of registry answers. @default a RegistryCache in `cacheDir` */
  readonly cache?: AnswerCache;
  /** @default `${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/registry` */
  readonly cacheDir?: string;
  readonly cacheTtlMs?: number;
  /** Use only pins and the cache; never the network. */
  readonly offline?: boolean;
  /** Transport knobs (fetch, byte limit, timeouts, retries); tests inject these. */
  readonly client?: Omit<RegistryClientOptions, 'baseUrl' | 'onWarning'>;
  /** Warnings of the client and the cache (retries, stale answers). */
  readonly warn?: (message: string) => void;
}

export interface ResolveServerOptions {
  /** Ask the registry for `latest` even when the cache holds a fresh answer (`--update`). */
  readonly refreshLatest?: boolean;
}

export interface ResolvedServer {
  /** The validated resource with the registry's image, command, env… filled in and `spec.registry.version` pinned. */
  readonly resource: MCPServerResource;
  /** What it resolved to, as recorded in the pin store. */
  readonly entry: LockEntry;
  /** The mapping's warnings (flags dropped, defaults used), for the caller to show with its own context. */
  readonly warnings: readonly string[];
}

/** The server.json behind a pinned version is not the one its pin recorded. */
export class LockMismatchError extends Error {
  /** The registry will not change its mind by itself: a person must look. */
  public readonly transient = false;

  constructor(message: string) {
    super(message);
    this.name = 'LockMismatchError';
  }
}

/**
 * Problems of the resolved spec: the registry's answer, under the user's spec, fails the validation a
 * hand-written resource gets. Paths are those of the resolved spec; entries of `spec.env` are named.
 */
export class ResolvedSpecError extends MappingError {
  constructor(server: string, version: string, problems: readonly MappingProblem[]) {
    super(server, version, problems);
    this.name = 'ResolvedSpecError';
  }
}

export class RegistryResolver {
  private readonly cache: AnswerCache;
  private readonly sources = new Map<string, RegistrySource>();
  private readonly defaultUrl: string;
  private readonly allowed?: ReadonlySet<string>;
  private readonly warn: (message: string) => void;

  constructor(private readonly options: RegistryResolverOptions = {}) {
    this.cache = options.cache ?? new RegistryCache({ dir: options.cacheDir, ttlMs: options.cacheTtlMs });
    this.defaultUrl = options.registryUrl ?? DEFAULT_REGISTRY_URL;
    this.warn = options.warn ?? (() => undefined);
    // The resolver's own registry is the operator's choice, so it is always allowed.
    if (options.allowedRegistryUrls) this.allowed = new Set([this.defaultUrl, ...options.allowedRegistryUrls].map(normalizeBaseUrl));
  }

  /**
   * The source for a registry URL (undefined: the default registry), one per registry for the
   * resolver's lifetime. Off the allow-list: `not-allowed`; a malformed URL without an allow-list: RangeError.
   */
  public source(url?: string, resourceName?: string): RegistrySource {
    const registry = this.allowed
      ? allowedRegistry(url ?? this.defaultUrl, this.allowed, { resourceName, fromSpec: url !== undefined, allowFlag: this.options.allowFlag ?? '--allowed-registry-url' })
      : normalizeBaseUrl(url ?? this.defaultUrl);
    let source = this.sources.get(registry);
    if (!source) {
      source = new RegistrySource({
        client: new RegistryClient({ ...this.options.client, baseUrl: registry, onWarning: this.warn }),
        cache: this.cache,
        offline: this.options.offline,
        warn: this.warn,
      });
      this.sources.set(registry, source);
    }
    return source;
  }

  /** One server.json, with no pin and no mapping (what `init` and `registry show` start from). */
  public async fetch(name: string, version = 'latest', url?: string): Promise<ServerResponse> {
    const source = this.source(url);
    return checkedName(source, name, await source.getVersion(name, version));
  }

  /**
   * Resolves `resource.spec.registry` against `pins`: the pinned version if the store has one (its
   * status re-checked now and then, its document checked against a pinned digest), else what the
   * reference asks for. Records the result in `pins`. Throws RegistryError, NotDeployableError,
   * MappingError (the user must add something), ResolvedSpecError, LockMismatchError.
   */
  public async resolve(resource: MCPServerResource, pins: PinStore, options: ResolveServerOptions = {}): Promise<ResolvedServer> {
    const ref = resource.spec.registry;
    if (!ref) throw new Error(`${resource.metadata.name} has no spec.registry`);
    const source = this.source(ref.url, resource.metadata.name);
    const requested = ref.version ?? 'latest';
    const pin = pins.read({ registry: source.registry, name: ref.name, requested });
    const response = checkedName(source, ref.name, pin
      ? await this.pinned(source, ref.name, pin, pins)
      : await source.getVersion(ref.name, requested, { refresh: options.refreshLatest === true && requested === 'latest' }));
    const mapped = mapServer(response.server, resource.spec);
    const version = response.server.version;
    // The synthesized objects record the exact version they came from, whatever the reference asked for.
    const spec: MCPServerSpec = { ...mapped.spec, registry: { ...ref, version } };
    const checked = checkResolved(resource, spec, mapped, ref.name, version);
    const entry: LockEntry = {
      registry: source.registry,
      name: ref.name,
      requested,
      version,
      packageType: mapped.package.registryType,
      identifier: mapped.package.identifier,
      packageVersion: mapped.packageVersion,
      sha256: serverDigest(response.server),
    };
    pins.record(entry);
    return { resource: resource.status ? { ...checked, status: resource.status } : checked, entry, warnings: mapped.warnings };
  }

  private async pinned(source: RegistrySource, name: string, pin: Pin, pins: PinStore): Promise<ServerResponse> {
    const fresh = await source.revalidate(name, pin.version);
    let response = fresh ?? await source.getVersion(name, pin.version);
    if (pin.sha256 === undefined) return response;
    if (serverDigest(response.server) !== pin.sha256 && !fresh && !this.options.offline) {
      // A damaged or outdated cached copy must not decide: the registry's copy does.
      response = await source.getVersion(name, pin.version, { refresh: true });
    }
    const actual = serverDigest(response.server);
    if (actual === pin.sha256) return response;
    throw new LockMismatchError(
      `${name}@${pin.version}: the server.json from ${source.registry} (${actual}) is not the one pinned in ${pins.location} (${pin.sha256}); `
      + `a published version should never change, so check the registry, then ${pins.acceptChangeHint ?? 'resolve it again without its pin to accept it'}`,
    );
  }
}

function checkedName(source: RegistrySource, name: string, response: ServerResponse): ServerResponse {
  if (response.server.name === name) return response;
  throw new RegistryError('malformed', `asked the registry at ${source.registry} for ${name} and got ${response.server.name}`, { server: name });
}

/**
 * The resolved spec passes the validation a hand-written one gets. Its paths point into a spec the
 * user never wrote (the registry's entries come first in `spec.env`), so a problem in `spec.env[i]`
 * names the variable, and where the registry set its value, the server and field it came from.
 */
function checkResolved(resource: MCPServerResource, spec: MCPServerSpec, mapped: MappedServer, server: string, version: string): MCPServerResource {
  const { resource: checked, issues } = checkResource({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: resource.metadata, spec });
  if (checked) return checked;
  throw new ResolvedSpecError(server, version, issues.map((i) => ({ path: i.path, message: withEnvName(i.path, i.message, spec, mapped) })));
}

function withEnvName(path: string, message: string, spec: MCPServerSpec, mapped: MappedServer): string {
  const index = /^spec\.env\[(\d+)\]/.exec(path)?.[1];
  const name = index !== undefined ? spec.env?.[Number(index)]?.name : undefined;
  if (!name) return message;
  const origin = mapped.envOrigins.get(name);
  return origin ? `${name} (${origin}): ${message}; set ${name} in spec.env to replace the registry's value` : `${name}: ${message}`;
}

interface AllowContext {
  readonly resourceName?: string;
  /** The URL is the resource's own `spec.registry.url`, not the resolver's default. */
  readonly fromSpec: boolean;
  readonly allowFlag: string;
}

/** The normalised base URL when it is on the allow-list; otherwise a terminal `not-allowed` error. */
function allowedRegistry(url: string, allowed: ReadonlySet<string>, context: AllowContext): string {
  const field = context.fromSpec ? 'spec.registry.url' : 'the default registry URL';
  const who = context.resourceName !== undefined ? `${context.resourceName}: ` : '';
  let registry: string;
  try {
    registry = normalizeBaseUrl(url);
  } catch (err) {
    throw new RegistryError('not-allowed', `${who}${field}: ${(err as Error).message}`, { url });
  }
  if (allowed.has(registry)) return registry;
  const list = [...allowed].join(', ');
  throw new RegistryError('not-allowed', `${who}${field} ${registry} is not an allowed registry; this controller asks only ${list} (the operator can allow more with ${context.allowFlag})`, { url: registry });
}

// ---------------------------------------------------------------------------------------------
// The CLI's batch: a lockfile, all or nothing

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
  /**
   * Called with every resource of the batch once it is resolved, before the lockfile is written; what
   * it throws is reported against that resource like any other problem. The CLI renders here, so that
   * a lockfile only ever pins inputs that produce manifests.
   */
  readonly check?: (resource: ValidatedResource) => void;
}

export interface Resolution {
  readonly resources: ValidatedResource[];
  readonly changes: readonly LockChange[];
}

/**
 * Resolves every MCPServer of a batch that names a registry server, with `mcp-lock.yaml` as the pin
 * store. All or nothing: every problem of every resource is collected into one InvalidInputError, and
 * the lockfile is written only when all of them resolved and passed `check`.
 */
export async function resolveRegistryResources(resources: readonly ValidatedResource[], options: ResolveOptions): Promise<Resolution> {
  // Without a registry reference, no lockfile is read or written and nothing is asked.
  if (!resources.some((r) => r.resource.spec.registry)) return { resources: checkAll(resources, options.check), changes: [] };
  const pins = openLockfile(options.lockfile, options.update);
  const resolver = new RegistryResolver({
    registryUrl: options.registryUrl,
    cacheDir: options.cacheDir,
    cacheTtlMs: options.cacheTtlMs,
    offline: options.offline,
    client: options.client,
    warn: options.warn,
  });
  const problems: Problem[] = [];
  const out: ValidatedResource[] = [];
  for (const v of resources) {
    let resolved = v;
    let what: string | undefined;
    if (v.resource.spec.registry) {
      try {
        const r = await resolver.resolve(v.resource, pins, { refreshLatest: options.update });
        what = `${r.entry.name}@${r.entry.version}`;
        for (const w of r.warnings) options.warn(`${v.origin.file} (${v.resource.metadata.name}): ${what}: ${w}`);
        resolved = { origin: v.origin, resource: r.resource };
      } catch (err) {
        problems.push(...asProblems(err, v));
        continue;
      }
    }
    try {
      options.check?.(resolved);
      out.push(resolved);
    } catch (err) {
      problems.push(...checkProblems(err, resolved, what));
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  if (options.writeLockfile !== false) pins.commit();
  report(pins, options);
  return { resources: out, changes: pins.changes };
}

const PATH_OF_KIND: Partial<Record<RegistryError['kind'], string>> = {
  'not-found': 'spec.registry.name',
  'unknown-version': 'spec.registry.version',
  'deleted': 'spec.registry.version',
};

function asProblems(err: unknown, v: ValidatedResource): Problem[] {
  const base = { origin: v.origin, name: v.resource.metadata.name };
  if (err instanceof ResolvedSpecError) {
    const what = `${err.server}@${err.version}`;
    return err.problems.map((p) => ({ ...base, path: p.path || undefined, message: `${p.message} (after resolving ${what})` }));
  }
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

/** A resolved resource that does not render is the registry's answer failing, so it says which one. */
function checkProblems(err: unknown, v: ValidatedResource, what: string | undefined): Problem[] {
  const explain = (message: string) => (what ? `${what} does not synthesize: ${message}` : message);
  if (err instanceof InvalidInputError) return err.problems.map((p) => ({ ...p, message: explain(p.message) }));
  if (err instanceof Error) return [{ origin: v.origin, name: v.resource.metadata.name, message: explain(err.message) }];
  throw err;
}

function checkAll(resources: readonly ValidatedResource[], check: ResolveOptions['check']): ValidatedResource[] {
  const problems = resources.flatMap((v) => {
    try {
      check?.(v);
      return [];
    } catch (err) {
      return checkProblems(err, v, undefined);
    }
  });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return [...resources];
}

function openLockfile(path: string, update: boolean | undefined): LockfilePinStore {
  try {
    return LockfilePinStore.open(path, { update });
  } catch (err) {
    if (err instanceof LockfileError) throw new InvalidInputError([{ origin: { file: displayPath(err.file), index: 0 }, message: err.message }]);
    throw err;
  }
}

function report(pins: LockfilePinStore, options: ResolveOptions): void {
  for (const c of pins.changes) options.info(`${pins.location}: ${describeChange(c)}`);
  if (options.update && pins.changes.length === 0) options.info(`${pins.location}: up to date (${pins.size} pinned)`);
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

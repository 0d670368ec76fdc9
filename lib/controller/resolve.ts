/**
 * How the controller fills in `spec.registry`: the `ResolveHook` it calls, the default that refuses
 * registry references, and the built-in hook on the shared registry resolver (lib/registry/resolver.ts).
 */
import { StatusPinStore } from '../registry/pins';
import { RegistryResolver, RegistryResolverOptions } from '../registry/resolver';
import { MCPServerResource } from '../spec/mcpserver';

export { REGISTRY_SYNC_ANNOTATION } from '../registry/pins';

export interface Resolution {
  /** The resource with what the registry supplies (image, command, env…) filled into its spec. */
  readonly resource: MCPServerResource;
  /** The exact registry version it was resolved to (status.registryVersion). */
  readonly registryVersion?: string;
}

/**
 * Fills a resource's `spec.registry` reference in. Called only for resources that have one; it gets
 * the live resource, status included, so it can keep a `latest` pinned to `status.registryVersion`.
 * Errors whose `transient` property is true are retried with backoff; others (and errors carrying a
 * `problems` list) are reported in status until the spec changes or the next resync.
 */
export type ResolveHook = (resource: MCPServerResource) => Promise<Resolution>;

export class ResolverNotConfiguredError extends Error {
  public readonly transient = false;

  constructor(name: string) {
    super(`spec.registry references ${name}, but this controller has no MCP Registry resolver configured`);
    this.name = 'ResolverNotConfiguredError';
  }
}

/** The default until a registry resolver is wired in: registry references fail clearly. */
export const noRegistryResolver: ResolveHook = async (resource) => {
  throw new ResolverNotConfiguredError(resource.spec.registry?.name ?? '(unnamed)');
};

/**
 * Transient unless the error says otherwise (its `transient` property, as every registry error has,
 * or a `problems` list the user must fix): an unknown failure is worth another try.
 */
export function isTransient(err: unknown): boolean {
  const e = err as { transient?: unknown; problems?: unknown } | undefined;
  if (typeof e?.transient === 'boolean') return e.transient;
  return !Array.isArray(e?.problems);
}

export interface RegistryHookOptions extends Omit<RegistryResolverOptions, 'offline' | 'allowedRegistryUrls'> {
  /**
   * Registry base URLs that `spec.registry.url` may name besides `registryUrl` (else the public
   * registry), which is always allowed. `spec.registry.url` is written by whoever may create an
   * MCPServer, and the controller fetches it from inside the cluster: left open, any tenant could make
   * the controller GET internal addresses (SSRF) or stream it an endless answer. So any other URL is
   * refused before a single request, as a terminal failure in the resource's status.
   * @default [] (the configured registry alone)
   */
  readonly allowedRegistryUrls?: readonly string[];
}

/**
 * The controller's registry resolution: the resolver `synth` uses (same client, cache, mapping and
 * validation), with each resource's `status.registryVersion` as its pin store. A `latest` reference
 * is resolved once and stays pinned; the annotation `mcp.io/registry-sync: "true"` opts a resource
 * into following `latest` (re-checked when the cache entry expires). Pass the result as
 * `startController({ resolve })`.
 */
export function registryResolveHook(options: RegistryHookOptions = {}): ResolveHook {
  const resolver = new RegistryResolver({ ...options, allowedRegistryUrls: options.allowedRegistryUrls ?? [] });
  const warn = options.warn ?? (() => undefined);
  return async (resource) => {
    const pins = new StatusPinStore(resource);
    const resolved = await resolver.resolve(resource, pins);
    const { name, version } = resolved.entry;
    for (const w of resolved.warnings) warn(`${resource.metadata.name}: ${name}@${version}: ${w}`);
    return { resource: resolved.resource, registryVersion: pins.recordedVersion };
  };
}

/**
 * The `RegistryResolved=False` reason: what the error names as its own (`conditionReason`, e.g.
 * `RegistryNotAllowed` for a URL off the allow-list), else the generic `ResolveFailed`.
 */
export function resolveFailureReason(err: unknown): string {
  if (err instanceof ResolverNotConfiguredError) return 'ResolverNotConfigured';
  const reason = (err as { conditionReason?: unknown } | undefined)?.conditionReason;
  return typeof reason === 'string' && /^[A-Za-z][A-Za-z0-9]*$/.test(reason) ? reason : 'ResolveFailed';
}

/** The message to show in status; mapping problems are listed with their field paths. */
export function resolveErrorMessage(err: unknown): string {
  const e = err as { message?: string; problems?: { path: string; message: string }[] };
  if (Array.isArray(e?.problems) && e.problems.length > 0) return e.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  return e?.message ?? String(err);
}

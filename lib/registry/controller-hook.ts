/**
 * Registry resolution for the controller: the same client, cache and server.json mapping as
 * `mcp-operator synth`, with the resource's status standing in for the lockfile. A `latest` reference
 * is resolved once and stays pinned to `status.registryVersion`, so a resync or a controller restart
 * never moves a running server to a new release by surprise; the annotation `mcp.io/registry-sync:
 * "true"` opts a resource into following `latest` (re-checked when the cache entry expires).
 *
 * `spec.registry.url` is written by whoever may create an MCPServer, and the controller fetches it from
 * inside the cluster: left open, any tenant could make the controller GET internal addresses (SSRF) or
 * stream it an endless answer. So only registries on an operator-set allow-list are asked
 * (`--allowed-registry-url`, default: the configured registry alone); any other URL is refused before a
 * single request, as a terminal failure in the resource's status.
 */
import { RegistryCache } from './cache';
import { normalizeBaseUrl, RegistryClient, RegistryClientOptions } from './client';
import { MappingError, RegistryError } from './errors';
import { mapServer } from './mapping';
import { RegistrySource } from './source';
import { DEFAULT_REGISTRY_URL } from './types';
import { API_GROUP, API_VERSION, KIND, MCPServerResource } from '../spec/mcpserver';
import { checkResource } from '../spec/validate';

export const REGISTRY_SYNC_ANNOTATION = 'mcp.io/registry-sync';

export interface RegistryHookOptions {
  /** For resources without `spec.registry.url`. */
  readonly registryUrl?: string;
  /** Where server.json answers are cached; must be writable (the controller's /tmp). */
  readonly cacheDir?: string;
  readonly cacheTtlMs?: number;
  /**
   * Registry base URLs that `spec.registry.url` may name besides `registryUrl` (else the public
   * registry), which is always allowed. Compared after normalisation: origin and path, no trailing slash.
   */
  readonly allowedRegistryUrls?: readonly string[];
  /** The flag that extends the list, for the refusal message. */
  readonly allowFlag?: string;
  /** Client knobs (byte limit, fetch, timeouts), e.g. for tests. */
  readonly client?: Omit<RegistryClientOptions, 'baseUrl' | 'onWarning'>;
  readonly warn?: (message: string) => void;
}

export interface RegistryResolution {
  readonly resource: MCPServerResource;
  readonly registryVersion: string;
}

export function registryResolveHook(options: RegistryHookOptions = {}): (resource: MCPServerResource) => Promise<RegistryResolution> {
  const cache = new RegistryCache({ dir: options.cacheDir, ttlMs: options.cacheTtlMs });
  const sources = new Map<string, RegistrySource>();
  const warn = options.warn ?? (() => undefined);
  const defaultUrl = options.registryUrl ?? DEFAULT_REGISTRY_URL;
  // The controller's own registry is the operator's choice, so it is always allowed; the flag adds more.
  const allowed = new Set([defaultUrl, ...(options.allowedRegistryUrls ?? [])].map(normalizeBaseUrl));
  const allowFlag = options.allowFlag ?? '--allowed-registry-url';
  const sourceFor = (resourceName: string, url: string, fromSpec: boolean): RegistrySource => {
    const registry = allowedRegistry(url, allowed, { resourceName, fromSpec, allowFlag });
    let source = sources.get(registry);
    if (!source) {
      source = new RegistrySource({ client: new RegistryClient({ ...options.client, baseUrl: registry, onWarning: warn }), cache, warn });
      sources.set(registry, source);
    }
    return source;
  };

  return async (resource) => {
    const ref = resource.spec.registry;
    if (!ref) throw new Error(`${resource.metadata.name} has no spec.registry`);
    const requested = ref.version ?? 'latest';
    const follow = resource.metadata.annotations?.[REGISTRY_SYNC_ANNOTATION] === 'true';
    const pinned = requested === 'latest' && !follow ? resource.status?.registryVersion : undefined;
    const source = sourceFor(resource.metadata.name, ref.url ?? defaultUrl, ref.url !== undefined);
    const response = await source.getVersion(ref.name, pinned ?? requested);
    const mapped = mapServer(response.server, resource.spec);
    for (const w of mapped.warnings) warn(`${resource.metadata.name}: ${ref.name}@${response.server.version}: ${w}`);
    const spec = { ...mapped.spec, registry: { ...ref, version: response.server.version } };
    const { resource: resolved, issues } = checkResource({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: resource.metadata, spec });
    if (!resolved) throw new MappingError(ref.name, response.server.version, issues.map((i) => ({ path: i.path, message: i.message })));
    return { resource: { ...resolved, status: resource.status }, registryVersion: response.server.version };
  };
}

interface AllowContext {
  readonly resourceName: string;
  /** The URL is the resource's own `spec.registry.url`, not the controller's default. */
  readonly fromSpec: boolean;
  readonly allowFlag: string;
}

/** The normalised base URL when it is on the allow-list; otherwise a terminal `not-allowed` error. */
function allowedRegistry(url: string, allowed: ReadonlySet<string>, context: AllowContext): string {
  const field = context.fromSpec ? 'spec.registry.url' : 'the default registry URL';
  let registry: string;
  try {
    registry = normalizeBaseUrl(url);
  } catch (err) {
    throw new RegistryError('not-allowed', `${context.resourceName}: ${field}: ${(err as Error).message}`, { url });
  }
  if (allowed.has(registry)) return registry;
  const list = [...allowed].join(', ');
  throw new RegistryError('not-allowed', `${context.resourceName}: ${field} ${registry} is not an allowed registry; this controller asks only ${list} (the operator can allow more with ${context.allowFlag})`, { url: registry });
}

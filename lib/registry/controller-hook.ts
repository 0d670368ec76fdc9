/**
 * Registry resolution for the controller: the same client, cache and server.json mapping as
 * `mcp-operator synth`, with the resource's status standing in for the lockfile. A `latest` reference
 * is resolved once and stays pinned to `status.registryVersion`, so a resync or a controller restart
 * never moves a running server to a new release by surprise; the annotation `mcp.io/registry-sync:
 * "true"` opts a resource into following `latest` (re-checked when the cache entry expires).
 */
import { RegistryCache } from './cache';
import { normalizeBaseUrl, RegistryClient } from './client';
import { MappingError } from './errors';
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
  const sourceFor = (url: string): RegistrySource => {
    const registry = normalizeBaseUrl(url);
    let source = sources.get(registry);
    if (!source) {
      source = new RegistrySource({ client: new RegistryClient({ baseUrl: registry, onWarning: warn }), cache, warn });
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
    const response = await sourceFor(ref.url ?? options.registryUrl ?? DEFAULT_REGISTRY_URL).getVersion(ref.name, pinned ?? requested);
    const mapped = mapServer(response.server, resource.spec);
    for (const w of mapped.warnings) warn(`${resource.metadata.name}: ${ref.name}@${response.server.version}: ${w}`);
    const spec = { ...mapped.spec, registry: { ...ref, version: response.server.version } };
    const { resource: resolved, issues } = checkResource({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: resource.metadata, spec });
    if (!resolved) throw new MappingError(ref.name, response.server.version, issues.map((i) => ({ path: i.path, message: i.message })));
    return { resource: { ...resolved, status: resource.status }, registryVersion: response.server.version };
  };
}

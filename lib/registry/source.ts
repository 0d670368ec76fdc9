/**
 * The registry as the rest of mcp-operator sees it: the HTTP client behind the disk cache, with an
 * offline mode that never touches the network.
 */
import { RegistryCache } from './cache';
import { checkStatus, ListServersParams, RegistryClient } from './client';
import { RegistryError } from './errors';
import { ServerList, ServerResponse } from './types';

export interface RegistrySourceOptions {
  readonly client: RegistryClient;
  /** No cache: every call goes to the registry (and `offline` fails every call). */
  readonly cache?: RegistryCache;
  readonly offline?: boolean;
  readonly warn?: (message: string) => void;
}

export interface GetVersionOptions {
  /** Ask the registry even when the cache has an answer (`--update`, or a cached copy that fails its pin). */
  readonly refresh?: boolean;
}

export class RegistrySource {
  public readonly client: RegistryClient;
  private readonly cache?: RegistryCache;
  private readonly offline: boolean;
  private readonly warn: (message: string) => void;

  constructor(options: RegistrySourceOptions) {
    this.client = options.client;
    this.cache = options.cache;
    this.offline = options.offline ?? false;
    this.warn = options.warn ?? (() => undefined);
  }

  public get registry(): string {
    return this.client.baseUrl;
  }

  /**
   * One version. An exact version is immutable in the registry, so a cached copy is used as is; `latest`
   * is cached for the TTL. Whatever comes back has passed the status check (deleted → error).
   */
  public async getVersion(name: string, version: string, options: GetVersionOptions = {}): Promise<ServerResponse> {
    if (version !== 'latest') return this.exact(name, version, options.refresh);
    const response = await this.cached('latest', name, `${name}@latest`, () => this.client.getVersion(name, 'latest'), options.refresh);
    this.remember(response);
    return response;
  }

  /** Every version of a server, newest first. */
  public async getVersions(name: string): Promise<ServerResponse[]> {
    return this.cached('versions', name, `versions of ${name}`, () => this.client.getVersions(name));
  }

  /** Every server matching `params`, across all pages (cached as a whole). */
  public async listAll(params: Omit<ListServersParams, 'cursor'>, max = Infinity): Promise<ServerList> {
    const key = JSON.stringify({ ...params, max: Number.isFinite(max) ? max : undefined });
    return this.cached('list', key, 'the server list', async () => {
      const servers: ServerResponse[] = [];
      for await (const server of this.client.servers(params)) {
        servers.push(server);
        if (servers.length >= max) break;
      }
      return { servers, metadata: { count: servers.length } };
    });
  }

  private async exact(name: string, version: string, refresh = false): Promise<ServerResponse> {
    const hit = refresh ? undefined : this.cache?.read<ServerResponse>(this.registry, 'version', `${name}@${version}`);
    if (hit) {
      checkStatus(hit.value, this.registry, this.warn);
      return hit.value;
    }
    this.assertOnline(`${name}@${version}`);
    const response = await this.client.getVersion(name, version);
    this.remember(response);
    return response;
  }

  /** Published versions never change, so each one fetched is kept for good. */
  private remember(response: ServerResponse): void {
    this.cache?.write(this.registry, 'version', `${response.server.name}@${response.server.version}`, response);
  }

  private async cached<T>(kind: 'latest' | 'versions' | 'list', key: string, what: string, fetchIt: () => Promise<T>, refresh = false): Promise<T> {
    const hit = this.cache?.read<T>(this.registry, kind, key);
    const check = (value: T) => {
      if (kind === 'latest') checkStatus(value as ServerResponse, this.registry, this.warn);
      return value;
    };
    if (hit && !refresh && this.cache!.isFresh(hit, kind)) return check(hit.value);
    if (this.offline) {
      if (!hit) this.assertOnline(what);
      this.warn(`--offline: using ${what} cached ${age(hit!.storedAt)} ago, older than the cache TTL`);
      return check(hit!.value);
    }
    try {
      const value = await fetchIt();
      this.cache?.write(this.registry, kind, key, value);
      return value;
    } catch (err) {
      if (!(hit && err instanceof RegistryError && err.transient)) throw err;
      this.warn(`registry unavailable (${err.message}); using ${what} cached ${age(hit.storedAt)} ago`);
      return check(hit.value);
    }
  }

  private assertOnline(what: string): void {
    if (!this.offline) return;
    const where = this.cache ? `the cache (${this.cache.dir})` : 'the cache (none configured)';
    throw new RegistryError('offline', `--offline: ${what} from ${this.registry} is not in ${where}; run once without --offline to fill it`, { url: this.registry });
  }
}

function age(storedAt: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - storedAt) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

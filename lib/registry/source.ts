/**
 * The registry as the rest of mcp-operator sees it: the HTTP client behind the disk cache, with an
 * offline mode that never touches the network.
 */
import { AnswerCache } from './cache';
import { checkStatus, ListServersParams, RegistryClient } from './client';
import { RegistryError } from './errors';
import { officialMeta, ServerList, ServerResponse } from './types';

/** A status re-check must not hold up a run that could go on from the cache. */
const REVALIDATE_TIMEOUT_MS = 3_000;
/**
 * After a re-check found the registry unreachable, further re-checks wait this long: one warning per
 * CLI run, yet a long-lived source (the controller's) checks again once the registry may be back.
 */
const UNREACHABLE_PAUSE_MS = 60_000;

export interface RegistrySourceOptions {
  readonly client: RegistryClient;
  /** No cache: every call goes to the registry (and `offline` fails every call). */
  readonly cache?: AnswerCache;
  readonly offline?: boolean;
  readonly warn?: (message: string) => void;
}

export interface GetVersionOptions {
  /** Ask the registry even when the cache has an answer (`--update`, or a cached copy that fails its pin). */
  readonly refresh?: boolean;
}

export class RegistrySource {
  public readonly client: RegistryClient;
  private readonly quick: RegistryClient;
  private readonly cache?: AnswerCache;
  private readonly offline: boolean;
  private readonly warn: (message: string) => void;
  /** Until when re-checks are skipped, after one found the registry unreachable. */
  private unreachableUntil = 0;

  constructor(options: RegistrySourceOptions) {
    this.client = options.client;
    this.quick = options.client.derive({ maxAttempts: 1, timeoutMs: Math.min(options.client.timeoutMs, REVALIDATE_TIMEOUT_MS) });
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
    const fetchLatest = async () => this.remember(await this.client.getVersion(name, 'latest'));
    return this.cached('latest', name, `${name}@latest`, fetchLatest, options.refresh);
  }

  /**
   * A pinned version comes from the cache, but its status can change after it was pinned: a version
   * found to be malicious is marked deleted. So once per cache TTL the registry is asked again (deleted
   * versions included, which the registry otherwise hides), in one quick attempt; a deleted version is
   * an error, and when the registry cannot answer the pinned copy is used, with a warning. Returns the
   * registry's fresh answer, if it gave one.
   */
  public async revalidate(name: string, version: string): Promise<ServerResponse | undefined> {
    const key = `${name}@${version}`;
    if (this.offline || Date.now() < this.unreachableUntil || !this.cache) return undefined;
    const seen = this.cache.read(this.registry, 'status', key);
    if (seen && this.cache.isFresh(seen, 'status')) return undefined;
    try {
      return this.remember(await this.quick.getVersion(name, version, { includeDeleted: true }));
    } catch (err) {
      if (!(err instanceof RegistryError) || err.kind === 'deleted') throw err;
      if (err.transient) this.unreachableUntil = Date.now() + UNREACHABLE_PAUSE_MS;
      this.warn(`could not re-check ${key} with the registry (${err.message}); using the pinned copy`);
      return undefined;
    }
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
    return this.remember(await this.client.getVersion(name, version));
  }

  /** Published versions never change, so each one fetched is kept for good; its status only for the TTL. */
  private remember(response: ServerResponse): ServerResponse {
    const key = `${response.server.name}@${response.server.version}`;
    this.cache?.write(this.registry, 'version', key, response);
    this.cache?.write(this.registry, 'status', key, officialMeta(response) ?? {});
    return response;
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
    const where = this.cache ? `the cache (${this.cache.location})` : 'the cache (none configured)';
    throw new RegistryError('offline', `--offline: ${what} from ${this.registry} is not in ${where}; run once without --offline to fill it`, { url: this.registry });
  }
}

function age(storedAt: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - storedAt) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

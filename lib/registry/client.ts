/**
 * A reading client for the MCP Registry API (`/v0.1`, the frozen prefix). Every wait is bounded: each
 * attempt has a timeout, and a failed request is tried at most `maxAttempts` times. So is everything
 * the registry sends: an answer is read through the bounded reader (../net/bounded-fetch.ts: byte
 * limit, same-origin redirects only), and a listing stops after `maxPages` pages or `maxItems` servers.
 * Time, randomness, sleeping and `fetch` are injectable, so tests run the retry logic without waiting.
 */
import { RegistryOperation, registryRequestDuration, registryRequests } from '../metrics';
import { BoundedFetchError, BoundedResponse, fetchBounded, MIB } from '../net/bounded-fetch';
import { PROJECT_VERSION } from '../version';
import { RegistryError, RegistryErrorKind } from './errors';
import { normalizeServerJson, ServerJsonShapeError } from './normalize';
import { DEFAULT_REGISTRY_URL, officialMeta, ServerList, ServerResponse } from './types';

export interface RegistryClientOptions {
  /** Default https://registry.modelcontextprotocol.io; a path prefix is kept. */
  readonly baseUrl?: string;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch; used for HTTP-date Retry-After values and durations. */
  readonly now?: () => number;
  /** In [0, 1); jitters the backoff so that many clients do not retry in lockstep. */
  readonly random?: () => number;
  /** Per attempt, covering the response body too. Default 10 s. */
  readonly timeoutMs?: number;
  /** Default 3. */
  readonly maxAttempts?: number;
  /** First backoff after a 5xx, timeout or network error; doubles per attempt. Default 500 ms. */
  readonly backoffMs?: number;
  /**
   * First backoff after a 429 without Retry-After. The hosted registry's nginx answers 429 with an
   * HTML page and no Retry-After, and its limit is per minute, so this starts higher. Default 2 s.
   */
  readonly rateLimitBackoffMs?: number;
  /** Cap of any single backoff. Default 10 s. */
  readonly maxBackoffMs?: number;
  /** A Retry-After longer than this is reported instead of slept through. Default 30 s. */
  readonly maxRetryAfterMs?: number;
  /** Deprecated versions are usable but worth telling the user about. */
  readonly onWarning?: (message: string) => void;
  /** Largest answer read; a real server.json is a few KiB and a page of 100 servers well under 1 MiB. Default 8 MiB. */
  readonly maxResponseBytes?: number;
  /** Same-origin redirects followed per request; a redirect to another origin is always an error. Default 3. */
  readonly maxRedirects?: number;
  /** Pages one listing may take before it is given up (a registry can hand out fresh cursors forever). Default 100. */
  readonly maxPages?: number;
  /** Servers one listing may yield. Default 10,000. */
  readonly maxItems?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 8 * MIB;

export interface ListServersParams {
  /** Opaque; pass back `metadata.nextCursor` exactly as received. */
  readonly cursor?: string;
  /** Page size; the hosted registry allows 1..100 (default 30). */
  readonly limit?: number;
  /** Case-insensitive substring of the server name. */
  readonly search?: string;
  /** RFC 3339; makes the registry include deleted servers. */
  readonly updatedSince?: string | Date;
  /** `latest` or an exact version. */
  readonly version?: string;
  readonly includeDeleted?: boolean;
}

export interface GetOptions {
  readonly includeDeleted?: boolean;
}

type Attempt =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly error: RegistryError; readonly retryAfterMs?: number };

interface Context {
  readonly server?: string;
  readonly version?: string;
}

const API_PREFIX = '/v0.1';

/** The registry client; one instance per base URL. */
export class RegistryClient {
  public readonly baseUrl: string;
  /** Per attempt, covering the response body too. */
  public readonly timeoutMs: number;
  private readonly options: RegistryClientOptions;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly rateLimitBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly onWarning: (message: string) => void;
  private readonly maxResponseBytes: number;
  private readonly maxRedirects: number;
  private readonly maxPages: number;
  private readonly maxItems: number;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.baseUrl = normalizeBaseUrl(options.baseUrl ?? DEFAULT_REGISTRY_URL);
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.backoffMs = options.backoffMs ?? 500;
    this.rateLimitBackoffMs = options.rateLimitBackoffMs ?? 2_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.onWarning = options.onWarning ?? (() => undefined);
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxRedirects = options.maxRedirects ?? 3;
    this.maxPages = options.maxPages ?? 100;
    this.maxItems = options.maxItems ?? 10_000;
  }

  /** The same client with some knobs changed, e.g. a single quick attempt for a check that may be skipped. */
  public derive(overrides: Partial<RegistryClientOptions>): RegistryClient {
    return new RegistryClient({ ...this.options, baseUrl: this.baseUrl, ...overrides });
  }

  /** One page of `GET /v0.1/servers`. */
  public async listServers(params: ListServersParams = {}): Promise<ServerList> {
    const query = new URLSearchParams();
    if (params.cursor !== undefined) query.set('cursor', params.cursor);
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.search !== undefined) query.set('search', params.search);
    if (params.updatedSince !== undefined) {
      query.set('updated_since', params.updatedSince instanceof Date ? params.updatedSince.toISOString() : params.updatedSince);
    }
    if (params.version !== undefined) query.set('version', params.version);
    if (params.includeDeleted !== undefined) query.set('include_deleted', String(params.includeDeleted));
    const url = this.url(['servers'], query);
    return this.asList(await this.getJson('list_servers', url, {}), url);
  }

  /**
   * Every page, following `nextCursor` until a page comes without one. A cursor handed out twice is a
   * loop; and since a registry can also hand out a fresh cursor forever (or pages without servers), the
   * pages and servers of one listing are bounded as well.
   */
  public async *pages(params: Omit<ListServersParams, 'cursor'> = {}): AsyncGenerator<ServerList> {
    const seen = new Set<string>();
    const listing = this.url(['servers']);
    let cursor: string | undefined;
    let items = 0;
    for (let page = 1; ; page++) {
      const list = await this.listServers({ ...params, cursor });
      items += list.servers.length;
      if (items > this.maxItems) {
        throw new RegistryError('malformed', `registry ${this.baseUrl} listed more than ${this.maxItems} servers for one listing; stopping`, { url: listing });
      }
      yield list;
      cursor = list.metadata.nextCursor;
      if (cursor === undefined) return;
      if (seen.has(cursor)) {
        throw new RegistryError('malformed', `registry ${this.baseUrl} returned the cursor ${JSON.stringify(cursor)} twice; stopping`, { url: listing });
      }
      if (page >= this.maxPages) {
        throw new RegistryError('malformed', `registry ${this.baseUrl} still had a next page after ${this.maxPages} pages; stopping`, { url: listing });
      }
      seen.add(cursor);
    }
  }

  /** Every server over all pages. */
  public async *servers(params: Omit<ListServersParams, 'cursor'> = {}): AsyncGenerator<ServerResponse> {
    for await (const page of this.pages(params)) yield* page.servers;
  }

  /** Every version of one server, newest publication first. */
  public async getVersions(name: string, options: GetOptions = {}): Promise<ServerResponse[]> {
    const url = this.url(['servers', name, 'versions'], includeDeleted(options));
    const list = this.asList(await this.getJson('get_versions', url, { server: name }), url);
    return [...list.servers];
  }

  /**
   * One version (`latest` allowed). A deleted version is an error; a deprecated one is returned and
   * reported through `onWarning` together with the registry's status message.
   */
  public async getVersion(name: string, version: string, options: GetOptions = {}): Promise<ServerResponse> {
    const url = this.url(['servers', name, 'versions', version], includeDeleted(options));
    let body: unknown;
    try {
      body = await this.getJson('get_version', url, { server: name, version });
    } catch (err) {
      if (err instanceof RegistryError && err.kind === 'not-found' && version !== 'latest') throw await this.explainMissingVersion(err, name, version);
      throw err;
    }
    const response = this.asResponse(body, url);
    checkStatus(response, this.baseUrl, this.onWarning);
    return response;
  }

  /** A 404 for name@version is either an unknown server or an unknown version; the user needs to know which. */
  private async explainMissingVersion(err: RegistryError, name: string, version: string): Promise<RegistryError> {
    let versions: ServerResponse[];
    try {
      versions = await this.getVersions(name);
    } catch {
      // The server itself is unknown (or the registry is unwell): the original 404 says it best.
      return err;
    }
    const available = versions.map((v) => v.server.version);
    return new RegistryError('unknown-version', `server ${name} has no version ${version} in the registry at ${this.baseUrl} (available: ${available.join(', ') || 'none'})`, {
      url: err.url,
      server: name,
      version,
      status: 404,
      available,
    });
  }

  public url(segments: readonly string[], query?: URLSearchParams): string {
    // encodeURIComponent turns the "/" inside a server name into %2F and the "+" of build metadata into %2B.
    const path = segments.map(encodeURIComponent).join('/');
    const qs = query && [...query.keys()].length > 0 ? `?${query.toString()}` : '';
    return `${this.baseUrl}${API_PREFIX}/${path}${qs}`;
  }

  private async getJson(operation: RegistryOperation, url: string, context: Context): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(operation, url, context);
      if (result.ok) return result.body;
      const { error } = result;
      if (!error.transient) throw error;
      if (attempt >= this.maxAttempts) throw withAttempts(error, attempt);
      const delay = result.retryAfterMs ?? this.backoff(attempt, error.kind);
      if (delay > this.maxRetryAfterMs) {
        throw new RegistryError(error.kind, `${error.message}; the registry asks to wait ${Math.ceil(delay / 1000)} s, more than the ${Math.ceil(this.maxRetryAfterMs / 1000)} s we wait`, error);
      }
      await this.sleep(delay);
    }
  }

  private backoff(attempt: number, kind: RegistryErrorKind): number {
    const base = kind === 'rate-limited' ? this.rateLimitBackoffMs : this.backoffMs;
    const ceiling = Math.min(this.maxBackoffMs, base * 2 ** (attempt - 1));
    // "Equal jitter": at least half the step, so a retry never comes back immediately.
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  private async attempt(operation: RegistryOperation, url: string, context: Context): Promise<Attempt> {
    const started = this.now();
    const result = await this.exchange(url, context);
    registryRequests.inc({ operation, outcome: result.ok ? 'ok' : result.error.kind.replace(/-/g, '_') });
    registryRequestDuration.observe({ operation }, Math.max(0, this.now() - started) / 1000);
    return result;
  }

  private async exchange(url: string, context: Context): Promise<Attempt> {
    const fail = (kind: RegistryErrorKind, message: string, extra: { status?: number; cause?: unknown; retryAfterMs?: number } = {}): Attempt => ({
      ok: false,
      error: new RegistryError(kind, message, { url, ...context, status: extra.status, cause: extra.cause }),
      retryAfterMs: extra.retryAfterMs,
    });
    let response: BoundedResponse;
    try {
      response = await fetchBounded(url, {
        fetch: this.fetchFn,
        timeoutMs: this.timeoutMs,
        maxBytes: this.maxResponseBytes,
        maxRedirects: this.maxRedirects,
        what: 'registry answer',
        init: { headers: { 'accept': 'application/json', 'user-agent': `mcp-operator/${PROJECT_VERSION}` } },
      });
    } catch (err) {
      if (err instanceof BoundedFetchError) {
        const kind: RegistryErrorKind = err.kind === 'timeout' ? 'timeout' : err.kind;
        return fail(kind, err.kind === 'timeout' ? `GET ${url}: no complete answer within ${this.timeoutMs} ms` : `registry at ${this.baseUrl}: ${err.message}`, { cause: err });
      }
      return fail('network', `GET ${url}: ${describeNetworkError(err)}`, { cause: err });
    }
    const text = response.text();
    if (response.ok) {
      try {
        return { ok: true, body: JSON.parse(text) as unknown };
      } catch {
        return fail('malformed', `GET ${url}: the answer is not JSON (${response.headers.get('content-type') ?? 'no content type'}: ${snippet(text)})`);
      }
    }
    const detail = errorDetail(text);
    const status = response.status;
    const what = `GET ${url}: ${status}${detail ? ` ${detail}` : ''}`;
    if (status === 404) return fail('not-found', notFoundMessage(context, this.baseUrl, what), { status });
    if (status === 429) {
      return fail('rate-limited', `rate limited by the registry at ${this.baseUrl} (${what})`, { status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), this.now()) });
    }
    return fail('server', `registry at ${this.baseUrl} failed: ${what}`, { status });
  }

  private asList(body: unknown, url: string): ServerList {
    if (!isObject(body) || !Array.isArray(body.servers)) throw malformed(url, 'expected an object with a servers list');
    const servers = body.servers.map((item: unknown, i) => this.asResponse(item, url, `servers[${i}]`));
    const metadata = isObject(body.metadata) ? body.metadata : {};
    const cursor = metadata.nextCursor;
    if (cursor !== undefined && cursor !== null && (typeof cursor !== 'string' || cursor === '')) throw malformed(url, 'metadata.nextCursor is not a string');
    return {
      servers,
      metadata: {
        ...(typeof cursor === 'string' ? { nextCursor: cursor } : {}),
        ...(typeof metadata.count === 'number' ? { count: metadata.count } : {}),
      },
    };
  }

  private asResponse(body: unknown, url: string, where = 'the answer'): ServerResponse {
    if (!isObject(body) || !isObject(body.server)) throw malformed(url, `${where} has no server object`);
    try {
      const server = normalizeServerJson(body.server);
      return { server, ...(isObject(body._meta) ? { _meta: body._meta } : {}) };
    } catch (err) {
      if (err instanceof ServerJsonShapeError) throw malformed(url, `${where}: ${err.message}`);
      throw err;
    }
  }
}

/**
 * Deleted versions (malware, legal takedowns) must never be deployed; deprecated ones still run, with
 * a warning that carries the publisher's reason. Documents from the 2025-07-09 schema carry the status
 * themselves, which counts when the registry sends none.
 */
export function checkStatus(response: ServerResponse, registry: string, warn: (message: string) => void): void {
  const meta = officialMeta(response);
  const status = meta?.status ?? response.server.status ?? 'active';
  const { name, version } = response.server;
  const reason = meta?.statusMessage ? `: ${meta.statusMessage}` : '';
  if (status === 'deleted') {
    throw new RegistryError('deleted', `${name}@${version} is marked deleted in the registry at ${registry}${reason}; it must not be deployed`, { server: name, version });
  }
  if (status === 'deprecated') warn(`${name}@${version} is deprecated${reason || ' (no reason given)'}`);
}

export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** `{"error": ...}` as the spec documents it, `application/problem+json` as the hosted server sends, or an HTML page. */
export function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (isObject(body)) {
      if (typeof body.error === 'string') return body.error;
      const parts = [body.detail, body.title].filter((p): p is string => typeof p === 'string');
      const errors = Array.isArray(body.errors) ? body.errors.map((e: unknown) => (isObject(e) && typeof e.message === 'string' ? e.message : undefined)).filter(Boolean) : [];
      if (parts.length > 0 || errors.length > 0) return [parts[0], ...errors].filter(Boolean).join('; ');
    }
  } catch {
    // not JSON: fall through
  }
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1] ?? /<h1>([^<]*)<\/h1>/i.exec(text)?.[1];
  return title?.trim() ?? snippet(text);
}

function notFoundMessage(context: Context, baseUrl: string, what: string): string {
  if (context.server) return `server ${context.server} not found in the registry at ${baseUrl} (${what})`;
  return `not found: ${what}`;
}

function includeDeleted(options: GetOptions): URLSearchParams | undefined {
  return options.includeDeleted === undefined ? undefined : new URLSearchParams({ include_deleted: String(options.includeDeleted) });
}

function withAttempts(error: RegistryError, attempts: number): RegistryError {
  if (attempts <= 1) return error;
  return new RegistryError(error.kind, `${error.message} (gave up after ${attempts} attempts)`, error);
}

function malformed(url: string, why: string): RegistryError {
  return new RegistryError('malformed', `GET ${url}: unexpected answer: ${why}`, { url });
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return (err as Error).message ?? String(err);
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat || '(empty body)';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function normalizeBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`registry URL ${JSON.stringify(url)} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`registry URL ${url} must be http or https`);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

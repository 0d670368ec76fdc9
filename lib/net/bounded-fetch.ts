/**
 * The one way mcp-operator reads HTTP from places it does not control (MCP registries, MCP servers
 * under `verify`, the URLs a tenant writes into `spec.registry.url`). Plain `fetch` + `response.text()`
 * buffers whatever the peer sends: an endless body grows the process until the kernel kills it. Here
 * every exchange has
 * - a total time limit, covering the body as well as the headers;
 * - a byte limit, counted while the body streams in, so the read stops (and the connection is
 *   dropped) the moment the limit is passed, not after the whole body has been buffered;
 * - a redirect policy: redirects are followed by hand (`redirect: 'manual'`), at most `maxRedirects`
 *   times, and only to the same origin. A registry that answers with a redirect to another host would
 *   otherwise make us fetch from (and cache under the original URL) a host nobody allowed.
 *
 * `limitResponseBody` applies the same byte limits to a Response handed to code that reads the body
 * itself (the MCP SDK transports), including a per-event limit for `text/event-stream` bodies, where one
 * endless event is the same attack as one endless JSON body.
 */

export type BoundedFetchErrorKind = 'too-large' | 'timeout' | 'redirect';

export class BoundedFetchError extends Error {
  constructor(
    public readonly kind: BoundedFetchErrorKind,
    message: string,
    public readonly url: string,
  ) {
    super(message);
    this.name = 'BoundedFetchError';
  }
}

export type FetchFunction = (input: string | URL, init?: RequestInit) => Promise<Response>;

export const MIB = 1024 * 1024;
export const DEFAULT_MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface RedirectPolicy {
  readonly fetch?: FetchFunction;
  /** Default 3; 0 refuses every redirect. */
  readonly maxRedirects?: number;
}

export interface BoundedFetchOptions extends RedirectPolicy {
  /** The whole exchange, body included. */
  readonly timeoutMs: number;
  /** Upper bound of the body in bytes. */
  readonly maxBytes: number;
  readonly init?: Omit<RequestInit, 'redirect' | 'signal'>;
  /** Aborts the exchange from outside (reported as the caller's abort, not as a timeout). */
  readonly signal?: AbortSignal;
  /** What is read, for messages: "registry answer", "MCP message". */
  readonly what?: string;
}

export interface BoundedResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: Headers;
  /** Where the body came from: the request URL, or the same-origin URL it was redirected to. */
  readonly url: string;
  readonly body: Buffer;
  text(): string;
}

/** GET (or any method) with a time limit, a byte limit and the same-origin redirect policy. */
export async function fetchBounded(url: string, options: BoundedFetchOptions): Promise<BoundedResponse> {
  const what = options.what ?? 'answer';
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  try {
    const { response, url: finalUrl } = await fetchSameOrigin(url, { ...options.init, signal }, options);
    const body = await readBody(response, options.maxBytes, finalUrl, what);
    return { status: response.status, ok: response.ok, headers: response.headers, url: finalUrl, body, text: () => body.toString('utf8') };
  } catch (err) {
    if (timeout.signal.aborted && !(err instanceof BoundedFetchError)) {
      throw new BoundedFetchError('timeout', `${options.init?.method ?? 'GET'} ${url}: no complete ${what} within ${options.timeoutMs} ms`, url);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `fetch` that follows at most `maxRedirects` redirects itself, each only within the origin of the
 * first URL; a redirect elsewhere is an error naming both URLs. The body is not read.
 */
export async function fetchSameOrigin(
  url: string | URL,
  init: RequestInit,
  policy: RedirectPolicy = {},
): Promise<{ response: Response; url: string }> {
  const fetchFn = policy.fetch ?? ((input, i) => fetch(input, i));
  const maxRedirects = policy.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const origin = new URL(url);
  let current = new URL(url);
  let requestInit: RequestInit = { ...init, redirect: 'manual' };
  for (let followed = 0; ; followed++) {
    const response = await fetchFn(current.href, requestInit);
    const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return { response, url: current.href };
    await response.body?.cancel().catch(() => undefined);
    let target: URL;
    try {
      target = new URL(location, current);
    } catch {
      throw new BoundedFetchError('redirect', `${current.href} redirects to ${JSON.stringify(location)}, which is not a URL`, current.href);
    }
    if (!sameOrigin(origin, target)) {
      throw new BoundedFetchError('redirect', `${current.href} redirects to ${shown(target)}, another origin than ${origin.origin}; cross-origin redirects are not followed`, current.href);
    }
    if (followed >= maxRedirects) {
      throw new BoundedFetchError('redirect', `${url} redirected more than ${maxRedirects} times (last to ${shown(target)}); not following further`, current.href);
    }
    // 303 (and, as browsers do, 301/302 after a POST) turn the request into a bodiless GET.
    const method = (requestInit.method ?? 'GET').toUpperCase();
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
      requestInit = { ...requestInit, method: 'GET', body: undefined };
    }
    current = target;
  }
}

/** Scheme, host and port; credentials in the target would change who we are, so they count too. */
export function sameOrigin(from: URL, to: URL): boolean {
  return from.origin === to.origin && to.username === from.username && to.password === from.password;
}

/** A URL as it may be shown: without credentials. */
function shown(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** The body, read chunk by chunk and given up (connection cancelled) as soon as it passes `maxBytes`. */
export async function readBody(response: Response, maxBytes: number, url: string, what = 'answer'): Promise<Buffer> {
  const tooLarge = () => new BoundedFetchError('too-large', `${url}: the ${what} is larger than ${formatBytes(maxBytes)}; refusing to read more`, url);
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Bytes several bodies may read together (e.g. every response of one `verify` attempt). */
export interface ByteBudget {
  readonly max: number;
  used: number;
}

export interface BodyLimits {
  /** The whole body, unless it is an event stream and `streamMaxBytes` is set. */
  readonly maxBytes: number;
  /**
   * For `text/event-stream`: one event (the bytes between two blank lines). A long-lived stream of
   * small events is normal; one event that never ends is not.
   */
  readonly maxEventBytes?: number;
  /** For `text/event-stream`: the whole stream. Default `maxBytes`. */
  readonly streamMaxBytes?: number;
  /** Shared with other bodies; passing it fails this body too. */
  readonly budget?: ByteBudget;
  readonly what?: string;
  /** Told about the limit being passed, besides the reader of the body getting the error. */
  readonly onExceeded?: (error: BoundedFetchError) => void;
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The same response with a body that errors (and cancels the connection) once it passes the limits.
 * For code that reads the body itself: `response.json()` then rejects instead of buffering forever.
 */
export function limitResponseBody(response: Response, url: string, limits: BodyLimits): Response {
  if (!response.body || NULL_BODY_STATUSES.has(response.status)) return response;
  const isEventStream = (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
  const body = limitStream(response.body, url, isEventStream
    ? { ...limits, maxBytes: limits.streamMaxBytes ?? limits.maxBytes }
    : { ...limits, maxEventBytes: undefined });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

function limitStream(source: ReadableStream<Uint8Array>, url: string, limits: BodyLimits): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const what = limits.what ?? 'answer';
  let total = 0;
  const events = limits.maxEventBytes !== undefined ? new EventSizeCounter() : undefined;
  const tooLarge = (message: string) => new BoundedFetchError('too-large', `${url}: ${message}; refusing to read more`, url);
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: BoundedFetchError) => {
    limits.onExceeded?.(error);
    controller.error(error);
    void reader.cancel(error).catch(() => undefined);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        controller.error(err);
        return;
      }
      if (chunk.done) {
        controller.close();
        return;
      }
      const size = chunk.value.byteLength;
      total += size;
      if (total > limits.maxBytes) return fail(controller, tooLarge(`the ${what} is larger than ${formatBytes(limits.maxBytes)}`));
      if (events && events.add(chunk.value) > limits.maxEventBytes!) {
        return fail(controller, tooLarge(`one event of the event stream is larger than ${formatBytes(limits.maxEventBytes!)}`));
      }
      if (limits.budget) {
        limits.budget.used += size;
        if (limits.budget.used > limits.budget.max) return fail(controller, tooLarge(`the answers together are larger than ${formatBytes(limits.budget.max)}`));
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Bytes of the server-sent event being received. An event ends at an empty line; lines end with CRLF,
 * LF or CR (the SSE grammar), so the counter tracks the length of the current line and whether the
 * previous byte was a CR whose LF is still to come.
 */
class EventSizeCounter {
  private sinceEventEnd = 0;
  private lineLength = 0;
  private afterCr = false;

  /** Returns the size of the unfinished event after `chunk`. */
  public add(chunk: Uint8Array): number {
    let lastEventEnd = -1;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF && this.afterCr) {
        this.afterCr = false;
        if (lastEventEnd === i - 1) lastEventEnd = i;
        continue;
      }
      this.afterCr = byte === CR;
      if (byte === LF || byte === CR) {
        if (this.lineLength === 0) lastEventEnd = i;
        this.lineLength = 0;
      } else {
        this.lineLength++;
      }
    }
    this.sinceEventEnd = lastEventEnd >= 0 ? chunk.length - lastEventEnd - 1 : this.sinceEventEnd + chunk.length;
    return this.sinceEventEnd;
  }
}

export function formatBytes(n: number): string {
  if (n >= MIB && n % MIB === 0) return `${n / MIB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

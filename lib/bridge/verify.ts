import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport, SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { BoundedFetchError, fetchSameOrigin, limitResponseBody, MIB } from '../net/bounded-fetch';

export type VerifyTransport = 'streamable-http' | 'sse';

export type VerifyFailure =
  | 'invalid-url' // not an http(s) URL
  | 'connection-refused' // nothing listens there
  | 'dns' // the host name does not resolve
  | 'http-status' // an HTTP error status, e.g. 404: no MCP endpoint at that path
  | 'not-mcp' // something answered, but not with MCP JSON-RPC
  | 'timeout' // no answer within the time limit
  | 'protocol' // an MCP server that failed the handshake (e.g. no common protocol version)
  | 'too-large' // a message, event or the whole exchange passed its byte limit
  | 'redirect' // a redirect to another origin (or too many redirects)
  | 'network'; // any other transport failure

export interface VerifyTool {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly url: string;
  /** The transport that worked (or, on failure, the last one tried). */
  readonly transport?: VerifyTransport;
  readonly server?: { readonly name: string; readonly version: string; readonly title?: string };
  readonly protocolVersion?: string;
  /** Names of the capabilities the server declared (tools, resources, prompts, logging, ...). */
  readonly capabilities?: readonly string[];
  readonly tools: readonly VerifyTool[];
  readonly durationMs: number;
  readonly error?: { readonly kind: VerifyFailure; readonly message: string; readonly httpStatus?: number };
}

export interface VerifyOptions {
  /** Upper bound for the whole check, fallback included. Default 10 s. */
  readonly timeoutMs?: number;
  /** `auto` (default) tries streamable HTTP, then legacy SSE if the POST got a 4xx. */
  readonly transport?: 'auto' | VerifyTransport;
  readonly headers?: Readonly<Record<string, string>>;
  /** Byte limits on what the server sends; see VerifyLimits. */
  readonly limits?: Partial<VerifyLimits>;
}

/**
 * The server under test is not trusted: without limits an endless JSON body or one endless SSE event
 * is buffered until the process dies, and the controller runs this check in its own process.
 */
export interface VerifyLimits {
  /** One JSON response body, or one server-sent event. Default 4 MiB. */
  readonly maxMessageBytes: number;
  /** Everything one attempt reads, all responses and streams together. Default 64 MiB. */
  readonly maxTotalBytes: number;
}

export const DEFAULT_VERIFY_LIMITS: VerifyLimits = { maxMessageBytes: 4 * MIB, maxTotalBytes: 64 * MIB };

type VerifyError = NonNullable<VerifyResult['error']>;

interface Success {
  readonly server: NonNullable<VerifyResult['server']>;
  readonly protocolVersion?: string;
  readonly capabilities: readonly string[];
  readonly tools: readonly VerifyTool[];
}

const MAX_TOOL_PAGES = 100;

class DeadlineExceeded extends Error {}

/**
 * Checks that `url` is a working MCP server the way a client would see it: connect,
 * initialize, list tools, and end the session again. Never throws: failures come back as
 * `ok: false` with a classified reason a controller can act on.
 */
export async function verifyServer(url: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const finish = (fields: Omit<VerifyResult, 'url' | 'durationMs' | 'tools'> & { tools?: readonly VerifyTool[] }): VerifyResult => {
    const { ok, transport, error, tools = [], ...found } = fields;
    return { ok, url, transport, ...found, tools, durationMs: Math.round(performance.now() - started), ...(error ? { error } : {}) };
  };

  const target = parseUrl(url);
  if (typeof target === 'string') return finish({ ok: false, error: { kind: 'invalid-url', message: target } });

  const deadline = Date.now() + timeoutMs;
  const order: VerifyTransport[] = options.transport === undefined || options.transport === 'auto' ? ['streamable-http', 'sse'] : [options.transport];
  const errors: VerifyError[] = [];
  for (const transport of order) {
    const limits = { ...DEFAULT_VERIFY_LIMITS, ...options.limits };
    const attempt = await attemptWith(transport, target, deadline, timeoutMs, options.headers ?? {}, limits);
    if (!(attempt instanceof Failure)) return finish({ ok: true, transport, ...attempt });
    errors.push(attempt.error);
    // The spec's backwards-compatibility rule: only a 4xx to the POST means "maybe legacy
    // SSE". Refused connections or timeouts would fail the same way again.
    if (!isClientError(attempt.error)) return finish({ ok: false, transport, error: attempt.error });
  }
  return finish({ ok: false, transport: order.at(-1), error: combine(errors) });
}

class Failure {
  constructor(readonly error: VerifyError) {}
}

async function attemptWith(
  kind: VerifyTransport,
  target: URL,
  deadline: number,
  timeoutMs: number,
  headers: Readonly<Record<string, string>>,
  limits: VerifyLimits,
): Promise<Success | Failure> {
  const abort = new AbortController();
  // A limit passed inside a stream the SDK reads in the background (an SSE event) would only surface
  // as a request that never completes; this rejects the attempt at once instead.
  let exceeded!: (error: BoundedFetchError) => void;
  const limitExceeded = new Promise<never>((_, reject) => (exceeded = reject));
  limitExceeded.catch(() => undefined);
  const boundedFetch = limitedFetch(abort.signal, limits, (error) => {
    exceeded(error);
    abort.abort();
  });
  const requestInit = { headers: { ...headers } };
  const transport =
    kind === 'streamable-http'
      ? new StreamableHTTPClientTransport(target, { fetch: boundedFetch, requestInit })
      : new SSEClientTransport(target, { fetch: boundedFetch, requestInit });
  let protocolVersion: string | undefined;
  const setProtocolVersion = transport.setProtocolVersion.bind(transport);
  transport.setProtocolVersion = (version: string): void => {
    protocolVersion = version;
    setProtocolVersion(version);
  };
  // The client reports transport errors here as well as by rejecting; the rejection suffices.
  const client = new Client({ name: 'mcp-operator-verify', version: '1.0.0' }, { capabilities: {} });
  client.onerror = () => undefined;

  const remaining = (): number => Math.max(1, deadline - Date.now());
  const work = (async (): Promise<Success> => {
    await client.connect(transport, { timeout: remaining() });
    const tools = await listAllTools(client, remaining);
    const server = client.getServerVersion()!;
    return {
      server: { name: server.name, version: server.version, ...(server.title === undefined ? {} : { title: server.title }) },
      protocolVersion,
      capabilities: Object.keys(client.getServerCapabilities() ?? {}).sort(),
      tools,
    };
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded()), remaining());
  });
  try {
    return await Promise.race([work, timeout, limitExceeded]);
  } catch (err) {
    work.catch(() => undefined);
    return new Failure(classify(err, kind, target, timeoutMs));
  } finally {
    clearTimeout(timer);
    await endSession(transport, client);
    abort.abort();
  }
}

/**
 * The transports' fetch: aborted with the attempt, redirects only within the origin (the SDK asks for
 * `redirect: 'manual'` and follows within the origin itself; anything else asking to follow gets the
 * same policy here), and every body bounded: a JSON body by `maxMessageBytes`, an event stream per event,
 * and all bodies of the attempt together by `maxTotalBytes`.
 */
function limitedFetch(signal: AbortSignal, limits: VerifyLimits, onExceeded: (error: BoundedFetchError) => void): FetchLike {
  const budget = { max: limits.maxTotalBytes, used: 0 };
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input.href;
    const withAbort: RequestInit = { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal };
    const response = init?.redirect === 'manual' || init?.redirect === 'error'
      ? await fetch(input, withAbort)
      : (await fetchSameOrigin(url, withAbort)).response;
    return limitResponseBody(response, url, {
      maxBytes: limits.maxMessageBytes,
      maxEventBytes: limits.maxMessageBytes,
      // An event stream is long-lived; only the attempt's total bounds it as a whole.
      streamMaxBytes: limits.maxTotalBytes,
      budget,
      what: 'MCP message',
      onExceeded,
    });
  };
}

async function listAllTools(client: Client, remaining: () => number): Promise<VerifyTool[]> {
  if (client.getServerCapabilities()?.tools === undefined) return [];
  const tools: VerifyTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: remaining() });
    // One push per tool: spreading a page of 200k tools into push() overflows the call stack.
    for (const tool of result.tools) tools.push(summarizeTool(tool));
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  return tools;
}

function summarizeTool(tool: Tool): VerifyTool {
  return {
    name: tool.name,
    ...(tool.title === undefined ? {} : { title: tool.title }),
    ...(tool.description === undefined ? {} : { description: tool.description }),
  };
}

/** DELETE the session (streamable) so a bridge frees the server process right away. */
async function endSession(transport: StreamableHTTPClientTransport | SSEClientTransport, client: Client): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    const deleted = transport.terminateSession().catch(() => undefined);
    await Promise.race([deleted, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
  await client.close().catch(() => undefined);
}

function parseUrl(url: string): URL | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `"${url}" is not an http(s) URL`;
  return parsed;
}

function classify(err: unknown, kind: VerifyTransport, target: URL, timeoutMs: number): VerifyError {
  const where = `${target.hostname}:${target.port || (target.protocol === 'https:' ? 443 : 80)}`;
  if (err instanceof DeadlineExceeded) return { kind: 'timeout', message: `no MCP answer from ${where} within ${timeoutMs} ms` };
  const bounded = boundedFetchError(err);
  if (bounded) return { kind: bounded.kind === 'redirect' ? 'redirect' : bounded.kind === 'timeout' ? 'timeout' : 'too-large', message: bounded.message };
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) return { kind: 'timeout', message: `${where}: ${err.message}` };
  if (causeMessages(err).includes('bad port')) {
    return { kind: 'invalid-url', message: `port ${target.port} is on fetch's list of blocked ("bad") ports` };
  }
  const sysCode = systemErrorCode(err);
  if (sysCode === 'ECONNREFUSED') return { kind: 'connection-refused', message: `connection refused by ${where} (nothing is listening there)` };
  if (sysCode === 'ENOTFOUND' || sysCode === 'EAI_AGAIN') return { kind: 'dns', message: `host ${target.hostname} could not be resolved` };
  const status = httpStatusOf(err);
  const method = kind === 'streamable-http' ? 'POST' : 'GET';
  if (status !== undefined && status >= 400) {
    return { kind: 'http-status', httpStatus: status, message: `HTTP ${status} for ${method} ${target.pathname} (${kind}): ${brief(err)}` };
  }
  if (isNotJsonRpc(err)) return { kind: 'not-mcp', message: `${where} answered, but not with MCP JSON-RPC: ${brief(err)}` };
  if (err instanceof McpError) return { kind: 'protocol', message: `MCP handshake failed: ${err.message}` };
  if (isErrorLike(err) && /protocol version/i.test(err.message)) return { kind: 'protocol', message: err.message };
  return { kind: 'network', message: `${kind} connection to ${where} failed: ${brief(err)}${sysCode ? ` (${sysCode})` : ''}` };
}

/** The bounded reader's error, wherever the SDK wrapped it (as a cause, or as the reason of a stream error). */
function boundedFetchError(err: unknown): BoundedFetchError | undefined {
  for (let current: unknown = err, depth = 0; isErrorLike(current) && depth < 5; depth++) {
    if (current instanceof BoundedFetchError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function isClientError(error: VerifyError): boolean {
  return error.kind === 'http-status' && error.httpStatus !== undefined && error.httpStatus >= 400 && error.httpStatus < 500;
}

function combine(errors: VerifyError[]): VerifyError {
  const last = errors.at(-1)!;
  if (errors.length < 2) return last;
  return { ...last, message: `not an MCP endpoint: ${errors.map((error) => error.message).join('; then ')}` };
}

function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof StreamableHTTPError || err instanceof SseError) return err.code !== undefined && err.code > 0 ? err.code : undefined;
  return undefined;
}

function isNotJsonRpc(err: unknown): boolean {
  if (err instanceof StreamableHTTPError && err.code === -1) return true; // unexpected content type
  if (err instanceof SseError) return true; // reachable, but no event stream with an endpoint
  if (!isErrorLike(err)) return false;
  if (err.name === 'SyntaxError') return true; // JSON that does not parse
  return err.name === 'ZodError' || Array.isArray((err as { issues?: unknown }).issues);
}

/** Node's fetch hides the socket error two levels down: TypeError → cause → AggregateError/SystemError. */
function systemErrorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; isErrorLike(current) && depth < 5; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    const nested = (current as { errors?: unknown[] }).errors?.[0];
    current = (current as { cause?: unknown }).cause ?? nested;
  }
  return undefined;
}

function causeMessages(err: unknown): string[] {
  const messages: string[] = [];
  for (let current: unknown = err, depth = 0; isErrorLike(current) && depth < 5; depth++) {
    messages.push(current.message);
    current = (current as { cause?: unknown }).cause;
  }
  return messages;
}

/**
 * Errors raised inside Node's fetch come from another realm when this runs in a VM context
 * (jest), where `instanceof Error` is false; the shape is what matters.
 */
function isErrorLike(value: unknown): value is Error {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

function brief(err: unknown): string {
  const message = isErrorLike(err) ? err.message : String(err);
  return message.replace(/\s+/g, ' ').slice(0, 300);
}

import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport, SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';

export type VerifyTransport = 'streamable-http' | 'sse';

export type VerifyFailure =
  | 'invalid-url' // not an http(s) URL
  | 'connection-refused' // nothing listens there
  | 'dns' // the host name does not resolve
  | 'http-status' // an HTTP error status, e.g. 404: no MCP endpoint at that path
  | 'not-mcp' // something answered, but not with MCP JSON-RPC
  | 'timeout' // no answer within the time limit
  | 'protocol' // an MCP server that failed the handshake (e.g. no common protocol version)
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
}

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
    const attempt = await attemptWith(transport, target, deadline, timeoutMs, options.headers ?? {});
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
): Promise<Success | Failure> {
  const abort = new AbortController();
  const fetchWithAbort: FetchLike = (input, init) =>
    fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, abort.signal]) : abort.signal });
  const requestInit = { headers: { ...headers } };
  const transport =
    kind === 'streamable-http'
      ? new StreamableHTTPClientTransport(target, { fetch: fetchWithAbort, requestInit })
      : new SSEClientTransport(target, { fetch: fetchWithAbort, requestInit });
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
    return await Promise.race([work, timeout]);
  } catch (err) {
    work.catch(() => undefined);
    return new Failure(classify(err, kind, target, timeoutMs));
  } finally {
    clearTimeout(timer);
    await endSession(transport, client);
    abort.abort();
  }
}

async function listAllTools(client: Client, remaining: () => number): Promise<VerifyTool[]> {
  if (client.getServerCapabilities()?.tools === undefined) return [];
  const tools: VerifyTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: remaining() });
    tools.push(...result.tools.map(summarizeTool));
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

import type { Logger } from 'pino';
import type { ChildCommand } from './child';

/** Options of {@link startBridge}. Only `command` is required. */
export interface BridgeOptions {
  /** Executable of the stdio MCP server (no shell: pass `sh -c '...'` yourself if you need one). */
  readonly command: string;
  readonly args?: readonly string[];
  /** Environment of every child; the bridge's own environment when omitted. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;

  /**
   * Bind address. Default `0.0.0.0`, which is what a pod needs (the kubelet and the Service reach
   * it on the pod IP); anything run on a workstation or in tests binds `127.0.0.1`, as the MCP
   * spec asks of local servers.
   */
  readonly host?: string;
  /**
   * Host names (optionally `name:port`, `*.suffix`, or `*` for any) requests may be addressed
   * to; a request whose `Host` is not allowed gets 421, which defeats DNS rebinding. Loopback
   * names and the addresses the bridge listens on are always allowed.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Origins (`scheme://host[:port]`, or `*`) browser requests may come from; a request with
   * another `Origin` gets 403. Loopback origins are allowed when the bridge binds a loopback address.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Request headers that carry the client's identity; a session is bound to the values its
   * first request carried (with a TLS client certificate, if any). Default `authorization`.
   */
  readonly identityHeaders?: readonly string[];
  /** TCP port; 0 picks a free one. Default 8080. */
  readonly port?: number;
  /** Streamable HTTP endpoint. Default `/mcp`. */
  readonly path?: string;

  /** Pre-spawned (not initialized) children kept ready for new sessions. Default 1; 0 disables. */
  readonly poolSize?: number;
  /** Concurrent sessions; further initialize requests get 503. Default 100. */
  readonly maxSessions?: number;
  /** A session with no HTTP exchange open for this long is ended. Default 10 min. */
  readonly idleTimeoutMs?: number;
  /** How long a child may take to answer `initialize`. Default 30 s. */
  readonly initTimeoutMs?: number;
  /** Largest JSON-RPC message accepted in either direction. Default 4 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * Unsent bytes one client stream (legacy SSE, GET, a POST's SSE answer) or one child's stdin
   * may hold. A stream over it is disconnected (a legacy SSE session ends with it); a child
   * over it gets no more messages. Default twice `maxMessageBytes`, at least 8 MiB.
   */
  readonly maxBufferedBytes?: number;
  /** Lines per second of one child's stderr that reach the log (the rest are counted). Default 50. */
  readonly stderrLinesPerSecond?: number;
  /** Bytes per second of one child's stderr that reach the log. Default 64 KiB. */
  readonly stderrBytesPerSecond?: number;
  /** How long `close()` lets sessions with requests in flight finish. Default 20 s. */
  readonly drainGraceMs?: number;
  /** Between SIGTERM and SIGKILL of a child's process group. Default 3 s. */
  readonly killGraceMs?: number;
  /** First retry delay of a failed readiness probe; doubles up to 60 s. Default 1 s. */
  readonly probeRetryMs?: number;

  /** Logger to use; otherwise pino JSON on stderr at `logLevel`. */
  readonly logger?: Logger;
  /** Default `info`; `silent` turns logging off. */
  readonly logLevel?: string;
}

export interface ResolvedOptions {
  readonly child: ChildCommand;
  readonly host: string;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly identityHeaders: readonly string[];
  readonly maxBufferedBytes: number;
  readonly stderrLinesPerSecond: number;
  readonly stderrBytesPerSecond: number;
  readonly port: number;
  readonly path: string;
  readonly ssePath: string;
  readonly messagesPath: string;
  readonly poolSize: number;
  readonly maxSessions: number;
  readonly idleTimeoutMs: number;
  readonly initTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly drainGraceMs: number;
  readonly killGraceMs: number;
  readonly probeRetryMs: number;
}

export const DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  path: '/mcp',
  poolSize: 1,
  maxSessions: 100,
  idleTimeoutMs: 10 * 60_000,
  initTimeoutMs: 30_000,
  maxMessageBytes: 4 * 1024 * 1024,
  minBufferedBytes: 8 * 1024 * 1024,
  stderrLinesPerSecond: 50,
  stderrBytesPerSecond: 64 * 1024,
  drainGraceMs: 20_000,
  killGraceMs: 3_000,
  probeRetryMs: 1_000,
} as const;

const RESERVED_PATHS = ['/sse', '/messages', '/healthz', '/readyz', '/metrics'];

/** Applies defaults and rejects values that would make the bridge misbehave rather than fail. */
export function resolveOptions(options: BridgeOptions): ResolvedOptions {
  if (typeof options.command !== 'string' || options.command.length === 0) {
    throw new RangeError('command: the MCP server to run is required');
  }
  const path = options.path ?? DEFAULTS.path;
  if (!path.startsWith('/')) throw new RangeError(`path: must start with "/" (got "${path}")`);
  const maxMessageBytes = integer('maxMessageBytes', options.maxMessageBytes ?? DEFAULTS.maxMessageBytes, 1024, 2 ** 30);
  const maxBufferedBytes = integer(
    'maxBufferedBytes',
    options.maxBufferedBytes ?? Math.max(DEFAULTS.minBufferedBytes, 2 * maxMessageBytes),
    maxMessageBytes,
    2 ** 31 - 1,
  );
  const resolved: ResolvedOptions = {
    child: { command: options.command, args: options.args ?? [], env: options.env, cwd: options.cwd },
    host: options.host ?? DEFAULTS.host,
    allowedHosts: (options.allowedHosts ?? []).map((entry, i) => checkHostPattern(`allowedHosts[${i}]`, entry)),
    allowedOrigins: (options.allowedOrigins ?? []).map((entry, i) => checkOriginPattern(`allowedOrigins[${i}]`, entry)),
    identityHeaders: (options.identityHeaders ?? ['authorization']).map((name, i) => checkHeaderName(`identityHeaders[${i}]`, name)),
    maxBufferedBytes,
    stderrLinesPerSecond: integer('stderrLinesPerSecond', options.stderrLinesPerSecond ?? DEFAULTS.stderrLinesPerSecond, 1, 1_000_000),
    stderrBytesPerSecond: integer('stderrBytesPerSecond', options.stderrBytesPerSecond ?? DEFAULTS.stderrBytesPerSecond, 256, 2 ** 31 - 1),
    port: integer('port', options.port ?? DEFAULTS.port, 0, 65535),
    path,
    ssePath: '/sse',
    messagesPath: '/messages',
    poolSize: integer('poolSize', options.poolSize ?? DEFAULTS.poolSize, 0, 64),
    maxSessions: integer('maxSessions', options.maxSessions ?? DEFAULTS.maxSessions, 1, 100_000),
    idleTimeoutMs: integer('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs, 1, 2 ** 31 - 1),
    initTimeoutMs: integer('initTimeoutMs', options.initTimeoutMs ?? DEFAULTS.initTimeoutMs, 1, 2 ** 31 - 1),
    maxMessageBytes,
    drainGraceMs: integer('drainGraceMs', options.drainGraceMs ?? DEFAULTS.drainGraceMs, 0, 2 ** 31 - 1),
    killGraceMs: integer('killGraceMs', options.killGraceMs ?? DEFAULTS.killGraceMs, 0, 2 ** 31 - 1),
    probeRetryMs: integer('probeRetryMs', options.probeRetryMs ?? DEFAULTS.probeRetryMs, 1, 2 ** 31 - 1),
  };
  if (RESERVED_PATHS.includes(resolved.path)) {
    throw new RangeError(`path: "${path}" is reserved (${RESERVED_PATHS.join(', ')})`);
  }
  return resolved;
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}

/** `name`, `name:port`, `[v6]`, `[v6]:port`, `*.suffix` or `*`: lower-cased, checked for junk. */
function checkHostPattern(field: string, entry: string): string {
  const value = entry.trim().toLowerCase();
  if (value === '*' || /^(\*\.)?[a-z0-9_.-]+(:\d{1,5})?$/.test(value) || /^\[[0-9a-f:.]+\](:\d{1,5})?$/.test(value) || /^[0-9a-f:]+$/.test(value)) {
    return value;
  }
  const hint = value.includes('$(') ? ' (an unexpanded Kubernetes $(VAR) reference: define the variable in the container env)' : '';
  throw new RangeError(`${field}: "${entry}" is not a host name, host:port, [IPv6]:port, *.domain or *${hint}`);
}

/** `scheme://host[:port]` (what browsers send as Origin), `null`, or `*`. */
function checkOriginPattern(field: string, entry: string): string {
  const value = entry.trim().toLowerCase();
  if (value === '*' || value === 'null') return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`${field}: "${entry}" is not an origin (scheme://host[:port])`);
  }
  if (url.origin === 'null' || url.origin !== value.replace(/\/$/, '')) {
    throw new RangeError(`${field}: "${entry}" is not an origin: write it as ${url.origin === 'null' ? 'scheme://host[:port]' : url.origin} (no path)`);
  }
  return url.origin;
}

function checkHeaderName(field: string, name: string): string {
  const value = name.trim().toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(value)) throw new RangeError(`${field}: "${name}" is not an HTTP header name`);
  return value;
}

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

  /** Bind address. Default `0.0.0.0` (a pod); use `127.0.0.1` for local runs and tests. */
  readonly host?: string;
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
  const resolved: ResolvedOptions = {
    child: { command: options.command, args: options.args ?? [], env: options.env, cwd: options.cwd },
    host: options.host ?? DEFAULTS.host,
    port: integer('port', options.port ?? DEFAULTS.port, 0, 65535),
    path,
    ssePath: '/sse',
    messagesPath: '/messages',
    poolSize: integer('poolSize', options.poolSize ?? DEFAULTS.poolSize, 0, 64),
    maxSessions: integer('maxSessions', options.maxSessions ?? DEFAULTS.maxSessions, 1, 100_000),
    idleTimeoutMs: integer('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs, 1, 2 ** 31 - 1),
    initTimeoutMs: integer('initTimeoutMs', options.initTimeoutMs ?? DEFAULTS.initTimeoutMs, 1, 2 ** 31 - 1),
    maxMessageBytes: integer('maxMessageBytes', options.maxMessageBytes ?? DEFAULTS.maxMessageBytes, 1024, 2 ** 30),
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

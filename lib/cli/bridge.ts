import { Command, InvalidArgumentError, Option, type CommanderError } from 'commander';
import { startBridge, type BridgeHandle } from '../bridge/bridge';
import { formatVerifyResult, OUTPUT_FORMATS, type OutputFormat } from '../bridge/format';
import { DEFAULTS } from '../bridge/options';
import { verifyServer, type VerifyTransport } from '../bridge/verify';

/** Exit codes shared by the bridge commands: 0 ok, 1 failure, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Where a command writes and how it reports its exit code. Structurally the main CLI's
 * CliIo, so `mcp-operator` can hand its own streams in; the default is the process.
 */
export interface CommandIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  exitCode?: number;
}

export function processIo(): CommandIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    get exitCode() {
      return typeof process.exitCode === 'number' ? process.exitCode : undefined;
    },
    set exitCode(code: number | undefined) {
      process.exitCode = code;
    },
  };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

interface BridgeCommandOptions {
  port: number;
  host: string;
  path: string;
  pool: number;
  maxSessions: number;
  idleTimeout: number;
  initTimeout: number;
  grace: number;
  killGrace: number;
  maxMessageSize: number;
  maxBufferedBytes?: number;
  stderrLinesPerSecond: number;
  stderrBytesPerSecond: number;
  allowedHost: string[];
  allowedOrigin: string[];
  identityHeader: string[];
  logLevel: string;
}

/**
 * `bridge [options] -- <command> [args...]`: serve a stdio MCP server over HTTP until
 * SIGTERM/SIGINT, then drain and exit 0.
 */
export function bridgeCommand(io: CommandIo = processIo()): Command {
  const command = new Command('bridge')
    .summary('serve a stdio MCP server over streamable HTTP and legacy SSE')
    .description(
      'Serve a stdio MCP server over streamable HTTP (POST/GET/DELETE on --path) and legacy SSE ' +
        '(GET /sse + POST /messages). Every MCP session gets its own server process, taken from a warm pool ' +
        'and killed with its whole process group when the session ends.',
    )
    .argument('<command>', 'executable of the stdio MCP server (no shell)')
    .argument('[args...]', 'its arguments')
    .addOption(new Option('-p, --port <port>', 'TCP port to listen on (0 = any free port)').argParser(integer('port', 0, 65535)).default(DEFAULTS.port).env('MCP_BRIDGE_PORT'))
    .addOption(
      new Option('--host <address>', 'address to bind; the default suits a pod, use 127.0.0.1 on a workstation').default(DEFAULTS.host).env('MCP_BRIDGE_HOST'),
    )
    .addOption(
      new Option('--allowed-host <name>', 'Host a request may name (name, name:port, *.domain, * for any), repeatable; also MCP_BRIDGE_ALLOWED_HOSTS (comma-separated)')
        .argParser(collect)
        .default([], 'loopback names and the addresses the bridge listens on'),
    )
    .addOption(
      new Option('--allowed-origin <origin>', 'Origin a browser request may come from (scheme://host[:port], * for any), repeatable; also MCP_BRIDGE_ALLOWED_ORIGINS')
        .argParser(collect)
        .default([], 'none; loopback origins on a loopback bind'),
    )
    .addOption(
      new Option('--identity-header <name>', 'request header that identifies the client; a session only answers the credentials it was opened with, repeatable')
        .argParser(collect)
        .default([], 'authorization'),
    )
    .addOption(new Option('--path <path>', 'streamable HTTP endpoint').argParser(httpPath).default(DEFAULTS.path))
    .addOption(new Option('--pool <n>', 'server processes pre-spawned for new sessions (0 = none)').argParser(integer('pool', 0, 64)).default(DEFAULTS.poolSize))
    .addOption(new Option('--max-sessions <n>', 'concurrent sessions; more get HTTP 503').argParser(integer('max-sessions', 1, 100_000)).default(DEFAULTS.maxSessions))
    .addOption(new Option('--idle-timeout <seconds>', 'end a session after this long with no client connection').argParser(seconds('idle-timeout', 0.001)).default(DEFAULTS.idleTimeoutMs / 1000))
    .addOption(new Option('--init-timeout <seconds>', 'how long a server may take to answer initialize').argParser(seconds('init-timeout', 0.001)).default(DEFAULTS.initTimeoutMs / 1000))
    .addOption(new Option('--grace <seconds>', 'on SIGTERM/SIGINT, time for requests in flight to finish').argParser(seconds('grace', 0)).default(DEFAULTS.drainGraceMs / 1000))
    .addOption(new Option('--kill-grace <seconds>', 'between SIGTERM and SIGKILL of a server process group').argParser(seconds('kill-grace', 0)).default(DEFAULTS.killGraceMs / 1000))
    .addOption(new Option('--max-message-size <bytes>', 'largest JSON-RPC message in either direction').argParser(integer('max-message-size', 1024, 2 ** 30)).default(DEFAULTS.maxMessageBytes, '4 MiB'))
    .addOption(
      new Option('--max-buffered-bytes <bytes>', 'unsent bytes a client stream or a server stdin may hold; a client over it is disconnected')
        .argParser(integer('max-buffered-bytes', 1024, 2 ** 31 - 1))
        .default(undefined, 'twice --max-message-size, at least 8 MiB'),
    )
    .addOption(
      new Option('--stderr-lines-per-second <n>', 'server stderr lines logged per second and process; the rest are counted')
        .argParser(integer('stderr-lines-per-second', 1, 1_000_000))
        .default(DEFAULTS.stderrLinesPerSecond),
    )
    .addOption(
      new Option('--stderr-bytes-per-second <bytes>', 'server stderr bytes logged per second and process')
        .argParser(integer('stderr-bytes-per-second', 256, 2 ** 31 - 1))
        .default(DEFAULTS.stderrBytesPerSecond, '64 KiB'),
    )
    .addOption(new Option('--log-level <level>', 'pino log level (JSON lines on stderr)').choices(LOG_LEVELS).default('info').env('MCP_BRIDGE_LOG_LEVEL'))
    .addHelpText('after', BRIDGE_HELP)
    .action((serverCommand: string, serverArgs: string[], options: BridgeCommandOptions) => runBridge(serverCommand, serverArgs, options, io));
  return withUsageExit(command);
}

const BRIDGE_HELP = `
Put -- before the server command so that its own flags are not taken as the bridge's.

Endpoints:
  /mcp       streamable HTTP (MCP 2025-03-26 and later), Mcp-Session-Id header
  /sse       legacy SSE stream (GET), messages go to /messages?sessionId=...
  /healthz   200 while the process runs
  /readyz    200 once a server process completed the MCP initialize handshake
  /metrics   Prometheus metrics (mcp_bridge_*)

Requests must name an allowed Host (421 otherwise) and, from a browser, an allowed Origin (403
otherwise): the defence against DNS rebinding. Loopback names and the addresses the bridge listens
on are always allowed; add the names clients use (a Service's DNS names) with --allowed-host.

Exit codes: 0 after a clean shutdown, 1 when the bridge cannot start, 2 on usage errors.

Examples:
  $ mcp-operator bridge --port 8080 --allowed-host files.tools.svc -- npx -y @modelcontextprotocol/server-filesystem /data
  $ mcp-operator bridge --host 127.0.0.1 --port 3000 --pool 2 -- uvx mcp-server-fetch`;

interface VerifyCommandOptions {
  output: OutputFormat;
  timeout: number;
  transport: 'auto' | VerifyTransport;
  header: Record<string, string>;
}

/** `verify <url>`: is this a working MCP server? Exit 0 yes, 1 no (with the reason), 2 usage. */
export function verifyCommand(io: CommandIo = processIo()): Command {
  const command = new Command('verify')
    .summary('check that a URL serves a working MCP server')
    .description(
      'Connect to an MCP server over HTTP as a client would (streamable HTTP, falling back to legacy SSE), ' +
        'initialize, list its tools and end the session.',
    )
    .argument('<url>', 'MCP endpoint, e.g. http://127.0.0.1:8080/mcp or a legacy .../sse URL', httpUrl)
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .addOption(new Option('--timeout <seconds>', 'give up after this long').argParser(seconds('timeout', 0.001)).default(10))
    .addOption(new Option('--transport <kind>', 'transport to use').choices(['auto', 'streamable-http', 'sse']).default('auto'))
    .addOption(new Option('-H, --header <name:value>', 'extra HTTP header, repeatable (e.g. "Authorization: Bearer ...")').argParser(collectHeader).default({}, 'none'))
    .addHelpText('after', '\nExit codes: 0 working MCP server, 1 not (the reason is printed), 2 usage error.\n\nExample:\n  $ mcp-operator verify http://127.0.0.1:8080/mcp -o json')
    .action(async (url: string, options: VerifyCommandOptions) => {
      const result = await verifyServer(url, { timeoutMs: options.timeout * 1000, transport: options.transport, headers: options.header });
      io.stdout.write(formatVerifyResult(result, options.output));
      io.exitCode = result.ok ? EXIT_OK : EXIT_FAILURE;
    });
  return withUsageExit(command);
}

/**
 * The bridge owns its process: once started it only returns by exiting (0 after a drained
 * SIGTERM/SIGINT), so a stray handle can never keep a terminating pod alive until SIGKILL.
 */
async function runBridge(serverCommand: string, serverArgs: string[], options: BridgeCommandOptions, io: CommandIo): Promise<void> {
  let bridge: BridgeHandle;
  try {
    bridge = await startBridge({
      command: serverCommand,
      args: serverArgs,
      host: options.host,
      port: options.port,
      path: options.path,
      poolSize: options.pool,
      maxSessions: options.maxSessions,
      idleTimeoutMs: Math.round(options.idleTimeout * 1000),
      initTimeoutMs: Math.round(options.initTimeout * 1000),
      drainGraceMs: Math.round(options.grace * 1000),
      killGraceMs: Math.round(options.killGrace * 1000),
      maxMessageBytes: options.maxMessageSize,
      maxBufferedBytes: options.maxBufferedBytes,
      stderrLinesPerSecond: options.stderrLinesPerSecond,
      stderrBytesPerSecond: options.stderrBytesPerSecond,
      // Flags and environment add up: a pod's synthesized flags plus whatever its env adds.
      allowedHosts: [...options.allowedHost, ...listFromEnv('MCP_BRIDGE_ALLOWED_HOSTS')],
      allowedOrigins: [...options.allowedOrigin, ...listFromEnv('MCP_BRIDGE_ALLOWED_ORIGINS')],
      identityHeaders: options.identityHeader.length > 0 ? options.identityHeader : undefined,
      logLevel: options.logLevel,
    });
  } catch (err) {
    io.stderr.write(`error: the bridge could not start: ${(err as Error).message}\n`);
    io.exitCode = EXIT_FAILURE;
    return;
  }
  await untilStopped(bridge, io);
}

/**
 * First SIGTERM/SIGINT drains and exits 0 (what Kubernetes expects of a pod); a second one
 * gives up on draining. The bridge's exit hook still SIGKILLs every child process group.
 */
function untilStopped(bridge: BridgeHandle, io: CommandIo): Promise<void> {
  return new Promise(() => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        io.stderr.write(`received ${signal} again: stopping without draining\n`);
        process.exit(EXIT_FAILURE);
      }
      stopping = true;
      bridge.close().then(
        () => process.exit(EXIT_OK),
        (err: unknown) => {
          io.stderr.write(`error: shutdown failed: ${(err as Error).message}\n`);
          process.exit(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Commander exits 1 on usage errors by default; scripts and probes need to tell them apart. */
function withUsageExit(command: Command): Command {
  return command.exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_USAGE));
}

function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`--${name} must be an integer from ${min} to ${max}.`);
    }
    return parsed;
  };
}

function seconds(name: string, min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min) {
      throw new InvalidArgumentError(`--${name} must be a number of seconds${min > 0 ? ' greater than 0' : ''}.`);
    }
    return parsed;
  };
}

function httpPath(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError('--path must start with "/".');
  return value;
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('not a URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('only http:// and https:// URLs are supported.');
  return value;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function listFromEnv(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

function collectHeader(value: string, previous: Record<string, string>): Record<string, string> {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError('headers are written "Name: value".');
  return { ...previous, [value.slice(0, colon).trim()]: value.slice(colon + 1).trim() };
}

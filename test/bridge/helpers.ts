import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import pino, { type Logger } from 'pino';
import { startBridge, type BridgeHandle, type BridgeOptions } from '../../lib/bridge';

export const ROOT = resolve(__dirname, '../..');
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const FILESYSTEM = join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
export const FIXTURES = join(__dirname, 'fixtures');

/** server-everything over stdio, exactly as its package's start:stdio script runs it. */
export function everything(): Pick<BridgeOptions, 'command' | 'args'> {
  return { command: process.execPath, args: [EVERYTHING, 'stdio'] };
}

export function filesystem(dir: string): Pick<BridgeOptions, 'command' | 'args'> {
  return { command: process.execPath, args: [FILESYSTEM, dir] };
}

export function fixture(name: string): Pick<BridgeOptions, 'command' | 'args'> {
  return { command: process.execPath, args: [join(FIXTURES, name)] };
}

export function tempDir(prefix = 'mcp-bridge-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Captures the bridge's pino output as parsed JSON lines (MCP_TEST_LOG=1 also echoes them). */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly logger: Logger;

  constructor() {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim() === '') continue;
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
          if (process.env.MCP_TEST_LOG) process.stderr.write(`${line}\n`);
        }
        done();
      },
    });
    this.logger = pino({ level: 'debug' }, sink);
  }

  find(predicate: (line: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines.find(predicate);
  }
}

/** A bridge on 127.0.0.1, an ephemeral port and short timeouts, so tests stay bounded. */
/** Bridges started by the current test; `closeBridgesAfterEach` closes them. */
const startedBridges: BridgeHandle[] = [];

/**
 * For a test file: after each test, close every bridge the test started (and whatever `extra`
 * closes), then check that every process those bridges spawned (pool, probe, sessions) is gone.
 */
export function closeBridgesAfterEach(extra?: () => Promise<void>): void {
  let baseline: number[];
  beforeEach(() => {
    baseline = descendantsOf();
  });
  afterEach(async () => {
    for (const bridge of startedBridges.splice(0)) await bridge.close({ graceMs: 0 });
    await extra?.();
    await expectProcessesBackTo(baseline);
  });
}

export async function startTestBridge(options: Partial<BridgeOptions> & Pick<BridgeOptions, 'command'>, logs = new LogCapture()): Promise<BridgeHandle> {
  const bridge = await startBridge({
    host: '127.0.0.1',
    port: 0,
    killGraceMs: 1000,
    initTimeoutMs: 10_000,
    drainGraceMs: 5000,
    logger: logs.logger,
    ...options,
  });
  startedBridges.push(bridge);
  return bridge;
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
}

function procStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
      const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.push({ pid: Number(entry), state: rest[0]!, ppid: Number(rest[1]) });
    } catch {
      // the process exited while we listed /proc
    }
  }
  return stats;
}

/** Every process below `pid` (children, grandchildren, ...), zombies included. */
export function descendantsOf(pid = process.pid): number[] {
  const stats = procStats();
  const found: number[] = [];
  const queue = [pid];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const stat of stats) {
      if (stat.ppid === parent) {
        found.push(stat.pid);
        queue.push(stat.pid);
      }
    }
  }
  return found.sort((a, b) => a - b);
}

/** True while the pid exists at all: a zombie still counts, since nobody reaped it. */
export function processExists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Waits until no process below `pid` is left that was not there at `baseline` time. */
export async function expectProcessesBackTo(baseline: readonly number[], pid = process.pid): Promise<void> {
  const before = new Set(baseline);
  const extra = (): number[] => descendantsOf(pid).filter((p) => !before.has(p));
  await waitFor(() => extra().length === 0, `descendants of ${pid} to return to baseline (extra: ${extra().join(',')})`, 10_000);
}

export interface Connected {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport | SSEClientTransport;
}

export async function connectStreamable(
  url: string,
  capabilities: ClientCapabilities = {},
): Promise<Connected & { transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'bridge-test', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport, { timeout: 15_000 });
  return { client, transport };
}

export async function connectSse(url: string, capabilities: ClientCapabilities = {}): Promise<Connected & { transport: SSEClientTransport }> {
  const client = new Client({ name: 'bridge-test', version: '1.0.0' }, { capabilities });
  const transport = new SSEClientTransport(new URL(url));
  await client.connect(transport, { timeout: 15_000 });
  return { client, transport };
}

/** Ends a session the polite way: DELETE (streamable) and close. */
export async function disconnect({ client, transport }: Connected): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => undefined);
  await client.close();
}

export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content
    .filter((item) => item.type === 'text')
    .map((item) => item.text ?? '')
    .join('\n');
}

/** The value of a Prometheus sample, e.g. metric(text, 'mcp_bridge_sessions_total', {transport: 'sse'}). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

export async function metricsText(bridge: BridgeHandle): Promise<string> {
  return bridge.metrics.metrics();
}

/** Bundles lib/cli/bridge-standalone.ts the way hack/build-bridge.sh does, for subprocess tests. */
export async function bundleStandalone(): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = join(tempDir('mcp-bridge-bundle-'), 'mcp-bridge.cjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'lib/cli/bridge-standalone.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

export interface Spawned {
  readonly proc: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnNode(args: readonly string[], cwd = ROOT): Spawned {
  const proc = spawn(process.execPath, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    proc.on('close', (code, signal) => resolveExit({ code, signal })),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Runs to completion with a hard time limit. */
export async function runNode(args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnNode(args);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** The URL a subprocess bridge logged when it started listening. */
export async function listeningUrl(child: Spawned): Promise<string> {
  return waitFor(() => {
    for (const line of child.stderr().split('\n')) {
      if (!line.includes('mcp bridge listening')) continue;
      return (JSON.parse(line) as { url: string }).url;
    }
    return undefined;
  }, 'the bridge to log its URL');
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as { port: number };
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}

import { readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { FIXTURES, bundleStandalone, listeningUrl, spawnNode, type Spawned } from '../../bridge/helpers';

// The bridge as its own process (the standalone entry bundled as hack/build-bridge.sh does), so
// that its RSS and its log are its own and not the test runner's.

let bundle: string | undefined;

export async function bridgeBundle(): Promise<string> {
  bundle ??= await bundleStandalone();
  return bundle;
}

export function removeBridgeBundle(): void {
  if (bundle !== undefined) rmSync(dirname(bundle), { recursive: true, force: true });
  bundle = undefined;
}

export interface SubprocessBridge {
  readonly child: Spawned;
  readonly port: number;
  readonly base: string;
  /** Resident set size of the bridge process, in MiB. */
  rssMiB(): number;
  /** Bytes the bridge wrote to its log (stderr) so far. */
  logBytes(): number;
  stop(): Promise<void>;
}

/** `mcp-bridge serve` on 127.0.0.1 with the flood fixture as its server (`mode`: see flood-server.js). */
export async function startFloodBridge(mode: string, extraArgs: readonly string[] = []): Promise<SubprocessBridge> {
  const file = await bridgeBundle();
  const child = spawnNode([file, 'serve', '--host', '127.0.0.1', '--port', '0', '--pool', '0', '--kill-grace', '1', ...extraArgs, '--', process.execPath, join(FIXTURES, 'flood-server.js'), mode]);
  const url = new URL(await listeningUrl(child));
  let logged = 0;
  child.proc.stderr!.on('data', (chunk: Buffer) => (logged += chunk.length));
  return {
    child,
    port: Number(url.port),
    base: `http://127.0.0.1:${url.port}`,
    rssMiB: () => rssMiB(child.proc.pid!),
    logBytes: () => logged,
    stop: async () => {
      child.proc.kill('SIGTERM');
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Samples `probe` every 100 ms until stopped; the highest value seen. */
export function peakOf(probe: () => number): { stop(): number } {
  let peak = probe();
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, probe());
    } catch {
      // the process is gone
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

export interface StalledStream {
  readonly socket: Socket;
  /** What arrived before the client stopped reading (head and first event). */
  readonly received: string;
  /** Resolves when the bridge closed the connection. */
  readonly closed: Promise<void>;
}

/**
 * A client that opens an event stream, reads its head (and the first event, when `firstEvent`),
 * then never reads again: the slow or vanished reader the bridge must not buffer for.
 */
export function stalledEventStream(port: number, path: string, headers: Record<string, string> = {}, firstEvent = false): Promise<StalledStream> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolveClosed) => socket.once('close', () => resolveClosed()));
    socket.once('error', reject);
    const lines = Object.entries({ Host: `127.0.0.1:${port}`, Accept: 'text/event-stream', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('utf8');
      const head = received.indexOf('\r\n\r\n');
      if (head === -1 || (firstEvent && !received.slice(head + 4).includes('\n\n'))) return;
      socket.removeListener('data', onData);
      socket.pause();
      resolve({ socket, received, closed });
    };
    socket.on('data', onData);
  });
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hostile-test', version: '1' } },
} as const;

export const STREAMABLE_HEADERS = { 'content-type': 'application/json', 'accept': 'application/json, text/event-stream' } as const;

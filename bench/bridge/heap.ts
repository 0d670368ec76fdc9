/**
 * Leak check with forced garbage collection: the bridge runs in this process (node
 * --expose-gc), sessions go through it one after another, and the live heap is measured after
 * a full GC at checkpoints. RSS alone cannot tell a leak from V8 sizing its heap to the
 * allocation rate; the live heap can. Prints one JSON document; bench.ts runs it.
 *
 *   node --expose-gc -r ts-node/register/transpile-only bench/bridge/heap.ts [sessions]
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pino from 'pino';
import { startBridge } from '../../lib/bridge';

interface HeapPoint {
  readonly sessions: number;
  readonly heapUsedMiB: number;
  readonly children: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsedMiB(): number {
  gc!();
  gc!();
  return Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10;
}

async function session(url: string): Promise<void> {
  const client = new Client({ name: 'heap-check', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport, { timeout: 30_000 });
  await client.listTools(undefined, { timeout: 30_000 });
  await transport.terminateSession();
  await client.close();
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const total = Number(process.argv[2] ?? 2000);
  const deadline = Date.now() + 10 * 60_000;
  const bridge = await startBridge({
    command: process.execPath,
    args: [join(__dirname, 'tiny-server.js')],
    host: '127.0.0.1',
    port: 0,
    poolSize: 2,
    logger: pino({ level: 'silent' }),
  });
  const points: HeapPoint[] = [];
  const mark = (sessions: number): void => {
    points.push({ sessions, heapUsedMiB: heapUsedMiB(), children: bridge.stats().children });
  };
  // The first sessions fill caches, JIT code and the tombstone map (bounded at 1,000): warm up.
  for (let i = 0; i < 1000; i++) await session(bridge.url);
  mark(0);
  for (let i = 1; i <= total && Date.now() < deadline; i++) {
    await session(bridge.url);
    if (i % Math.max(1, Math.floor(total / 4)) === 0) mark(i);
  }
  await bridge.close({ graceMs: 0 });
  process.stdout.write(`${JSON.stringify({ total, points })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`heap check failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

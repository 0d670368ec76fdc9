/**
 * Benchmarks the in-pod bridge against supergateway, side by side in one run, both serving
 * server-everything over stateful streamable HTTP on 127.0.0.1.
 *
 *   npx ts-node --transpile-only bench/bridge/bench.ts            # writes bench/bridge/RESULTS.md
 *   BENCH_SEQUENTIAL=200 BENCH_HEAP=500 npx ts-node --transpile-only bench/bridge/bench.ts   # quicker
 *
 * One "session" is what a short-lived client does: connect + initialize + tools/list + DELETE.
 * Every phase is bounded in count and in time (BENCH_MAX_MINUTES overall).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { intEnv, log } from '../common';

const ROOT = resolve(__dirname, '../..');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const SUPERGATEWAY = join(ROOT, 'node_modules/supergateway/dist/index.js');
const SUPERGATEWAY_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules/supergateway/package.json'), 'utf8')) as { version: string }).version;

const LATENCY_SESSIONS = intEnv('BENCH_LATENCY', 30);
const LATENCY_PAUSE_MS = intEnv('BENCH_PAUSE_MS', 500);
const THROUGHPUT_SESSIONS = intEnv('BENCH_THROUGHPUT', 60);
const THROUGHPUT_CONCURRENCY = intEnv('BENCH_CONCURRENCY', 4);
const CONCURRENCY_LEVELS = [1, 10, 100];
const SEQUENTIAL_SESSIONS = intEnv('BENCH_SEQUENTIAL', 1000);
const HEAP_SESSIONS = intEnv('BENCH_HEAP', 2000);
const DEADLINE = Date.now() + intEnv('BENCH_MAX_MINUTES', 45) * 60_000;

interface Target {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<number | null>;
}

interface LatencyStats {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

interface MemoryPoint {
  readonly sessions: number;
  readonly serverRssMiB: number;
  readonly children: number;
  readonly treeRssMiB: number;
}

function timeLeft(): boolean {
  return Date.now() < DEADLINE;
}

// ---------------------------------------------------------------- processes and /proc

function procStat(pid: number): { ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { ppid: Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]) };
  } catch {
    return undefined;
  }
}

function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) parents.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function rssKiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function memory(target: Target, sessions: number): MemoryPoint {
  const children = descendants(target.pid);
  const tree = children.reduce((sum, pid) => sum + rssKiB(pid), rssKiB(target.pid));
  return { sessions, serverRssMiB: mib(rssKiB(target.pid)), children: children.length, treeRssMiB: mib(tree) };
}

function mib(kib: number): number {
  return Math.round((kib / 1024) * 10) / 10;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

function startProcess(args: readonly string[]): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    // Keep only the tail: 1,000 sessions of JSON logs are not worth holding.
    err = (err + chunk.toString('utf8')).slice(-64 * 1024);
  });
  const exited = new Promise<number | null>((done) => proc.on('exit', (code) => done(code)));
  return { proc, stderr: () => err, exited };
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function stopProcess(proc: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function bundleBridge(): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = join(mkdtempSync(join(tmpdir(), 'mcp-bridge-bench-')), 'mcp-bridge.cjs');
  await esbuild.build({ entryPoints: [join(ROOT, 'lib/cli/bridge-standalone.ts')], bundle: true, platform: 'node', target: 'node22', format: 'cjs', outfile, logLevel: 'error' });
  return outfile;
}

async function startBridge(bundle: string, pool: number): Promise<Target> {
  const port = await freePort();
  const child = startProcess([
    bundle,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--pool',
    String(pool),
    '--max-sessions',
    '300',
    '--log-level',
    'warn',
    '--',
    process.execPath,
    EVERYTHING,
    'stdio',
  ]);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil('the bridge to be ready', async () => (await fetch(`${base}/readyz`)).status === 200);
  // Let the pool fill before measuring anything.
  await waitUntil('the warm pool to fill', async () => ((await (await fetch(`${base}/readyz`)).json()) as { poolIdle: number }).poolIdle >= pool);
  return { name: pool === 0 ? 'bridge (pool 0, cold)' : `bridge (pool ${pool})`, url: `${base}/mcp`, pid: child.proc.pid!, stop: () => stopProcess(child.proc, child.exited) };
}

async function startSupergateway(): Promise<Target> {
  const port = await freePort();
  const child = startProcess([
    SUPERGATEWAY,
    '--stdio',
    `${process.execPath} ${EVERYTHING} stdio`,
    '--outputTransport',
    'streamableHttp',
    '--stateful',
    '--port',
    String(port),
    '--logLevel',
    'none',
  ]);
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitUntil('supergateway to accept connections', async () => {
    await session(url);
    return true;
  });
  return { name: `supergateway ${SUPERGATEWAY_VERSION} (--stateful)`, url, pid: child.proc.pid!, stop: () => stopProcess(child.proc, child.exited) };
}

// ---------------------------------------------------------------- MCP sessions

async function openSession(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'bridge-bench', version: '1.0.0' }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  client.onerror = () => undefined;
  await client.connect(transport, { timeout: 120_000 });
  return { client, transport };
}

async function closeSession({ client, transport }: { client: Client; transport: StreamableHTTPClientTransport }): Promise<void> {
  await transport.terminateSession().catch(() => undefined);
  await client.close();
}

/** connect + initialize + tools/list + DELETE; returns milliseconds. */
async function session(url: string): Promise<number> {
  const started = performance.now();
  const conn = await openSession(url);
  const tools = await conn.client.listTools(undefined, { timeout: 120_000 });
  if (tools.tools.length === 0) throw new Error('server-everything listed no tools');
  await closeSession(conn);
  return performance.now() - started;
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  return { n: sorted.length, mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length), p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(sorted.at(-1) ?? NaN) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

// ---------------------------------------------------------------- phases

/** Sessions one at a time with a pause between: an interactive load the warm pool keeps up with. */
async function latencyPhase(target: Target): Promise<LatencyStats> {
  await session(target.url); // warm-up, not counted
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SESSIONS && timeLeft(); i++) {
    await sleep(LATENCY_PAUSE_MS);
    samples.push(await session(target.url));
  }
  return stats(samples);
}

/** Back-to-back sessions from several clients at once. */
async function throughputPhase(target: Target): Promise<{ sessionsPerSecond: number; latency: LatencyStats }> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < THROUGHPUT_SESSIONS && timeLeft()) {
      next++;
      samples.push(await session(target.url));
    }
  };
  await Promise.all(Array.from({ length: THROUGHPUT_CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { sessionsPerSecond: round(samples.length / seconds), latency: stats(samples) };
}

/** Memory with N sessions open at once (each did tools/list), opened in batches of 10. */
async function concurrencyPhase(target: Target): Promise<MemoryPoint[]> {
  const open: Awaited<ReturnType<typeof openSession>>[] = [];
  const points: MemoryPoint[] = [];
  try {
    for (const level of CONCURRENCY_LEVELS) {
      while (open.length < level && timeLeft()) {
        const batch = Math.min(10, level - open.length);
        const opened = await Promise.all(
          Array.from({ length: batch }, async () => {
            const conn = await openSession(target.url);
            await conn.client.listTools(undefined, { timeout: 120_000 });
            return conn;
          }),
        );
        open.push(...opened);
      }
      await sleep(1000);
      points.push(memory(target, open.length));
      log(`${target.name}: ${open.length} open sessions, ${JSON.stringify(points.at(-1))}`);
    }
  } finally {
    await Promise.all(open.map((conn) => closeSession(conn).catch(() => undefined)));
  }
  return points;
}

/** The leak test: many sessions one after another, memory and process count along the way. */
async function sequentialPhase(target: Target): Promise<{ points: MemoryPoint[]; completed: number; seconds: number; failures: number }> {
  await sleep(2000);
  const points: MemoryPoint[] = [memory(target, 0)];
  const checkpoint = Math.max(1, Math.floor(SEQUENTIAL_SESSIONS / 10));
  const started = performance.now();
  let completed = 0;
  let failures = 0;
  for (let i = 1; i <= SEQUENTIAL_SESSIONS && timeLeft(); i++) {
    try {
      await session(target.url);
      completed++;
    } catch (err) {
      failures++;
      if (failures <= 3) log(`${target.name}: session ${i} failed: ${(err as Error).message}`);
    }
    if (i % checkpoint === 0) {
      points.push(memory(target, i));
      log(`${target.name}: ${i} sequential sessions, ${JSON.stringify(points.at(-1))}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await sleep(3000); // let the last session's process exit
  points.push({ ...memory(target, completed), sessions: -1 });
  return { points, completed, seconds: round(seconds), failures };
}

interface HeapCheck {
  readonly total: number;
  readonly points: readonly { sessions: number; heapUsedMiB: number; children: number }[];
}

/** Runs heap.ts (the bridge in-process, forced GC) in its own node. */
async function heapCheck(): Promise<HeapCheck> {
  const child = spawn(process.execPath, ['--expose-gc', '-r', 'ts-node/register/transpile-only', join(__dirname, 'heap.ts'), String(HEAP_SESSIONS)], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`heap.ts exited ${code}`);
  return JSON.parse(out) as HeapCheck;
}

// ---------------------------------------------------------------- report

interface TargetResults {
  name: string;
  latency?: LatencyStats;
  throughput?: { sessionsPerSecond: number; latency: LatencyStats };
  concurrency?: MemoryPoint[];
  sequential?: { points: MemoryPoint[]; completed: number; seconds: number; failures: number };
  exitCode?: number | null;
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux, node ${process.version}`;
}

/** The second half of the run is where a leak shows: by then V8 has sized its heap. */
function leakSummary(name: string, points: readonly MemoryPoint[]): string {
  const half = points.find((p) => p.sessions >= SEQUENTIAL_SESSIONS / 2);
  const after = points.at(-1);
  if (half === undefined || after === undefined) return `- ${name}: run too short to judge`;
  const growth = round(after.serverRssMiB - half.serverRssMiB);
  return `- ${name}: server RSS ${half.serverRssMiB} → ${after.serverRssMiB} MiB (${growth >= 0 ? '+' : ''}${growth}) from session ${half.sessions} to the end; ${after.children} child processes afterwards.`;
}

function load(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

function report(results: TargetResults[], heap: HeapCheck | undefined, startedAt: Date, minutes: number, loadAtStart: string): string {
  const warm = results.find((r) => r.name.startsWith('bridge (pool 2'));
  const sg = results.find((r) => r.name.startsWith('supergateway'));
  const speedup = warm?.latency && sg?.latency ? round(sg.latency.p50 / warm.latency.p50) : undefined;
  const lines: string[] = [
    '# Bridge benchmark',
    '',
    `Run ${startedAt.toISOString()} on ${machine()} (\`nproc\` = ${cpus().length}), ${round(minutes)} min.`,
    `Load average (1/5/15 min) at start: ${loadAtStart}; at end: ${load()}. The targets run one after another in the same run.`,
    'Every target serves `@modelcontextprotocol/server-everything` (stdio) over stateful streamable HTTP on 127.0.0.1;',
    'clients are `@modelcontextprotocol/sdk` `Client` + `StreamableHTTPClientTransport` in the benchmark process.',
    'A session = connect + initialize + tools/list + DELETE (what `mcp-operator verify` or a short-lived agent does).',
    '',
    'Reproduce:',
    '',
    '```',
    'export PATH=$HOME/.cache/mcp-operator/node-24/node_modules/.bin:$PATH',
    'cd /work/main && npx ts-node --transpile-only bench/bridge/bench.ts',
    '```',
    '',
    `## Per-session latency, sequential with ${LATENCY_PAUSE_MS} ms between sessions (ms)`,
    '',
    '| target | n | mean | p50 | p95 | p99 | max |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.filter((r) => r.latency).map((r) => `| ${r.name} | ${r.latency!.n} | ${r.latency!.mean} | ${r.latency!.p50} | ${r.latency!.p95} | ${r.latency!.p99} | ${r.latency!.max} |`),
    '',
    speedup === undefined ? '' : `Warm pool vs supergateway, p50: **${speedup}× faster** (target ≥ 5×).`,
    '',
    `## Throughput: ${THROUGHPUT_SESSIONS} sessions from ${THROUGHPUT_CONCURRENCY} concurrent clients, back to back`,
    '',
    '| target | sessions/s | mean ms | p50 | p95 |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.filter((r) => r.throughput).map((r) => `| ${r.name} | ${r.throughput!.sessionsPerSecond} | ${r.throughput!.latency.mean} | ${r.throughput!.latency.p50} | ${r.throughput!.latency.p95} |`),
    '',
    '## Memory with N sessions open at once',
    '',
    'Server RSS is the bridge (or supergateway) process alone; the tree adds every server process under it.',
    '',
    '| target | open sessions | server RSS MiB | child processes | tree RSS MiB |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.flatMap((r) => (r.concurrency ?? []).map((p) => `| ${r.name} | ${p.sessions} | ${p.serverRssMiB} | ${p.children} | ${p.treeRssMiB} |`)),
    '',
    `## ${SEQUENTIAL_SESSIONS} sequential sessions (leak check)`,
    '',
    '"after" is measured 3 s after the last session ended.',
    '',
    '| target | after N sessions | server RSS MiB | child processes | tree RSS MiB |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.flatMap((r) => (r.sequential?.points ?? []).map((p) => `| ${r.name} | ${p.sessions === -1 ? 'after' : p.sessions} | ${p.serverRssMiB} | ${p.children} | ${p.treeRssMiB} |`)),
    '',
    ...results.filter((r) => r.sequential).map((r) => leakSummary(r.name, r.sequential!.points)),
    '',
    '| target | completed | failed | seconds | sessions/s | exit code on SIGTERM |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...results
      .filter((r) => r.sequential)
      .map((r) => `| ${r.name} | ${r.sequential!.completed} | ${r.sequential!.failures} | ${r.sequential!.seconds} | ${round(r.sequential!.completed / r.sequential!.seconds)} | ${r.exitCode} |`),
    '',
    ...(heap === undefined
      ? []
      : [
        `## Live heap after forced GC, ${heap.total} sessions after a 1,000-session warm-up (bench/bridge/heap.ts)`,
        '',
        'The bridge runs in-process under `node --expose-gc` with a minimal stdio server (bench/bridge/tiny-server.js),',
        'so the numbers are the bridge (and the benchmark client) alone. A leak grows with the session count.',
        '',
        '| after N sessions | heap used MiB | child processes |',
        '| ---: | ---: | ---: |',
        ...heap.points.map((p) => `| ${p.sessions} | ${p.heapUsedMiB} | ${p.children} |`),
        '',
      ]),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function measure(start: () => Promise<Target>, phases: { latency?: boolean; throughput?: boolean; concurrency?: boolean; sequential?: boolean }): Promise<TargetResults> {
  const target = await start();
  const result: TargetResults = { name: target.name };
  log(`measuring ${target.name} at ${target.url}`);
  try {
    if (phases.latency) result.latency = await latencyPhase(target);
    if (phases.latency) log(`${target.name}: latency ${JSON.stringify(result.latency)}`);
    if (phases.throughput && timeLeft()) result.throughput = await throughputPhase(target);
    if (phases.throughput) log(`${target.name}: throughput ${JSON.stringify(result.throughput)}`);
    if (phases.concurrency && timeLeft()) result.concurrency = await concurrencyPhase(target);
    if (phases.sequential && timeLeft()) result.sequential = await sequentialPhase(target);
  } finally {
    result.exitCode = await target.stop();
    await sleep(1000);
    const leftovers = descendants(target.pid).length;
    if (leftovers > 0) log(`${target.name}: ${leftovers} processes left after stop`);
  }
  return result;
}

async function main(): Promise<void> {
  if (!existsSync(EVERYTHING) || !existsSync(SUPERGATEWAY)) throw new Error('run npm ci first: server-everything or supergateway is missing');
  const startedAt = new Date();
  const loadAtStart = load();
  const bundle = await bundleBridge();
  const results: TargetResults[] = [];
  results.push(await measure(() => startBridge(bundle, 0), { latency: true, throughput: true }));
  results.push(await measure(() => startBridge(bundle, 2), { latency: true, throughput: true, concurrency: true, sequential: true }));
  results.push(await measure(startSupergateway, { latency: true, throughput: true, concurrency: true, sequential: true }));
  const heap = timeLeft() ? await heapCheck() : undefined;
  const markdown = report(results, heap, startedAt, (Date.now() - startedAt.getTime()) / 60_000, loadAtStart);
  writeFileSync(join(__dirname, 'RESULTS.md'), markdown);
  process.stdout.write(markdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

/**
 * Controller benchmark against the test control plane (etcd + kube-apiserver on loopback, from
 * hack/control-plane.sh; the benchmark runs a private instance of it and restarts it before every phase):
 *
 *   1. lower bound: a bare loop of server-side applies of the same desired objects, plus the status,
 *      for N existing MCPServers, with the controller's concurrency;
 *   2. the controller (a real `mcp-operator controller` process) started on N existing MCPServers:
 *      time until every object is applied and every status set; its RSS;
 *   3. a resync of the N unchanged servers: API writes during it (target 0);
 *   4. N MCPServers created while the controller runs (with a capped V8 young generation).
 *
 *   npx tsc --build && npx ts-node --transpile-only bench/controller/bench.ts     # writes bench/controller/RESULTS.md
 *   BENCH_N=200 BENCH_ROUNDS=1 npx ts-node --transpile-only bench/controller/bench.ts   # quicker
 *
 * Every wait is bounded (BENCH_MAX_MINUTES overall); nothing leaves loopback.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { Informer } from '../../lib/controller/informer';
import { apiVersionOf, KubeClient, KubeObject, MCP_SERVER, OWNED_TYPES, typeOf } from '../../lib/controller/kube';
import { loadConnection } from '../../lib/controller/kubeconfig';
import { selectorFor, serverUrl } from '../../lib/controller/reconciler';
import { computeStatus } from '../../lib/controller/status';
import { mcpServerCrd } from '../../lib/spec/crd';
import { MCPServerResource } from '../../lib/spec/mcpserver';
import { desired, toYaml } from '../../lib/synth';
import { startControlPlane, stopControlPlane } from '../../test/support/control-plane';
import { intEnv, log } from '../common';

const ROOT = resolve(__dirname, '../..');
const N = intEnv('BENCH_N', 1000);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 4);
const RESYNC_SECONDS = intEnv('BENCH_RESYNC_SECONDS', 30);
/** Young-generation cap for the memory comparison: V8 otherwise sizes it for the whole host's RAM. */
const TUNED_NODE_OPTIONS = process.env.BENCH_TUNED_NODE_OPTIONS ?? '--max-semi-space-size=2';
const DEADLINE = Date.now() + intEnv('BENCH_MAX_MINUTES', 30) * 60_000;
const silent = pino({ level: 'silent' });

function remaining(): number {
  const left = DEADLINE - Date.now();
  if (left <= 0) throw new Error('BENCH_MAX_MINUTES exceeded');
  return left;
}

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, intervalMs = 100): Promise<void> {
  while (!(await probe())) {
    if (remaining() <= 0) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
async function pool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

function serverDoc(name: string, i: number): KubeObject {
  return {
    apiVersion: 'mcp.io/v1',
    kind: 'MCPServer',
    metadata: { name },
    spec: { image: 'ghcr.io/example/mcp-server', tag: `v${i % 7}`, env: [{ name: 'INDEX', value: String(i) }] },
  };
}

async function createServers(client: KubeClient, namespace: string, names: readonly string[]): Promise<void> {
  await pool(names.map((name, i) => ({ name, i })), 8, async ({ name, i }) => {
    await client.create(MCP_SERVER, { ...serverDoc(name, i), metadata: { name, namespace } });
  });
}

function kubectl(args: string[], input?: string): string {
  const conn = JSON.parse(readFileSync(join(STATE, 'connection.json'), 'utf8')) as { kubectlPath: string; kubeconfigPath: string };
  const res = spawnSync(conn.kubectlPath, [`--kubeconfig=${conn.kubeconfigPath}`, ...args], { input, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

/**
 * The test control plane's Service range is a /24 (about 250 ClusterIPs), too small for the
 * benchmark's Services. Adds a second range through the ServiceCIDR API and marks it Ready, which the
 * service-CIDR controller of kube-controller-manager would do (it does not run here).
 */
function addServiceAddresses(): void {
  const name = 'mcp-operator-bench';
  kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs: ['10.128.0.0/16'] } }));
  const ready = { type: 'Ready', status: 'True', reason: 'Benchmark', message: 'marked ready by bench/controller (no kube-controller-manager)', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  kubectl(['patch', 'servicecidr', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [ready] } })]);
}

async function namespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.create({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

// ---------------------------------------------------------------- 1. the lower bound

/** What the controller must at least do per server: apply each desired object and the status. */
async function bareApplyLoop(client: KubeClient, namespace: string, servers: readonly KubeObject[]): Promise<number> {
  const started = performance.now();
  await pool(servers, CONCURRENCY, async (cr) => {
    const resource = { ...cr, metadata: { name: cr.metadata.name, namespace } } as unknown as MCPServerResource;
    const owner = { apiVersion: apiVersionOf(MCP_SERVER), kind: 'MCPServer', name: cr.metadata.name, uid: cr.metadata.uid!, controller: true, blockOwnerDeletion: true };
    let deployment: KubeObject | undefined;
    for (const obj of desired(resource)) {
      const applied = await client.apply<KubeObject>(typeOf(obj)!, { ...obj, metadata: { ...obj.metadata, namespace, ownerReferences: [owner] } } as KubeObject);
      if (obj.kind === 'Deployment') deployment = applied;
    }
    const status = computeStatus(undefined, { generation: 1, terminating: false, selector: selectorFor(cr.metadata.name), deployment, url: serverUrl(resource, namespace) }, new Date().toISOString());
    await client.apply(MCP_SERVER, { apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: cr.metadata.name, namespace }, status }, 'status');
  });
  return performance.now() - started;
}

// ---------------------------------------------------------------- 2-4. the controller process

interface ControllerProc {
  readonly child: ChildProcess;
  readonly metricsUrl: Promise<string>;
  readonly startedAt: number;
}

function controllerArgv(): string[] {
  const bin = join(ROOT, 'bin/mcp-operator.js');
  const probe = spawnSync(process.execPath, [bin, 'controller', '--help'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.includes('--leader-elect')) return [bin, 'controller'];
  return [join(ROOT, 'test/controller/fixtures/controller-cli.js'), 'controller'];
}

function startControllerProcess(kubeconfig: string, ns: string, nodeOptions = ''): ControllerProc {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [...controllerArgv(), '--kubeconfig', kubeconfig, '--namespace', ns, '--concurrency', String(CONCURRENCY),
    '--resync-period', `${RESYNC_SECONDS}s`, '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0', '--log-level', 'info'],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: nodeOptions } });
  const metricsUrl = new Promise<string>((resolveUrl, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"controller started"')) continue;
        resolveUrl(`http://${(JSON.parse(line) as { metrics: string }).metrics}/metrics`);
      }
    });
    child.on('exit', (code) => reject(new Error(`controller exited with ${code}`)));
  });
  return { child, metricsUrl, startedAt };
}

function parseMetrics(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? ([-+0-9.eE]+|NaN)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const WRITES = new Set(['apply', 'apply/status', 'patch', 'create', 'update', 'delete']);

async function scrape(url: string): Promise<{ writes: number; reconciles: number; reconcileSeconds: number; rssBytes: number }> {
  const samples = parseMetrics(await (await fetch(url)).text());
  const sum = (pred: (s: (typeof samples)[number]) => boolean) => samples.filter(pred).reduce((a, s) => a + s.value, 0);
  return {
    writes: sum((s) => s.name === 'mcp_operator_api_requests_total' && WRITES.has(s.labels.verb ?? '') && s.labels.resource !== 'leases'),
    reconciles: sum((s) => s.name === 'mcp_operator_reconcile_total'),
    reconcileSeconds: sum((s) => s.name === 'mcp_operator_reconcile_duration_seconds_sum'),
    rssBytes: sum((s) => s.name === 'process_resident_memory_bytes'),
  };
}

function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Counts watch events of the server and owned kinds in `ns`: any event means some write happened. */
class WriteWatcher {
  private readonly informers: Informer<KubeObject>[];
  events = 0;

  constructor(client: KubeClient, ns: string) {
    this.informers = [MCP_SERVER, ...OWNED_TYPES].map((type) => new Informer<KubeObject>(client, type, { namespace: ns, log: silent }));
    for (const informer of this.informers) {
      informer.on({ add: () => this.events++, update: () => this.events++, delete: () => this.events++ });
    }
  }

  async start(): Promise<void> {
    for (const i of this.informers) i.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  servers(): KubeObject[] {
    return this.informers[0]!.list();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}

function converged(servers: readonly KubeObject[], n: number): number {
  return servers.filter((s) => (s.status as { observedGeneration?: number } | undefined)?.observedGeneration === s.metadata.generation).length === n ? n : 0;
}

async function countObjects(client: KubeClient, ns: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const type of OWNED_TYPES) counts[type.kind] = (await client.list(type, ns, { labelSelector: 'app.kubernetes.io/managed-by=mcp-operator' })).items.length;
  return counts;
}

// ---------------------------------------------------------------- the private control plane

/**
 * The benchmark runs its own instance of the test control plane (hack/control-plane.sh with a state
 * dir of its own, so a shared one is never touched) and resets it before every phase: what a write
 * costs the API server grows with what etcd already holds (ClusterIP allocation most of all), so
 * every phase starts from the same empty cluster.
 */
const STATE = process.env.BENCH_CP_STATE ?? '/tmp/mcp-operator-bench-cp';
process.env.MCP_OPERATOR_CP_STATE = STATE;

interface Cluster {
  readonly client: KubeClient;
  readonly kubeconfig: string;
  readonly k8sVersion: string;
  readonly etcdVersion: string;
}

let current: Cluster | undefined;

async function freshCluster(): Promise<Cluster> {
  await current?.client.close();
  await stopControlPlane();
  const cp = await startControlPlane();
  kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=bench', '-f', '-'], toYaml([mcpServerCrd()]));
  kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/mcpservers.mcp.io']);
  addServiceAddresses();
  current = { client: new KubeClient(loadConnection(cp.kubeconfigPath)), kubeconfig: cp.kubeconfigPath, k8sVersion: cp.k8sVersion, etcdVersion: cp.etcdVersion };
  return current;
}

// ---------------------------------------------------------------- CPU accounting

function controlPlanePids(): { apiserver: number; etcd: number } {
  const env = readFileSync(join(STATE, 'state.env'), 'utf8');
  const pid = (key: string) => Number(new RegExp(`^${key}=(\\d+)`, 'm').exec(env)?.[1]);
  return { apiserver: pid('ST_APISERVER_PID'), etcd: pid('ST_ETCD_PID') };
}

/** user + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface CpuSnapshot {
  readonly apiserver: number;
  readonly etcd: number;
  readonly client: number;
}

function cpuNow(clientPid: number): CpuSnapshot {
  const { apiserver, etcd } = controlPlanePids();
  return { apiserver: cpuSeconds(apiserver), etcd: cpuSeconds(etcd), client: cpuSeconds(clientPid) };
}

function cpuSince(before: CpuSnapshot, clientPid: number): CpuSnapshot {
  const now = cpuNow(clientPid);
  return { apiserver: now.apiserver - before.apiserver, etcd: now.etcd - before.etcd, client: now.client - before.client };
}

// ---------------------------------------------------------------- phases

interface Phase {
  readonly ms: number;
  readonly cpu: CpuSnapshot;
  readonly load: number;
}

/** The lower bound on a fresh cluster, with the same watch the controller phase is measured by. */
async function boundPhase(names: readonly string[]): Promise<Phase> {
  const { client } = await freshCluster();
  const ns = await namespace(client, 'bench-bound');
  await createServers(client, ns, names);
  const servers = (await client.list(MCP_SERVER, ns)).items;
  const watcher = new WriteWatcher(client, ns);
  await watcher.start();
  const load = loadavg()[0]!;
  const start = cpuNow(process.pid);
  const ms = await bareApplyLoop(client, ns, servers);
  const cpu = cpuSince(start, process.pid);
  await watcher.stop();
  log(`bound: ${Math.round(ms)} ms`);
  return { ms, cpu, load };
}

interface ControllerPhase extends Phase {
  readonly startupMs: number;
  readonly writes: number;
  readonly proc: ControllerProc;
  readonly watcher: WriteWatcher;
  readonly metricsUrl: string;
  readonly ns: string;
  readonly cluster: Cluster;
}

async function controllerPhase(names: readonly string[]): Promise<ControllerPhase> {
  const cluster = await freshCluster();
  const ns = await namespace(cluster.client, 'bench-ctrl');
  await createServers(cluster.client, ns, names);
  const watcher = new WriteWatcher(cluster.client, ns);
  await watcher.start();
  const load = loadavg()[0]!;
  const proc = startControllerProcess(cluster.kubeconfig, ns);
  const start = cpuNow(proc.child.pid!);
  const metricsUrl = await proc.metricsUrl;
  const startupMs = performance.now() - proc.startedAt;
  await waitUntil('every status', () => converged(watcher.servers(), N) === N, 50);
  const ms = performance.now() - proc.startedAt;
  const cpu = cpuSince(start, proc.child.pid!);
  const { writes } = await scrape(metricsUrl);
  log(`controller: ${Math.round(ms)} ms (process start to ready ${Math.round(startupMs)} ms)`);
  return { ms, cpu, load, startupMs, writes, proc, watcher, metricsUrl, ns, cluster };
}

async function stopController(run: ControllerPhase): Promise<void> {
  run.proc.child.kill('SIGTERM');
  await new Promise((r) => run.proc.child.once('exit', r));
  await run.watcher.stop();
}

interface Round {
  readonly bound: Phase;
  readonly controller: ControllerPhase;
  readonly order: string;
}

/** A bound phase and a controller phase, in alternating order so the machine's other load falls on both alike. */
async function round(names: readonly string[], index: number, keepController: boolean): Promise<Round> {
  const boundFirst = index % 2 === 1;
  let bound: Phase;
  let controller: ControllerPhase;
  if (boundFirst) {
    bound = await boundPhase(names);
    controller = await controllerPhase(names);
  } else {
    controller = await controllerPhase(names);
    await stopController(controller);
    bound = await boundPhase(names);
  }
  if (boundFirst && !keepController) await stopController(controller);
  log(`ratio ${(controller.ms / bound.ms).toFixed(2)}`);
  return { bound, controller, order: boundFirst ? 'bound first' : 'controller first' };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmtCpu(c: CpuSnapshot, clientName: string): string {
  return `apiserver ${c.apiserver.toFixed(1)} s, etcd ${c.etcd.toFixed(1)} s, ${clientName} ${c.client.toFixed(1)} s`;
}

async function idleRss(): Promise<number> {
  const cluster = await freshCluster();
  const ns = await namespace(cluster.client, 'bench-idle');
  const idle = startControllerProcess(cluster.kubeconfig, ns);
  await idle.metricsUrl;
  await new Promise((r) => setTimeout(r, 3_000));
  const rss = procStatusKiB(idle.child.pid!, 'VmRSS') / 1024;
  idle.child.kill('SIGTERM');
  await new Promise((r) => idle.child.once('exit', r));
  return rss;
}

interface ResyncResult {
  readonly reconciles: number;
  readonly writes: number;
  readonly watchEvents: number;
  readonly meanMs: number;
  readonly rssMiB: number;
  readonly peakMiB: number;
}

/** Waits for one full resync of the settled servers and counts what it wrote; RSS after it. */
async function resync(metricsUrl: string, watcher: WriteWatcher, pid: number): Promise<ResyncResult> {
  await new Promise((r) => setTimeout(r, 3_000));
  const before = await scrape(metricsUrl);
  const eventsBefore = watcher.events;
  log(`waiting for a resync (period ${RESYNC_SECONDS}s)`);
  await waitUntil('a full resync', async () => (await scrape(metricsUrl)).reconciles >= before.reconciles + N, 500);
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await scrape(metricsUrl);
  const reconciles = after.reconciles - before.reconciles;
  return {
    reconciles,
    writes: after.writes - before.writes,
    watchEvents: watcher.events - eventsBefore,
    meanMs: (after.reconcileSeconds - before.reconcileSeconds) / reconciles * 1000,
    rssMiB: procStatusKiB(pid, 'VmRSS') / 1024,
    peakMiB: procStatusKiB(pid, 'VmHWM') / 1024,
  };
}

/** For information, and the memory with a capped young generation: servers created while the controller runs. */
async function livePhase(names: readonly string[]): Promise<{ createdMs: number; convergedMs: number; reconciles: number; writes: number; resync: ResyncResult }> {
  const cluster = await freshCluster();
  const ns = await namespace(cluster.client, 'bench-live');
  const watcher = new WriteWatcher(cluster.client, ns);
  await watcher.start();
  const proc = startControllerProcess(cluster.kubeconfig, ns, TUNED_NODE_OPTIONS);
  const url = await proc.metricsUrl;
  const started = performance.now();
  await createServers(cluster.client, ns, names);
  const createdMs = performance.now() - started;
  await waitUntil('every status (live)', () => converged(watcher.servers(), N) === N, 50);
  const convergedMs = performance.now() - started;
  const metrics = await scrape(url);
  const after = await resync(url, watcher, proc.child.pid!);
  proc.child.kill('SIGTERM');
  await new Promise((r) => proc.child.once('exit', r));
  await watcher.stop();
  return { createdMs, convergedMs, reconciles: metrics.reconciles, writes: metrics.writes, resync: after };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const runStarted = new Date();
  const rounds = intEnv('BENCH_ROUNDS', 3);
  if (!existsSync(join(ROOT, 'build/lib/controller/cli.js'))) throw new Error('build/ is missing: run npx tsc --build first');
  const names = Array.from({ length: N }, (_, i) => `server-${String(i).padStart(4, '0')}`);

  const idleRssMiB = await idleRss();
  log(`idle controller: RSS ${idleRssMiB.toFixed(1)} MiB`);

  const results: Round[] = [];
  for (let r = 1; r <= rounds; r++) {
    log(`round ${r}/${rounds}: ${N} servers`);
    results.push(await round(names, r, r === rounds));
  }
  const last = results[results.length - 1]!.controller;
  const objects = await countObjects(last.cluster.client, last.ns);
  const settled = await resync(last.metricsUrl, last.watcher, last.proc.child.pid!);
  log(`resync: ${settled.reconciles} reconciles, ${settled.writes} writes, ${settled.watchEvents} watch events; RSS ${settled.rssMiB.toFixed(1)} MiB (peak ${settled.peakMiB.toFixed(1)})`);
  await stopController(last);

  const live = await livePhase(names);
  log(`live: RSS ${live.resync.rssMiB.toFixed(1)} MiB (peak ${live.resync.peakMiB.toFixed(1)}) with NODE_OPTIONS=${TUNED_NODE_OPTIONS}; resync writes ${live.resync.writes}`);
  const versions = { k8s: current!.k8sVersion, etcd: current!.etcdVersion };
  await current!.client.close();
  await stopControlPlane();

  const ratios = results.map((r) => r.controller.ms / r.bound.ms);
  const cpuRatios = results.map((r) => r.controller.cpu.apiserver / r.bound.cpu.apiserver);
  const rows = results.map((r, i) => `| ${i + 1} (${r.order}) | ${r.bound.load.toFixed(2)} / ${r.controller.load.toFixed(2)} | ${(r.bound.ms / 1000).toFixed(1)} s | ` +
    `${(r.controller.ms / 1000).toFixed(1)} s (start ${Math.round(r.controller.startupMs)} ms) | **${(r.controller.ms / r.bound.ms).toFixed(2)}×** | ` +
    `${fmtCpu(r.bound.cpu, 'bench')} | ${fmtCpu(r.controller.cpu, 'controller')} |`);
  const md = [
    '# Controller benchmark',
    '',
    `Run ${runStarted.toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux, node ${process.version}; ` +
      `kube-apiserver ${versions.k8s} + etcd ${versions.etcd} from \`hack/control-plane.sh\` on loopback (no controller-manager, scheduler or kubelet), on the same machine as the benchmark and the controller. ` +
      'Other work on the machine is not controlled for; the 1-minute load average at the start of each phase is in the table.',
    '',
    'Reproduce (the benchmark starts and stops its own control plane in `$BENCH_CP_STATE`, default `/tmp/mcp-operator-bench-cp`; a shared one is never touched):',
    '',
    '```',
    'export PATH=$HOME/.cache/mcp-operator/node-24/node_modules/.bin:$PATH',
    'cd /work/main && npx tsc --build',
    `BENCH_N=${N} BENCH_ROUNDS=${rounds} npx ts-node --transpile-only bench/controller/bench.ts`,
    '```',
    '',
    `${N} MCPServers in one namespace (image, tag and one env var each: a ServiceAccount, a Deployment and a Service per server), concurrency ${CONCURRENCY} on both sides. ` +
      'Every phase runs on a freshly started control plane, because the cost of a write grows with what etcd already holds (ClusterIP allocation most of all). ' +
      'The benchmark adds a ServiceCIDR 10.128.0.0/16 and marks it Ready (the job of kube-controller-manager, which does not run here), so repeated rounds never run out of ClusterIPs.',
    '',
    '## Every object applied and every status set',
    '',
    `Both sides start from ${N} existing MCPServers. Lower bound: a bare loop of server-side applies of the same desired objects (3 per server) plus the status, ${CONCURRENCY} at a time, in the benchmark process. ` +
      `Controller: a real \`mcp-operator controller --concurrency ${CONCURRENCY}\` process, timed from spawn (node start, list + watch of 5 kinds included) until every status has observedGeneration = generation. ` +
      'Both phases are observed by the same watch of the benchmark (5 kinds).',
    '',
    '| round | load (bound / controller) | lower bound | controller | controller / bound | CPU during the bound | CPU during the controller run |',
    '| ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...rows,
    '',
    `Median ratio of the times: **${median(ratios).toFixed(2)}×** (target ≤ 1.5×); of the API server's CPU: ${median(cpuRatios).toFixed(2)}×. ` +
      `API writes per server: bound 4; controller ${(last.writes / N).toFixed(2)} (it also adds its finalizer and records one Event per server; ` +
      'it reads nothing per server: names taken by foreign objects come from a metadata-only watch). ' +
      `Objects at the end: ${Object.entries(objects).map(([k, v]) => `${v} ${k}`).join(', ')}.`,
    '',
    '## Memory',
    '',
    `Controller RSS with ${N} MCPServers and their ${objects.Deployment} Deployments, ${objects.Service} Services and ${objects.ServiceAccount} ServiceAccounts cached, after converging them all and one full resync (target ≤ 150 MiB):`,
    '',
    '| node flags | scenario | RSS | peak RSS |',
    '| --- | --- | ---: | ---: |',
    `| none (V8 sizes its young generation for the host's ${Math.round(totalmem() / 2 ** 30)} GiB) | started on ${N} existing servers (last round above) | **${settled.rssMiB.toFixed(1)} MiB** | ${settled.peakMiB.toFixed(1)} MiB |`,
    `| \`NODE_OPTIONS=${TUNED_NODE_OPTIONS}\` | ${N} servers created while it runs (below) | **${live.resync.rssMiB.toFixed(1)} MiB** | ${live.resync.peakMiB.toFixed(1)} MiB |`,
    '',
    `For scale: an idle controller with nothing to watch (node, cdk8s + cdk8s-plus, prom-client, pino) is ${idleRssMiB.toFixed(1)} MiB. ` +
      'Most of the rest is heap space V8 keeps after the bursts of a list or a convergence: on a large host it lets the young generation grow to 16 MiB per semi-space; capping it is what the second row shows.',
    '',
    '## Resync of unchanged resources',
    '',
    '| scenario | reconciles | API writes (controller metrics) | watch events on MCPServers and owned kinds (the benchmark\'s own watch) | mean reconcile |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| started on ${N} existing servers | ${settled.reconciles} | **${settled.writes}** | ${settled.watchEvents} | ${settled.meanMs.toFixed(2)} ms |`,
    `| ${N} servers created while it ran | ${live.resync.reconciles} | **${live.resync.writes}** | ${live.resync.watchEvents} | ${live.resync.meanMs.toFixed(2)} ms |`,
    '',
    'Target: 0 writes.',
    '',
    '## For information: servers created while the controller runs',
    '',
    `Creating ${N} MCPServers (8 concurrent creates) took ${(live.createdMs / 1000).toFixed(1)} s; every status was set ${(live.convergedMs / 1000).toFixed(1)} s after the first create ` +
      `(${live.reconciles} reconciles, ${live.writes} API writes).`,
    '',
  ].join('\n');
  writeFileSync(join(__dirname, 'RESULTS.md'), md);
  process.stdout.write(md);
}

main().catch((err) => {
  process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

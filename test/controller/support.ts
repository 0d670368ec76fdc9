/**
 * Helpers for controller integration tests: the CRD, an in-process controller per namespace with its
 * logs in a file, bounded polling, metric reads, and kubectl that rides out an API server restart.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as yaml from 'js-yaml';
import pino from 'pino';
import { startController, RunningController, StartControllerOptions } from '../../lib/controller';
import { KubeClient, KubeObject, ResourceType } from '../../lib/controller/kube';
import { loadConnection } from '../../lib/controller/kubeconfig';
import { WRITE_VERBS } from '../../lib/controller/metrics';
import { mcpServerCrd } from '../../lib/spec/crd';
import { toYaml } from '../../lib/synth';
import { ExecResult, kubeconfigPath, kubectl, REPO_ROOT } from '../support/control-plane';


/** Signs that the API server is (re)starting, not that the request itself was wrong. */
const TRANSIENT = /connection refused|connection reset|EOF|unable to handle the request|TLS handshake|i\/o timeout|ServiceUnavailable|etcdserver|the server is currently unable|the server was unable to return a response in the time allotted/i;

/** kubectl that must succeed; retried while the API server is unreachable (another test may restart it). */
export async function kc(args: string[], input?: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: ExecResult;
  do {
    last = await kubectl(args, input === undefined ? undefined : { input });
    if (last.code === 0) return last.stdout;
    if (!TRANSIENT.test(last.stderr)) break;
    await delay(500);
  } while (Date.now() < deadline);
  throw new Error(`kubectl ${args.join(' ')} failed (${last.code}): ${last.stderr}`);
}

export async function kcJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kc([...args, '-o', 'json'])) as T;
}

/** Idempotent: test files run in parallel workers and each installs the CRD. */
export async function installCrd(): Promise<void> {
  await kc(['apply', '--server-side', '--force-conflicts', '--field-manager=mcp-operator-tests', '-f', '-'], toYaml([mcpServerCrd()]));
  await kc(['wait', '--for=condition=Established', '--timeout=60s', 'crd/mcpservers.mcp.io']);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns something other than undefined/false, or throws after `timeoutMs`
 * with the last value or error seen, so a failure says what the world looked like.
 */
type Probe<T> = () => Promise<T | undefined | false> | T | undefined | false;

export async function waitFor<T>(what: string, probe: Probe<T>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await delay(intervalMs);
  }
}

let sharedClient: KubeClient | undefined;

/** A client for the tests' own reads (fast polling without a kubectl process per poll). */
export function testClient(): KubeClient {
  sharedClient ??= new KubeClient(loadConnection(kubeconfigPath()));
  return sharedClient;
}

export async function closeTestClient(): Promise<void> {
  await sharedClient?.close();
  sharedClient = undefined;
}

/** Retries `op` while the API server is unreachable (another test file may be restarting it). */
export async function retrying<T>(op: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      const e = err as { code?: string; cause?: { code?: string }; status?: number; message?: string };
      const transient = /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/.test(`${e.code} ${e.cause?.code} ${e.message}`) || e.status === 503;
      if (!transient || Date.now() > deadline) throw err;
      await delay(300);
    }
  }
}

export async function getObject(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
  return retrying(() => testClient().get(type, namespace, name));
}

/** A fresh namespace (PodSecurity restricted), created even while the API server restarts. */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const labels = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
  try {
    await kc(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
  } catch (err) {
    // A retry after a lost response finds the namespace it created (the name is random).
    if (!/AlreadyExists/.test((err as Error).message)) throw err;
  }
  return name;
}

export const LOG_DIR = process.env.MCP_TEST_CONTROLLER_LOG_DIR ?? mkdtempSync(join(tmpdir(), 'mcp-controller-test-'));

export interface TestController extends RunningController {
  readonly logFile: string;
}

/** An in-process controller scoped to `namespace`, debug logs in a file under LOG_DIR. */
export async function startTestController(namespace: string, name: string, options: Partial<StartControllerOptions> = {}): Promise<TestController> {
  const logFile = join(LOG_DIR, `${name}-${namespace}.log`);
  const logger = pino({ name: 'mcp-operator', level: 'debug' }, pino.destination({ dest: logFile, sync: true, mkdir: true }));
  const controller = await startController({
    kubeconfig: kubeconfigPath(),
    namespace,
    metricsBindAddress: '127.0.0.1:0',
    healthProbeBindAddress: '127.0.0.1:0',
    logger,
    shutdownTimeoutMs: 10_000,
    ...options,
  });
  return Object.assign(controller, { logFile });
}

export interface MetricSample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

export async function samples(controller: RunningController, name: string): Promise<MetricSample[]> {
  const metric = (await controller.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

type LabelFilter = (labels: Record<string, string | number>) => boolean;

export async function metricSum(controller: RunningController, name: string, filter: LabelFilter = () => true): Promise<number> {
  return (await samples(controller, name)).filter((s) => filter(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

/** Every write request the controller sent (applies, patches, creates, deletes), leases excluded. */
export function apiWrites(controller: RunningController): Promise<number> {
  return metricSum(controller, 'mcp_operator_api_requests_total', (l) => WRITE_VERBS.has(String(l.verb)) && l.resource !== 'leases');
}

export function reconciles(controller: RunningController): Promise<number> {
  return metricSum(controller, 'mcp_operator_reconcile_total');
}

export function example(file: string): Record<string, any> {
  return yaml.load(readFileSync(join(REPO_ROOT, 'examples', file), 'utf8')) as Record<string, any>;
}

export function mcpServer(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name }, spec };
}

export async function applyServer(namespace: string, server: Record<string, unknown>): Promise<void> {
  await kc(['apply', '-n', namespace, '-f', '-'], JSON.stringify(server));
}

/** Plays the Deployment controller, which this control plane does not run. */
export async function markDeploymentReady(namespace: string, name: string, ready: number): Promise<void> {
  const deployment = await waitFor(`Deployment ${name}`, () => getObject({ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments' }, namespace, name));
  const status = {
    observedGeneration: deployment.metadata.generation,
    replicas: ready,
    readyReplicas: ready,
    availableReplicas: ready,
    updatedReplicas: ready,
  };
  await kc(['patch', 'deployment', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

export function logLines(controller: TestController): Record<string, any>[] {
  return readFileSync(controller.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

/**
 * The command line that runs `mcp-operator controller`: the real bin once lib/cli/main.ts registers
 * the command, else a fixture that mounts controllerCommand the same way. Both run the compiled build.
 */
export function controllerArgv(): string[] {
  const bin = join(REPO_ROOT, 'bin/mcp-operator.js');
  const probe = spawnSync(process.execPath, [bin, 'controller', '--help'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.includes('--leader-elect')) return [bin, 'controller'];
  return [join(__dirname, 'fixtures/controller-cli.js'), 'controller'];
}

export interface ControllerProcess {
  readonly child: ChildProcess;
  /** JSON log lines from stdout so far. */
  readonly lines: Record<string, any>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  waitForLog(what: string, pred: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  /** `exited`, bounded: throws when the process is still running after `timeoutMs`. */
  exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnController(args: string[]): ControllerProcess {
  const child = spawn(process.execPath, [...controllerArgv(), '--kubeconfig', kubeconfigPath(), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, any>[] = [];
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, any>);
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLog: (what, pred, timeoutMs = 30_000) => waitFor(what, () => lines.find(pred), timeoutMs, 50),
    exited,
    exit: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the controller process did not exit within ${timeoutMs} ms`)), timeoutMs)));
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

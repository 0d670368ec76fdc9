/**
 * Test helpers for a real Kubernetes control plane (etcd + kube-apiserver) started by
 * `hack/control-plane.sh`. Node built-ins only.
 *
 * - `startControlPlane()` / `stop()` wrap `hack/control-plane.sh up` / `down`.
 * - `kubectl()` runs the cached kubectl binary against the test cluster.
 * - `freshNamespace()` creates a uniquely named namespace (PodSecurity `restricted` by default).
 *
 * Only etcd + kube-apiserver run: there is no controller-manager, scheduler or kubelet, so
 * Deployments get no ReplicaSets/Pods, garbage collection does not happen and deleted
 * namespaces stay `Terminating`. Always use fresh namespaces.
 */
import * as child_process from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Repository root (this file lives in `<root>/test/support`). */
export const REPO_ROOT = path.resolve(__dirname, '../..');
/** The control-plane script. */
export const CONTROL_PLANE_SCRIPT = path.join(REPO_ROOT, 'hack', 'control-plane.sh');

/** Where the script keeps pids, logs, pki, kubeconfig and `connection.json`. */
export function stateDir(): string {
  return process.env.MCP_OPERATOR_CP_STATE ?? '/tmp/mcp-operator-cp';
}

/** Connection details, as written by `control-plane.sh up` to `<stateDir>/connection.json`. */
export interface ControlPlaneConnection {
  kubeconfigPath: string;
  /** e.g. `https://127.0.0.1:41234` */
  server: string;
  /** bearer token of a `system:masters` user */
  token: string;
  /** CA that signed the API server's serving certificate */
  caFile: string;
  /** absolute path of the cached kubectl binary */
  kubectlPath: string;
  stateDir: string;
  etcdEndpoint: string;
  k8sVersion: string;
  etcdVersion: string;
}

export interface ControlPlane extends ControlPlaneConnection {
  /** Stops etcd and kube-apiserver (`control-plane.sh down`). */
  stop(): Promise<void>;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Forward the child's stderr to ours while it runs (build/start progress). */
  streamStderr?: boolean;
  timeoutMs?: number;
}

function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = child_process.spawn(cmd, args, {
      cwd: REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (opts.streamStderr) process.stderr.write(b);
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A child that exits before reading its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

async function runScript(args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  return run('bash', [CONTROL_PLANE_SCRIPT, ...args], opts);
}

/** Reads `<stateDir>/connection.json`, or undefined when the control plane is not up. */
export function readConnection(): ControlPlaneConnection | undefined {
  const file = path.join(stateDir(), 'connection.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return JSON.parse(text) as ControlPlaneConnection;
}

/**
 * Starts (or reuses, when already running and ready) the control plane. The first call on a
 * machine builds the binaries (~20-30 min cold); later starts take a few seconds.
 */
export async function startControlPlane(): Promise<ControlPlane> {
  const res = await runScript(['up'], { streamStderr: process.env.MCP_TEST_QUIET !== '1' });
  const lines = res.stdout.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  if (res.code !== 0 || last === undefined || !last.startsWith('KUBECONFIG=')) {
    throw new Error(`control-plane.sh up failed (exit ${res.code})\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`);
  }
  const printed = last.slice('KUBECONFIG='.length);
  const conn = readConnection();
  if (!conn) throw new Error(`control-plane.sh up succeeded but ${stateDir()}/connection.json is missing`);
  if (conn.kubeconfigPath !== printed) {
    throw new Error(`kubeconfig mismatch: script printed ${printed}, connection.json has ${conn.kubeconfigPath}`);
  }
  return {
    ...conn,
    stop: () => stopControlPlane(),
  };
}

/** `control-plane.sh down`: stops everything the script started; safe when nothing runs. */
export async function stopControlPlane(): Promise<void> {
  const res = await runScript(['down']);
  if (res.code !== 0) {
    throw new Error(`control-plane.sh down failed (exit ${res.code})\n${res.stderr}`);
  }
}

/**
 * Restarts kube-apiserver only (etcd, port and credentials stay), resolving once it is ready
 * again. For "API server restarted mid-run" tests.
 */
export async function restartApiServer(): Promise<void> {
  const res = await runScript(['restart-apiserver']);
  if (res.code !== 0) throw new Error(`control-plane.sh restart-apiserver failed (exit ${res.code})\n${res.stderr}`);
}

export interface PrivateControlPlane {
  readonly kubeconfigPath: string;
  kubectl(args: string[], opts?: { input?: string }): Promise<ExecResult>;
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A control plane of one's own (own state dir, ports and etcd), for a test that disrupts the API
 * server: restarting the shared one would fail the test files running beside it.
 */
export async function startPrivateControlPlane(): Promise<PrivateControlPlane> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-private-cp-'));
  const env = { ...process.env, MCP_OPERATOR_CP_STATE: state };
  const script = async (args: string[]) => {
    const res = await runScript(args, { env });
    if (res.code !== 0) throw new Error(`control-plane.sh ${args.join(' ')} (state ${state}) failed (exit ${res.code})\n${res.stderr}`);
    return res;
  };
  const up = await script(['up']);
  const kubeconfig = up.stdout.trim().split('\n').pop()!.slice('KUBECONFIG='.length);
  return {
    kubeconfigPath: kubeconfig,
    kubectl: (args, opts) => run(kubectlPath(), [`--kubeconfig=${kubeconfig}`, ...args], { input: opts?.input, timeoutMs: 60_000 }),
    restartApiServer: async () => void (await script(['restart-apiserver'])),
    stop: async () => {
      await script(['down']);
      fs.rmSync(`${state}.lock`, { force: true });
    },
  };
}

/** Stops kube-apiserver only (etcd keeps running); `startApiServer()` brings it back. */
export async function stopApiServer(): Promise<void> {
  const res = await runScript(['stop-apiserver']);
  if (res.code !== 0) throw new Error(`control-plane.sh stop-apiserver failed (exit ${res.code})\n${res.stderr}`);
}

/** Starts kube-apiserver again (same port and credentials) and waits until it is ready. */
export async function startApiServer(): Promise<void> {
  const res = await runScript(['start-apiserver']);
  if (res.code !== 0) throw new Error(`control-plane.sh start-apiserver failed (exit ${res.code})\n${res.stderr}`);
}

/** Path of the test kubeconfig: `MCP_TEST_KUBECONFIG`, else the state dir's connection file. */
export function kubeconfigPath(): string {
  const fromEnv = process.env.MCP_TEST_KUBECONFIG;
  if (fromEnv) return fromEnv;
  const conn = readConnection();
  if (conn) return conn.kubeconfigPath;
  throw new Error('no test control plane: MCP_TEST_KUBECONFIG is unset and no connection.json exists (is jest globalSetup configured?)');
}

function kubectlPath(): string {
  const fromEnv = process.env.MCP_TEST_KUBECTL;
  if (fromEnv) return fromEnv;
  const conn = readConnection();
  if (conn) return conn.kubectlPath;
  throw new Error('no kubectl: MCP_TEST_KUBECTL is unset and no connection.json exists');
}

/**
 * Runs the cached kubectl with the test kubeconfig. Never throws for a non-zero exit: check `code`.
 * `opts.input` is written to stdin (e.g. with `-f -`).
 */
export async function kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult> {
  const runOpts: RunOptions = { timeoutMs: opts?.timeoutMs ?? 60_000 };
  if (opts?.input !== undefined) runOpts.input = opts.input;
  return run(kubectlPath(), [`--kubeconfig=${kubeconfigPath()}`, ...args], runOpts);
}

/** Default namespace labels: PodSecurity `restricted`, enforced and warned. */
export const RESTRICTED_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
});

/**
 * Creates a namespace named `<prefix>-<random>` and returns its name. Labels are
 * `RESTRICTED_LABELS` overlaid with `labels` (pass `{ 'pod-security.kubernetes.io/enforce': 'privileged' }`
 * etc. to relax); `opts.podSecurityDefaults: false` drops the defaults entirely.
 */
export async function freshNamespace(
  prefix: string,
  labels?: Record<string, string>,
  opts?: { podSecurityDefaults?: boolean },
): Promise<string> {
  const base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 50)
    .replace(/-+$/, '') || 'test';
  const name = `${base}-${crypto.randomBytes(4).toString('hex')}`;
  const allLabels = { ...(opts?.podSecurityDefaults === false ? {} : RESTRICTED_LABELS), ...(labels ?? {}) };
  const manifest = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: allLabels },
  };
  const res = await kubectl(['create', '-f', '-', '-o', 'name'], { input: JSON.stringify(manifest) });
  if (res.code !== 0) {
    throw new Error(`creating namespace ${name} failed (exit ${res.code}): ${res.stderr}`);
  }
  return name;
}

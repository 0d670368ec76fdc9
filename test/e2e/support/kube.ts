/**
 * What the e2e tests use to drive the real cluster: kubectl against it, the project's CLI, bounded
 * polling, namespaces under PodSecurity `restricted`, MCPServer manifests for the test image, and MCP
 * clients that reach servers through their Service's ClusterIP (routed by the node's kube-proxy).
 */
import { spawn } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { REPO_ROOT } from './cluster';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(cmd: string, args: readonly string[], input?: string, timeoutMs = 120_000): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

function kubectlBinary(): string {
  const bin = process.env.MCP_E2E_KUBECTL;
  if (!bin) throw new Error('MCP_E2E_KUBECTL is not set: the e2e project\'s globalSetup brings the cluster up');
  return bin;
}

export function kubectl(args: readonly string[], input?: string, timeoutMs?: number): Promise<ExecResult> {
  return run(kubectlBinary(), [`--kubeconfig=${process.env.MCP_E2E_KUBECONFIG}`, ...args], input, timeoutMs);
}

/** kubectl that must succeed. */
export async function kc(args: readonly string[], input?: string, timeoutMs?: number): Promise<string> {
  const res = await kubectl(args, input, timeoutMs);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}

export async function kcJson<T = any>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kc([...args, '-o', 'json'])) as T;
}

/** The project's CLI, as built by `npm run compile`. */
export function cli(args: readonly string[], input?: string, timeoutMs?: number): Promise<ExecResult> {
  return run(process.execPath, [join(REPO_ROOT, 'bin/mcp-operator.js'), ...args], input, timeoutMs);
}

/** Polls until `check` returns something truthy; the error names what was awaited and the last value. */
type Check<T> = () => Promise<T | undefined | false | null> | T | undefined | false | null;

export async function waitFor<T>(what: string, check: Check<T>, timeoutMs = 120_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let namespaces = 0;
/** A new namespace enforcing PodSecurity `restricted`, as platform teams run MCP servers. */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid % 10_000}-${++namespaces}`;
  await kc(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
    },
  }));
  // ServiceAccount admission refuses pods until the namespace's default ServiceAccount exists.
  await waitFor(`the default ServiceAccount of ${name}`, async () => (await kubectl(['-n', name, 'get', 'serviceaccount', 'default'])).code === 0, 30_000);
  return name;
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
/** The test server image `hack/cluster.sh` loads: Node and server-everything, nothing fetched at start. */
export const TEST_IMAGE = 'localhost/mcp-test/server-everything';
export const TEST_TAG = pkg.devDependencies['@modelcontextprotocol/server-everything']!;
const ENTRY = ['/usr/local/bin/node', '/opt/server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js'];

/** server-everything over its own streamable HTTP transport (port 3001, path /mcp). */
export function httpServer(name: string, namespace: string, spec: Record<string, unknown> = {}): Record<string, any> {
  return mcpServer(name, namespace, { image: TEST_IMAGE, tag: TEST_TAG, port: 3001, command: [...ENTRY, 'streamableHttp'], ...spec });
}

/** server-everything over stdio, served over HTTP by the in-pod bridge. */
export function stdioServer(name: string, namespace: string, spec: Record<string, unknown> = {}): Record<string, any> {
  return mcpServer(name, namespace, { image: TEST_IMAGE, tag: TEST_TAG, transport: { type: 'stdio' }, command: [...ENTRY, 'stdio'], ...spec });
}

export function mcpServer(name: string, namespace: string, spec: Record<string, unknown>): Record<string, any> {
  return { apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name, namespace }, spec };
}

export async function apply(...objects: Record<string, unknown>[]): Promise<void> {
  await kc(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

export async function mcpStatus(namespace: string, name: string): Promise<any> {
  const res = await kubectl(['-n', namespace, 'get', 'mcpserver', name, '-o', 'json']);
  return res.code === 0 ? (JSON.parse(res.stdout) as { status?: unknown }).status : undefined;
}

export function condition(status: any, type: string): any {
  return status?.conditions?.find((c: any) => c.type === type);
}

/** Waits for `kubectl get mcpservers` to show the server Running with `ready` ready replicas. */
export async function waitRunning(namespace: string, name: string, ready = 1, timeoutMs = 120_000): Promise<any> {
  return waitFor(`${namespace}/${name} Running with ${ready} ready`, async () => {
    const s = await mcpStatus(namespace, name);
    return s?.phase === 'Running' && s.readyReplicas === ready && s.replicas === ready ? s : undefined;
  }, timeoutMs);
}

/** http://<ClusterIP>:<port><path> of a server's Service. */
export async function serviceUrl(namespace: string, name: string, path = '/mcp'): Promise<string> {
  const svc = await kcJson(['-n', namespace, 'get', 'service', name]);
  return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}${path}`;
}

export interface Session {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  close(): Promise<void>;
}

/** An MCP session over streamable HTTP; the first connection to a fresh ClusterIP may be refused for a moment. */
export async function connect(url: string, timeoutMs = 20_000): Promise<Session> {
  const client = new Client({ name: 'mcp-operator-e2e', version: '1.0.0' }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport, { timeout: timeoutMs });
  return {
    client,
    transport,
    // Bounded: a DELETE to a pod that is already gone must not hang the test.
    close: async () => {
      await Promise.race([transport.terminateSession().catch(() => undefined), sleep(5_000)]);
      await Promise.race([client.close().catch(() => undefined), sleep(2_000)]);
    },
  };
}

export async function podsOf(namespace: string, server: string): Promise<any[]> {
  const list = await kcJson(['-n', namespace, 'get', 'pods', '-l', `app.kubernetes.io/instance=${server}`]);
  return list.items as any[];
}

export function isReady(pod: any): boolean {
  return pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ?? false;
}

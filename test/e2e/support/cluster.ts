/**
 * The e2e cluster as the tests see it: `hack/cluster.sh` wrapped for jest, and kubectl against it.
 */
import * as child_process from 'child_process';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const CLUSTER_SCRIPT = path.join(REPO_ROOT, 'hack', 'cluster.sh');

/** State directory of the e2e cluster (pids, logs, kubeconfig); `hack/cluster.sh` uses the same default. */
export function clusterStateDir(): string {
  return process.env.MCP_OPERATOR_CLUSTER_STATE ?? '/tmp/mcp-operator-cluster';
}

/** true when a healthy cluster is running. */
export function clusterStatus(): boolean {
  return child_process.spawnSync('bash', [CLUSTER_SCRIPT, 'status'], { stdio: 'ignore' }).status === 0;
}

function script(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = child_process.spawn('bash', [CLUSTER_SCRIPT, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => process.stderr.write(b));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`hack/cluster.sh ${args.join(' ')} exited ${code}`));
    });
  });
}

/** `hack/cluster.sh up` (builds on a cold machine: allow for it), then the paths it printed. */
export async function clusterUp(): Promise<{ kubeconfig: string; kubectl: string }> {
  const out = await script(['up'], 30 * 60_000);
  const kubeconfig = /^KUBECONFIG=(.+)$/m.exec(out)?.[1];
  const kubectl = /^KUBECTL=(.+)$/m.exec(out)?.[1];
  if (!kubeconfig || !kubectl) throw new Error(`hack/cluster.sh up printed no KUBECONFIG=/KUBECTL= lines:\n${out}`);
  return { kubeconfig, kubectl };
}

export async function clusterDown(): Promise<void> {
  await script(['down'], 5 * 60_000);
}

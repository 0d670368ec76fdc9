/**
 * jest `globalSetup` of the e2e project: brings up the real single-node cluster (`hack/cluster.sh
 * up`: control plane + containerd + kubelet + controller-manager + scheduler + kube-proxy) or reuses
 * a running one, and hands its location to the workers through the environment (workers are forked
 * after globalSetup and inherit process.env):
 *   KUBECONFIG, MCP_E2E_KUBECONFIG  kubeconfig of a system:masters user
 *   MCP_E2E_KUBECTL                 the cached kubectl binary
 * Teardown needs to know whether this run started it; that goes to `<state>/jest-e2e-run.json`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { clusterStateDir, clusterStatus, clusterUp } from './cluster';

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const preexisting = clusterStatus();
  const { kubeconfig, kubectl } = await clusterUp();
  fs.writeFileSync(
    path.join(clusterStateDir(), 'jest-e2e-run.json'),
    JSON.stringify({ startedByThisRun: !preexisting, pid: process.pid }) + '\n',
    { mode: 0o600 },
  );
  process.env.KUBECONFIG = kubeconfig;
  process.env.MCP_E2E_KUBECONFIG = kubeconfig;
  process.env.MCP_E2E_KUBECTL = kubectl;
  process.stderr.write(`\n[e2e] cluster ${preexisting ? 'reused' : 'started'} in ${Date.now() - started} ms (KUBECONFIG=${kubeconfig})\n`);
}

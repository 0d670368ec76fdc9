/**
 * jest `globalSetup`: starts the test control plane once per run (or reuses one that is already
 * up) and exports its location to the workers through the environment:
 *   KUBECONFIG, MCP_TEST_KUBECONFIG  - kubeconfig of a system:masters user
 *   MCP_TEST_KUBECTL                 - the cached kubectl binary
 * Workers are forked after globalSetup and inherit process.env. globalSetup runs in its own
 * module context, so what teardown needs is written to `<stateDir>/jest-run.json`, not kept in globals.
 *
 * Set MCP_TEST_CONTROL_PLANE=0 to skip it (unit tests only).
 */
import * as child_process from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readConnection, startControlPlane, stateDir, CONTROL_PLANE_SCRIPT } from './control-plane';

export interface JestRunInfo {
  /** true when this run started the control plane (teardown then stops it) */
  startedByThisRun: boolean;
  kubeconfigPath: string;
  kubectlPath: string;
  pid: number;
}

export const RUN_INFO_FILE = 'jest-run.json';

function alreadyRunning(): boolean {
  if (!readConnection()) return false;
  const res = child_process.spawnSync('bash', [CONTROL_PLANE_SCRIPT, 'status'], { stdio: 'ignore' });
  return res.status === 0;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.MCP_TEST_CONTROL_PLANE === '0') return;
  const preexisting = alreadyRunning();
  const started = Date.now();
  const cp = await startControlPlane();
  const info: JestRunInfo = {
    startedByThisRun: !preexisting,
    kubeconfigPath: cp.kubeconfigPath,
    kubectlPath: cp.kubectlPath,
    pid: process.pid,
  };
  fs.writeFileSync(path.join(stateDir(), RUN_INFO_FILE), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  process.env.KUBECONFIG = cp.kubeconfigPath;
  process.env.MCP_TEST_KUBECONFIG = cp.kubeconfigPath;
  process.env.MCP_TEST_KUBECTL = cp.kubectlPath;
  process.stderr.write(
    `\n[global-setup] control plane ${preexisting ? 'reused' : 'started'} in ${Date.now() - started} ms: ${cp.server} (KUBECONFIG=${cp.kubeconfigPath})\n`,
  );
}

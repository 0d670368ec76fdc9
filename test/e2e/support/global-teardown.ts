/**
 * jest `globalTeardown` of the e2e project: stops the cluster if this run's setup started it. A
 * cluster that was up before the run (a developer's `hack/cluster.sh up`) keeps running, and so does
 * any with MCP_E2E_KEEP=1.
 */
import * as fs from 'fs';
import * as path from 'path';
import { clusterDown, clusterStateDir } from './cluster';

export default async function globalTeardown(): Promise<void> {
  const file = path.join(clusterStateDir(), 'jest-e2e-run.json');
  let startedByThisRun = false;
  try {
    startedByThisRun = (JSON.parse(fs.readFileSync(file, 'utf8')) as { startedByThisRun: boolean }).startedByThisRun;
  } catch {
    return;
  }
  fs.rmSync(file, { force: true });
  if (startedByThisRun && process.env.MCP_E2E_KEEP !== '1') await clusterDown();
}

/**
 * jest `globalTeardown`: stops the control plane if this run's globalSetup started it (as recorded
 * in `<stateDir>/jest-run.json`). A control plane that was already up before the run (e.g. a
 * developer's `hack/control-plane.sh up`) is left running; so is any with MCP_OPERATOR_CP_KEEP=1.
 */
import * as fs from 'fs';
import * as path from 'path';
import { stateDir, stopControlPlane } from './control-plane';
import type { JestRunInfo } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  if (process.env.MCP_TEST_CONTROL_PLANE === '0') return;
  const file = path.join(stateDir(), 'jest-run.json');
  let info: JestRunInfo | undefined;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as JestRunInfo;
  } catch {
    return; // setup did not get that far, or someone already stopped it
  }
  if (!info.startedByThisRun || process.env.MCP_OPERATOR_CP_KEEP === '1') {
    fs.rmSync(file, { force: true });
    return;
  }
  await stopControlPlane();
}

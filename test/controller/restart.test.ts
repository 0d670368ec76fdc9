/**
 * An API server restart mid-run, on a control plane of this test's own: restarting the shared one
 * would pull the API server from under the test files running beside this one.
 */
import { mcpServer, startTestController, TestController, waitFor } from './support';
import { mcpServerCrd } from '../../lib/spec/crd';
import { toYaml } from '../../lib/synth';
import { PrivateControlPlane, startPrivateControlPlane } from '../support/control-plane';

let plane: PrivateControlPlane;
let controller: TestController | undefined;

async function ok(args: string[], input?: string): Promise<string> {
  const res = await plane.kubectl(args, input === undefined ? undefined : { input });
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

async function json(args: string[]): Promise<any> {
  const res = await plane.kubectl([...args, '-o', 'json']);
  return res.code === 0 ? JSON.parse(res.stdout) : undefined;
}

beforeAll(async () => {
  plane = await startPrivateControlPlane();
  await ok(['apply', '--server-side', '-f', '-'], toYaml([mcpServerCrd()]));
  await ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/mcpservers.mcp.io']);
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  await plane?.stop();
});

test('recovers its watches after an API server restart and converges on a change made afterwards', async () => {
  const ns = 'restart';
  await ok(['create', 'namespace', ns]);
  controller = await startTestController(ns, 'restart', { kubeconfig: plane.kubeconfigPath, backoff: { baseDelayMs: 5, maxDelayMs: 2_000 } });
  await ok(['apply', '--server-side', '-n', ns, '-f', '-'], JSON.stringify(mcpServer('survivor', { image: 'x', replicas: 1 })));
  await waitFor('survivor to be reconciled', async () => (await json(['get', 'mcpserver', 'survivor', '-n', ns]))?.status?.observedGeneration === 1);

  await plane.restartApiServer();

  await ok(['patch', 'mcpserver', 'survivor', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":4}}']);
  await waitFor('the Deployment to follow after the restart', async () => (await json(['get', 'deployment', 'survivor', '-n', ns]))?.spec?.replicas === 4, 60_000);
  await waitFor('status to follow', async () => (await json(['get', 'mcpserver', 'survivor', '-n', ns]))?.status?.observedGeneration === 2, 30_000);
  // Owned-object watches recovered too: drift after the restart is reverted.
  await ok(['scale', 'deployment', 'survivor', '-n', ns, '--replicas=9']);
  await waitFor('the drift to be reverted', async () => (await json(['get', 'deployment', 'survivor', '-n', ns]))?.spec?.replicas === 4, 30_000);
  expect((await fetch(`http://${controller.healthAddress}/readyz`)).status).toBe(200);
});

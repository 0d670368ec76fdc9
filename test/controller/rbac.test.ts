/**
 * The controller with only the permissions the install grants it (lib/install: ServiceAccount, Roles,
 * RoleBindings for one watched namespace), authenticated by a real ServiceAccount token, through
 * create, update, prune, scale and delete with leader election on.
 */
import { writeFileSync } from 'fs';
import { join } from 'path';
import {
  applyServer, closeTestClient, freshNamespace, getObject, installCrd, kc, LOG_DIR, markDeploymentReady, mcpServer, metricSum,
  startTestController, TestController, waitFor,
} from './support';
import { DEPLOYMENT, MCP_SERVER } from '../../lib/controller/kube';
import { operatorInstallObjects } from '../../lib/install/operator';
import { kubectl, readConnection } from '../support/control-plane';

const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding']);

let controller: TestController | undefined;

beforeAll(installCrd);

afterAll(async () => {
  await controller?.stop();
  await closeTestClient();
});

test('works with exactly the RBAC of the install, as its ServiceAccount', async () => {
  const operatorNs = await freshNamespace('ctrl-rbac-system');
  const watched = await freshNamespace('ctrl-rbac-watched');
  const install = operatorInstallObjects({ namespace: operatorNs, watchNamespace: watched, includeCrd: false, includeNamespace: false });
  const rbac = install.filter((o) => RBAC_KINDS.has(o.kind));
  expect(rbac.map((o) => o.kind).sort()).toEqual(['Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount']);
  await kc(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));

  const sa = rbac.find((o) => o.kind === 'ServiceAccount')!.metadata.name as string;
  const token = (await kc(['create', 'token', sa, '-n', operatorNs, '--duration=1h'])).trim();
  const conn = readConnection()!;
  const kubeconfig = join(LOG_DIR, `rbac-${watched}.kubeconfig`);
  writeFileSync(kubeconfig, JSON.stringify({
    'apiVersion': 'v1',
    'kind': 'Config',
    'clusters': [{ name: 'test', cluster: { 'server': conn.server, 'certificate-authority': conn.caFile } }],
    'users': [{ name: sa, user: { token } }],
    'contexts': [{ name: 'operator', context: { cluster: 'test', user: sa } }],
    'current-context': 'operator',
  }), { mode: 0o600 });

  controller = await startTestController(watched, 'rbac', {
    kubeconfig,
    leaderElection: { namespace: operatorNs, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
  });
  await waitFor('leadership', () => controller!.isLeader(), 10_000);

  await applyServer(watched, mcpServer('least', { image: 'x', config: { 'a.json': '{}' }, terminationGracePeriodSeconds: 1 }));
  await waitFor('objects and status', async () => ((await getObject(MCP_SERVER, watched, 'least'))?.status as any)?.phase === 'Pending');
  await markDeploymentReady(watched, 'least', 1);
  await waitFor('Running', async () => ((await getObject(MCP_SERVER, watched, 'least'))?.status as any)?.phase === 'Running');
  await kc(['patch', 'mcpserver', 'least', '-n', watched, '--type=json', '-p', '[{"op":"remove","path":"/spec/config"}]']);
  await waitFor('the ConfigMap pruned', async () => !(await kc(['get', 'configmaps', '-n', watched, '-o', 'name'])).includes('least-config'));
  await kc(['scale', 'mcpserver', 'least', '-n', watched, '--replicas=2']);
  await waitFor('2 replicas', async () => ((await getObject(DEPLOYMENT, watched, 'least'))?.spec as any)?.replicas === 2);
  const events = JSON.parse(await kc(['get', 'events', '-n', watched, '-o', 'json'])).items;
  expect(events.some((e: any) => e.reason === 'Created' && e.involvedObject.name === 'least')).toBe(true);

  await kc(['delete', 'mcpserver', 'least', '-n', watched, '--wait=false']);
  // No finalizer: the MCPServer goes at once; its objects are the garbage collector's (test/e2e).
  await waitFor('the MCPServer to go', async () => !(await getObject(MCP_SERVER, watched, 'least')), 10_000);

  expect(await metricSum(controller, 'mcp_operator_api_requests_total', (l) => l.code === '403')).toBe(0);
  // Least privilege: what the controller does not use, its ServiceAccount cannot do.
  const asOperator = (args: string[]) => kubectl([`--kubeconfig=${kubeconfig}`, ...args]);
  for (const refused of [['get', 'secrets', '-n', watched], ['delete', 'mcpserver', 'anything', '-n', watched], ['get', 'configmaps', '-n', operatorNs], ['get', 'nodes']]) {
    const res = await asOperator(refused);
    expect({ refused, code: res.code }).toEqual({ refused, code: 1 });
    expect(res.stderr).toMatch(/Forbidden|forbidden/);
  }
  const canI = await kubectl(['auth', 'can-i', 'create', 'deployments', '-n', watched, `--as=system:serviceaccount:${operatorNs}:${sa}`]);
  expect(canI.stdout.trim()).toBe('yes');
  expect(await metricSum(controller, 'mcp_operator_reconcile_errors_total')).toBe(0);
});

/**
 * `--verify` / spec.verify: after rollout the controller connects as an MCP client and records the
 * tool count. The server is real (server-everything behind the project's stdio bridge on loopback);
 * only the cluster DNS name is mapped to its loopback address, as there is no cluster network here.
 */
import { applyServer, closeTestClient, freshNamespace, getObject, installCrd, markDeploymentReady, mcpServer, startTestController, TestController, waitFor } from './support';
import { startBridge, type BridgeHandle } from '../../lib/bridge';
import { MCP_SERVER } from '../../lib/controller/kube';
import { mcpVerifier } from '../../lib/controller/verify';
import { REPO_ROOT } from '../support/control-plane';

const EVERYTHING = `${REPO_ROOT}/node_modules/@modelcontextprotocol/server-everything/dist/index.js`;

let bridge: BridgeHandle;
const controllers: TestController[] = [];

beforeAll(async () => {
  await installCrd();
  bridge = await startBridge({ host: '127.0.0.1', port: 0, command: process.execPath, args: [EVERYTHING, 'stdio'], killGraceMs: 1_000, initTimeoutMs: 10_000, drainGraceMs: 1_000, logLevel: 'silent' });
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop()));
  await bridge?.close({ graceMs: 0 });
  await closeTestClient();
});

function condition(status: any, type: string): any {
  return status?.conditions?.find((c: any) => c.type === type);
}

test('records the tool count of a server that answers as MCP', async () => {
  const ns = await freshNamespace('ctrl-verify');
  const asked: string[] = [];
  const controller = await startTestController(ns, 'verify', {
    verify: true,
    verifier: (url) => {
      asked.push(url);
      return mcpVerifier(url.replace(/^http:\/\/[^/]+/, `http://127.0.0.1:${bridge.port}`));
    },
  });
  controllers.push(controller);
  await applyServer(ns, mcpServer('everything', { image: 'x', transport: { type: 'stdio' }, command: ['node', 'index.js', 'stdio'] }));
  await waitFor('Pending', async () => ((await getObject(MCP_SERVER, ns, 'everything'))?.status as any)?.phase === 'Pending');
  // No verification before the rollout is available.
  expect(asked).toEqual([]);
  await markDeploymentReady(ns, 'everything', 1);
  const status = await waitFor('the tool count', async () => {
    const s = (await getObject(MCP_SERVER, ns, 'everything'))?.status as any;
    return s?.tools !== undefined ? s : undefined;
  }, 30_000);
  // Through the Service's ClusterIP (what kube-proxy routes), while status.url keeps the DNS name clients use.
  expect(asked[0]).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:8080\/mcp$/);
  expect(status.url).toBe(`http://everything.${ns}.svc:8080/mcp`);
  expect(status.phase).toBe('Running');
  expect(status.tools).toBeGreaterThan(5);
  expect(condition(status, 'Verified')).toMatchObject({ status: 'True', reason: 'ToolsListed' });
  expect(condition(status, 'Verified').message).toContain(`${status.tools} tools`);
});

test('reports a server it cannot reach as Verified=False without failing the rollout', async () => {
  const ns = await freshNamespace('ctrl-verify-fail');
  const controller = await startTestController(ns, 'verify-fail');
  controllers.push(controller);
  await applyServer(ns, mcpServer('unreachable', { image: 'x', verify: true }));
  await markDeploymentReady(ns, 'unreachable', 1);
  const status = await waitFor('Verified=False', async () => {
    const s = (await getObject(MCP_SERVER, ns, 'unreachable'))?.status as any;
    return condition(s, 'Verified')?.status === 'False' ? s : undefined;
  }, 30_000);
  expect(status.phase).toBe('Running');
  expect(['Dns', 'Timeout', 'Network', 'ConnectionRefused']).toContain(condition(status, 'Verified').reason);
  expect(status.tools).toBeUndefined();
});

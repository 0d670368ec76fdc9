/** `mcp-operator controller` as a real process: signals, exit codes, JSON logs, HTTP endpoints. */
import { closeTestClient, freshNamespace, getObject, installCrd, kc, mcpServer, spawnController, waitFor } from './support';
import { DEPLOYMENT, MCP_SERVER } from '../../lib/controller/kube';

const SERVERS = 12;

beforeAll(installCrd);
afterAll(closeTestClient);

describe('mcp-operator controller (process)', () => {
  test('SIGTERM mid-reconcile: no new work, the reconcile in flight finishes, exit 0', async () => {
    const ns = await freshNamespace('ctrl-sigterm');
    const proc = spawnController(['--namespace', ns, '--log-level', 'debug', '--concurrency', '2',
      '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0']);
    try {
      const start = await proc.waitForLog('start', (l) => l.msg === 'controller started');
      await proc.waitForLog('workers', (l) => l.msg === 'caches synced; starting workers');
      const metrics = await (await fetch(`http://${start.metrics}/metrics`)).text();
      expect(metrics).toContain('mcp_operator_queue_depth');
      expect((await fetch(`http://${start.health}/healthz`)).status).toBe(200);
      await waitFor('readyz', async () => (await fetch(`http://${start.health}/readyz`)).status === 200);

      const items = Array.from({ length: SERVERS }, (_, i) => mcpServer(`s${i}`, { image: 'x' }));
      await kc(['apply', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
      // A reconcile has started and has its applies ahead of it: it is in flight.
      const midway = await proc.waitForLog('a reconcile midway', (l) => l.msg === 'reconcile started');
      proc.child.kill('SIGTERM');
      const exit = await proc.exit(30_000);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(proc.stderr()).toContain('received SIGTERM; shutting down');

      const lines = proc.lines;
      const shutdownAt = lines.findIndex((l) => l.msg === 'shutting down');
      expect(lines[shutdownAt]!.inFlight).toBeGreaterThanOrEqual(1);
      const startedIds = lines.filter((l) => l.msg === 'reconcile started').map((l) => l.reconcileID);
      const finished = new Map(lines.filter((l) => l.msg === 'reconcile finished').map((l) => [l.reconcileID, l]));
      expect(startedIds).toContain(midway.reconcileID);
      for (const id of startedIds) expect(finished.get(id)?.result).toBeDefined();
      // Finished without error: 'requeue' is a success that looks again later, as it does while the
      // Deployment has no ready pods (none can start on a bare API server).
      expect(['success', 'requeue']).toContain(finished.get(midway.reconcileID)?.result);
      expect(lines.slice(shutdownAt).some((l) => l.msg === 'reconcile started')).toBe(false);
      expect(lines[lines.length - 1]).toMatchObject({ msg: 'controller stopped', reason: 'stopped' });
      // What the interrupted reconcile set out to do is done: objects applied and status written.
      const name = midway.mcpserver.split('/')[1];
      expect(await getObject(DEPLOYMENT, ns, name)).toBeDefined();
      expect(((await getObject(MCP_SERVER, ns, name))?.status as any)?.phase).toBe('Pending');
      // Not every server was reached: the shutdown did stop taking work.
      const reached = new Set(lines.filter((l) => l.msg === 'reconcile started').map((l) => l.mcpserver));
      expect(reached.size).toBeLessThan(SERVERS);
      for (const line of lines) expect(line).toMatchObject({ name: 'mcp-operator', level: expect.any(Number), time: expect.any(Number) });
      for (const id of startedIds) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });

  test('a bad flag is a usage error: exit 2 before connecting to anything', async () => {
    const proc = spawnController(['--resync-period', '10x']);
    const exit = await proc.exit(20_000);
    expect(exit.code).toBe(2);
    expect(proc.stderr()).toMatch(/--resync-period.*expected a duration/);
  });

  test('a kubeconfig that cannot be loaded fails with exit 1', async () => {
    const proc = spawnController(['--kubeconfig', '/nonexistent/kubeconfig', '--metrics-bind-address', '0', '--health-probe-bind-address', '0']);
    const exit = await proc.exit(20_000);
    expect(exit.code).toBe(1);
    expect(proc.stderr()).toContain('/nonexistent/kubeconfig');
  });
});

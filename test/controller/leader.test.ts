/** Leader election on a real Lease: one active controller, fast hand-over, takeover after a crash, losing the lease. */
import {
  apiWrites, applyServer, closeTestClient, freshNamespace, getObject, installCrd, kc, mcpServer, metricSum, reconciles, spawnController,
  startTestController, TestController, testClient, waitFor,
} from './support';
import { DEPLOYMENT, KubeObject, LEASE, MCP_SERVER } from '../../lib/controller/kube';

const LE = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
const LE_FLAGS = ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms'];
const started: TestController[] = [];

beforeAll(installCrd);

afterAll(async () => {
  await Promise.all(started.map((c) => c.stop()));
  await closeTestClient();
});

async function candidate(ns: string, name: string, id: string): Promise<TestController> {
  const c = await startTestController(ns, name, { leaderElection: { ...LE, namespace: ns, id } });
  started.push(c);
  return c;
}

type Lease = KubeObject & { spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number } };

async function lease(ns: string, id: string): Promise<Lease | undefined> {
  return (await getObject(LEASE, ns, id)) as Lease | undefined;
}

async function reconciledGeneration(ns: string, name: string, generation: number): Promise<void> {
  await waitFor(`${name} to reach generation ${generation}`, async () => ((await getObject(MCP_SERVER, ns, name))?.status as any)?.observedGeneration === generation);
}

describe('leader election', () => {
  let ns: string;
  let a: TestController;
  let b: TestController;

  test('only the leader reconciles; the standby watches, is ready, and writes nothing', async () => {
    ns = await freshNamespace('ctrl-leader');
    a = await candidate(ns, 'leader-a', 'lease-ab');
    await waitFor('a to lead', () => a.isLeader());
    b = await candidate(ns, 'leader-b', 'lease-ab');
    await waitFor('b to sync its caches', () => b.isSynced());
    for (const name of ['one', 'two', 'three']) await applyServer(ns, mcpServer(name, { image: 'x' }));
    for (const name of ['one', 'two', 'three']) await reconciledGeneration(ns, name, 1);
    await new Promise((r) => setTimeout(r, 2 * LE.retryPeriodMs));

    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(await reconciles(a)).toBeGreaterThanOrEqual(3);
    expect(await reconciles(b)).toBe(0);
    expect(await apiWrites(b)).toBe(0);
    expect(await metricSum(b, 'mcp_operator_leader')).toBe(0);
    expect(await metricSum(a, 'mcp_operator_leader')).toBe(1);
    expect((await lease(ns, 'lease-ab'))?.spec).toMatchObject({ holderIdentity: a.identity, leaseDurationSeconds: 4 });
    expect((await fetch(`http://${b.healthAddress}/readyz`)).status).toBe(200);
  });

  test('a graceful stop releases the lease at once, and the standby takes over well within the lease duration', async () => {
    const before = (await lease(ns, 'lease-ab'))!.spec.leaseTransitions ?? 0;
    const t0 = Date.now();
    await a.stop();
    expect(await a.done).toBe('stopped');
    const released = await lease(ns, 'lease-ab');
    // Released (or already taken by b, if it was that quick).
    expect([undefined, '', b.identity]).toContain(released?.spec.holderIdentity);
    await waitFor('b to lead', () => b.isLeader(), LE.leaseDurationMs);
    const takeover = Date.now() - t0;
    expect(takeover).toBeLessThan(LE.leaseDurationMs);
    const taken = await lease(ns, 'lease-ab');
    expect(taken?.spec).toMatchObject({ holderIdentity: b.identity, leaseDurationSeconds: 4, leaseTransitions: before + 1 });

    await kc(['patch', 'mcpserver', 'two', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2}}']);
    await waitFor('b to apply the change', async () => ((await getObject(DEPLOYMENT, ns, 'two'))?.spec as any)?.replicas === 2);
    expect(await reconciles(b)).toBeGreaterThan(0);
  });

  test('when the leader dies without releasing, the standby takes over once the lease expires', async () => {
    const ns2 = await freshNamespace('ctrl-leader-kill');
    const leader = spawnController(['--namespace', ns2, '--leader-elect', '--leader-election-namespace', ns2, '--leader-election-id', 'lease-k',
      ...LE_FLAGS, '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0']);
    try {
      const startLine = await leader.waitForLog('the subprocess to start', (l) => l.msg === 'controller started');
      await leader.waitForLog('the subprocess to lead', (l) => l.msg === 'became leader');
      const standby = await candidate(ns2, 'standby', 'lease-k');
      await waitFor('the standby to sync', () => standby.isSynced());
      expect((await lease(ns2, 'lease-k'))?.spec.holderIdentity).toBe(startLine.identity);

      leader.child.kill('SIGKILL');
      const t0 = Date.now();
      await waitFor('the standby to lead', () => standby.isLeader(), LE.leaseDurationMs + 4 * LE.retryPeriodMs + 2_000, 50);
      const takeover = Date.now() - t0;
      // It waited for the lease to expire (no stealing of a live lease) and not much longer.
      expect(takeover).toBeGreaterThanOrEqual(LE.leaseDurationMs - 2 * LE.retryPeriodMs);
      expect(takeover).toBeLessThanOrEqual(LE.leaseDurationMs + 3 * LE.retryPeriodMs + 1_000);
      await applyServer(ns2, mcpServer('after-crash', { image: 'x' }));
      await reconciledGeneration(ns2, 'after-crash', 1);
    } finally {
      leader.child.kill('SIGKILL');
      await leader.exited;
    }
  });

  test('a leader that cannot renew within the renew deadline stops reconciling and exits 1', async () => {
    const ns3 = await freshNamespace('ctrl-leader-lost');
    const leader = spawnController(['--namespace', ns3, '--leader-elect', '--leader-election-namespace', ns3, '--leader-election-id', 'lease-l',
      ...LE_FLAGS, '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0']);
    try {
      await leader.waitForLog('the subprocess to lead', (l) => l.msg === 'became leader');
      // Someone else takes the lease, as another replica would after a network partition.
      await waitFor('the intruder to take the lease', async () => {
        const current = (await lease(ns3, 'lease-l'))!;
        const now = new Date().toISOString().replace('Z', '000Z');
        try {
          await testClient().replace(LEASE, { ...current, spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 60, renewTime: now } });
          return true;
        } catch {
          return false; // a renewal of the leader got in between (409): try again
        }
      }, 10_000, 20);
      const t0 = Date.now();
      const exit = await leader.exit(LE.renewDeadlineMs + 10_000);
      expect(exit.code).toBe(1);
      expect(Date.now() - t0).toBeLessThan(LE.renewDeadlineMs + 5_000);
      expect(leader.stderr()).toContain('leader-election-lost');
      expect(leader.lines.some((l) => l.msg === 'leader election lost: could not renew the lease')).toBe(true);
      expect((await lease(ns3, 'lease-l'))?.spec.holderIdentity).toBe('intruder');
    } finally {
      leader.child.kill('SIGKILL');
      await leader.exited;
    }
  });
});

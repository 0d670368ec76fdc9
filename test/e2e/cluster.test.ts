/**
 * The operator on a real node (hack/cluster.sh): kubelet, scheduler, controller-manager (garbage
 * collector, ReplicaSets, endpoints) and kube-proxy beside the API server. Everything here runs in
 * pods: the controller from the project's image as its own ServiceAccount, MCP servers from the test
 * image, the stdio bridge copied in by its init container. One file, in order: the Helm chart's
 * controller comes and goes before the install bundle's takes over for the rest, and the last step
 * uninstalls everything.
 */
import { join } from 'path';
import { REPO_ROOT } from './support/cluster';
import {
  apply, cli, condition, connect, freshNamespace, httpServer, isReady, kc, kcJson, kubectl, mcpStatus, podsOf, run,
  serviceUrl, sleep, stdioServer, waitFor, waitRunning,
} from './support/kube';
import { HELM } from '../support/helm';

// Pods, rollouts and a leader lease take longer than jest's default timeout.
jest.setTimeout(300_000);

const OPERATOR_NS = 'mcp-system';

async function rollout(namespace: string, deployment: string): Promise<void> {
  await kc(['-n', namespace, 'rollout', 'status', `deployment/${deployment}`, '--timeout=180s'], undefined, 200_000);
}

async function leaseHolder(namespace: string): Promise<string | undefined> {
  const res = await kubectl(['-n', namespace, 'get', 'lease', 'mcp-operator', '-o', 'jsonpath={.spec.holderIdentity}']);
  return res.code === 0 && res.stdout ? res.stdout.split('_')[0] : undefined;
}

describe('the Helm chart', () => {
  test('puts the controller in a pod that reconciles an MCPServer as its own ServiceAccount', async () => {
    const rendered = await run(HELM, ['template', 'mcp-operator', join(REPO_ROOT, 'charts/mcp-operator'),
      '--set', 'namespace=mcp-helm', '--set', 'replicas=1']);
    expect(rendered.code).toBe(0);
    await kc(['apply', '--server-side', '-f', '-'], rendered.stdout);
    await rollout('mcp-helm', 'mcp-operator');
    const pod = (await kcJson(['-n', 'mcp-helm', 'get', 'pods', '-l', 'app.kubernetes.io/name=mcp-operator'])).items[0];
    expect(pod.spec.serviceAccountName).toBe('mcp-operator');
    // Its only credentials are the projected ServiceAccount token.
    expect(pod.spec.containers[0].env.map((e: any) => e.name)).not.toContain('KUBECONFIG');
    expect(pod.spec.volumes.some((v: any) => v.projected?.sources?.some((s: any) => s.serviceAccountToken))).toBe(true);

    const ns = await freshNamespace('e2e-helm');
    await apply(httpServer('helm-http', ns));
    await waitRunning(ns, 'helm-http');
    const deployment = await kcJson(['-n', ns, 'get', 'deployment', 'helm-http']);
    expect(deployment.metadata.ownerReferences[0]).toMatchObject({ kind: 'MCPServer', name: 'helm-http', controller: true });
    const logs = await kc(['-n', 'mcp-helm', 'logs', pod.metadata.name]);
    expect(logs).toContain('caches synced; starting workers');

    // Removed again (CRD included, which takes the server with it), so the bundle's controller is alone.
    await kc(['delete', '--wait=true', '--timeout=120s', '-f', '-'], rendered.stdout, 150_000);
    await kc(['delete', 'namespace', ns, '--wait=false']);
  });
});

describe('the install bundle', () => {
  beforeAll(async () => {
    const bundle = await cli(['install']);
    expect(bundle.code).toBe(0);
    // As the README says, with the image reference install uses by default (hack/cluster.sh loads it).
    await kc(['apply', '--server-side', '-f', '-'], bundle.stdout);
    await rollout(OPERATOR_NS, 'mcp-operator');
  });

  test('runs two controller pods, restricted, one of them holding the leader lease', async () => {
    const pods = (await kcJson(['-n', OPERATOR_NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=mcp-operator'])).items;
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(isReady(pod)).toBe(true);
      expect(pod.spec.serviceAccountName).toBe('mcp-operator');
      expect(pod.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
    }
    const holder = await waitFor('a leader', () => leaseHolder(OPERATOR_NS), 30_000);
    expect(pods.map((p: any) => p.metadata.name)).toContain(holder);
  });
});

describe('MCP servers on running pods', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await freshNamespace('e2e-servers');
  });

  test('an HTTP server becomes READY 1 Running, is Verified by the controller, and verify lists its tools through the ClusterIP', async () => {
    await apply(httpServer('everything-http', ns, { verify: true }));
    const status = await waitRunning(ns, 'everything-http');
    const row = (await kc(['-n', ns, 'get', 'mcpservers', 'everything-http', '--no-headers'])).trim().split(/\s+/);
    expect(row).toEqual(['everything-http', 'localhost/mcp-test/server-everything', expect.any(String), '1', '1', 'Running', expect.any(String)]);
    const verified = await waitFor('Verified=True', async () => {
      const c = condition(await mcpStatus(ns, 'everything-http'), 'Verified');
      return c?.status === 'True' ? c : undefined;
    }, 60_000);
    expect(verified.reason).toBe('ToolsListed');
    expect(status.url).toBe(`http://everything-http.${ns}.svc:3001/mcp`);
    const verify = await cli(['verify', await serviceUrl(ns, 'everything-http'), '--timeout', '20']);
    expect(verify.stderr + verify.stdout).toMatch(/\d+ tools/);
    expect(verify.code).toBe(0);
  });

  test('a stdio server becomes READY 1 Running through the bridge, and verify lists its tools through the ClusterIP', async () => {
    await apply(stdioServer('everything-stdio', ns, { verify: true }));
    await waitRunning(ns, 'everything-stdio');
    const pod = (await podsOf(ns, 'everything-stdio'))[0];
    expect(pod.spec.initContainers[0].name).toBe('install-bridge');
    expect(pod.spec.initContainers[0].imagePullPolicy).toBe('IfNotPresent');
    await waitFor('Verified=True', async () => condition(await mcpStatus(ns, 'everything-stdio'), 'Verified')?.status === 'True', 60_000);
    const verify = await cli(['verify', await serviceUrl(ns, 'everything-stdio'), '--timeout', '20']);
    expect(verify.code).toBe(0);
    expect(verify.stderr + verify.stdout).toMatch(/\d+ tools/);
  });

  test('a stdio pod whose server never answers MCP is Running but not Ready, and the bridge says why', async () => {
    // Alive (a TCP probe would pass) but silent on stdin/stdout.
    await apply(stdioServer('silent', ns, { command: ['/usr/local/bin/node', '-e', 'setInterval(() => {}, 1000)'] }));
    const pod = await waitFor('the silent pod running', async () => {
      const p = (await podsOf(ns, 'silent'))[0];
      return p?.status?.containerStatuses?.find((c: any) => c.name === 'mcp-server')?.state?.running ? p : undefined;
    });
    // The bridge gives the server 30 s to answer initialize, then reports why it is not ready.
    const readyz = await waitFor('the bridge to report the failed handshake', async () => {
      const res = await run('curl', ['-s', '--max-time', '5', `http://${pod.status.podIP}:8080/readyz`]);
      const body = JSON.parse(res.stdout || '{}');
      return body.status === 'not-ready' ? body : undefined;
    }, 90_000, 1_000);
    expect(readyz.ready).toBe(false);
    expect(readyz.reason).toMatch(/initialize/i);
    const now = (await podsOf(ns, 'silent'))[0];
    expect(isReady(now)).toBe(false);
    // Not ready, yet alive: no restarts (liveness is /healthz of the bridge itself).
    expect(now.status.containerStatuses.find((c: any) => c.name === 'mcp-server').restartCount).toBe(0);
    expect((await mcpStatus(ns, 'silent')).phase).toBe('Pending');
  });

  test('a server whose command fails is not Ready; describe says why (condition and event), with no restart storm', async () => {
    const script = "console.error('cannot open the tool database: ECONNREFUSED 10.0.0.9:5432'); process.exit(3)";
    await apply(httpServer('broken', ns, { command: ['/usr/local/bin/node', '-e', script] }));
    const available = await waitFor('Available=False CrashLoopBackOff', async () => {
      const c = condition(await mcpStatus(ns, 'broken'), 'Available');
      return c?.reason === 'CrashLoopBackOff' ? c : undefined;
    }, 90_000);
    expect(available.status).toBe('False');
    expect(available.message).toContain('exited with code 3');
    expect(available.message).toContain('cannot open the tool database');
    const events = await kcJson(['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=MCPServer,involvedObject.name=broken,reason=CrashLoopBackOff']);
    expect(events.items[0]).toMatchObject({ type: 'Warning' });
    const describe = await kc(['-n', ns, 'describe', 'mcpserver', 'broken']);
    expect(describe).toContain('CrashLoopBackOff');
    expect(describe).toContain('cannot open the tool database');
    expect((await mcpStatus(ns, 'broken')).phase).toBe('Pending');
    // The kubelet backs off (10 s, 20 s, 40 s, …): a handful of restarts a minute, not a storm.
    const started = Date.parse((await podsOf(ns, 'broken'))[0].metadata.creationTimestamp);
    const restarts = (await podsOf(ns, 'broken'))[0].status.containerStatuses[0].restartCount as number;
    expect(restarts).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - started) / 20_000));
    await kc(['-n', ns, 'delete', 'mcpserver', 'broken', 'silent']);
  });

  test('restricted at runtime: the server runs as 65532, writing to / fails, /tmp works', async () => {
    const pod = (await podsOf(ns, 'everything-http'))[0];
    const script = `const fs = require('fs');
      let root = 'written';
      try { fs.writeFileSync('/probe', 'x'); } catch (e) { root = e.code; }
      fs.writeFileSync('/tmp/probe', 'x');
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), root, tmp: fs.readFileSync('/tmp/probe', 'utf8') }));`;
    const out = JSON.parse(await kc(['-n', ns, 'exec', pod.metadata.name, '-c', 'mcp-server', '--', '/usr/local/bin/node', '-e', script]));
    expect(out).toEqual({ uid: 65532, gid: 65532, root: 'EROFS', tmp: 'x' });
  });

  test('kubectl scale mcpserver --replicas=3 gives 3 Ready pods; a config change rolls them without Ready dropping below 3', async () => {
    await kc(['-n', ns, 'scale', 'mcpserver', 'everything-http', '--replicas=3']);
    await waitRunning(ns, 'everything-http', 3);
    expect((await podsOf(ns, 'everything-http')).filter(isReady)).toHaveLength(3);

    const before = new Set((await podsOf(ns, 'everything-http')).map((p) => p.metadata.name));
    // What clients see: ready endpoints of the Service, sampled through the whole rollout.
    let minReady = Infinity;
    let samples = 0;
    let rolling = true;
    const sampler = (async () => {
      while (rolling) {
        const slices = await kcJson(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=everything-http']);
        const ready = slices.items.flatMap((s: any) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready).length;
        minReady = Math.min(minReady, ready);
        samples++;
      }
    })();
    await kc(['-n', ns, 'patch', 'mcpserver', 'everything-http', '--type=merge', '-p', JSON.stringify({ spec: { config: { 'settings.json': '{"rolled":true}' } } })]);
    await waitFor('all 3 pods replaced', async () => {
      const pods = (await podsOf(ns, 'everything-http')).filter((p) => !p.metadata.deletionTimestamp);
      return pods.length === 3 && pods.every((p) => !before.has(p.metadata.name) && isReady(p));
    }, 180_000);
    await waitRunning(ns, 'everything-http', 3);
    rolling = false;
    await sampler;
    expect(samples).toBeGreaterThan(5);
    expect(minReady).toBeGreaterThanOrEqual(3);
  });

  test('delete: Deployment, ReplicaSets, pods, Service, ServiceAccount and ConfigMap are gone within seconds', async () => {
    const t0 = Date.now();
    await kc(['-n', ns, 'delete', 'mcpserver', 'everything-http', '--wait=true']);
    const selector = 'app.kubernetes.io/instance=everything-http';
    await waitFor('every object of everything-http to go', async () => {
      const left = await kc(['-n', ns, 'get', 'deployments,replicasets,pods,services,serviceaccounts,configmaps', '-l', selector, '-o', 'name']);
      return left.trim() === '';
    }, 60_000, 200);
    const elapsed = Date.now() - t0;
    // Pods get their terminationGracePeriodSeconds (30 s) at most; server-everything exits at once on SIGTERM.
    expect(elapsed).toBeLessThan(35_000);
  });
});

describe('load and shutdown on a stdio server', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await freshNamespace('e2e-load');
  });

  test('many concurrent sessions with the default resources: clear refusals, never an OOM-killed container', async () => {
    await apply(stdioServer('crowded', ns));
    await waitRunning(ns, 'crowded');
    const url = await serviceUrl(ns, 'crowded');
    const attempts = 16;
    const results = await Promise.allSettled(Array.from({ length: attempts }, () => connect(url, 30_000)));
    const opened = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof connect>>> => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason?.message ?? r.reason));
    process.stderr.write(`[e2e] ${attempts} concurrent sessions: ${opened.length} admitted, ${refused.length} refused (${refused[0] ?? 'none'})\n`);
    try {
      expect(opened.length).toBeGreaterThanOrEqual(1);
      for (const message of refused) expect(message).toMatch(/503|capacity|memory|too many sessions/i);
      // The sessions that were admitted still work.
      for (const s of opened) expect((await s.client.listTools()).tools.length).toBeGreaterThan(5);
    } finally {
      await Promise.all(opened.map((s) => s.close()));
    }
    const pod = (await podsOf(ns, 'crowded'))[0];
    const main = pod.status.containerStatuses.find((c: any) => c.name === 'mcp-server');
    expect(main.restartCount).toBe(0);
    expect(main.lastState?.terminated?.reason).toBeUndefined();
  });

  test('SIGTERM mid-session (pod deleted): the request in flight finishes, new sessions go to the other replica', async () => {
    await kc(['-n', ns, 'scale', 'mcpserver', 'crowded', '--replicas=2']);
    await waitRunning(ns, 'crowded', 2);
    const [victim, survivor] = await podsOf(ns, 'crowded');
    // The in-flight session talks to the victim directly; new ones go through the Service.
    const session = await connect(`http://${victim.status.podIP}:8080/mcp`);
    const call = session.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 8, steps: 4 } }, undefined, { timeout: 60_000 });
    await sleep(1_500);
    await kc(['-n', ns, 'delete', 'pod', victim.metadata.name, '--wait=false']);
    await waitFor('the victim to leave the Service endpoints', async () => {
      const slices = await kcJson(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=crowded']);
      return !slices.items.flatMap((s: any) => s.endpoints ?? []).some((e: any) => e.addresses.includes(victim.status.podIP) && e.conditions?.ready);
    }, 20_000, 100);
    const fresh = await connect(await serviceUrl(ns, 'crowded'));
    expect((await fresh.client.listTools()).tools.length).toBeGreaterThan(5);
    await fresh.close();
    const result = await call;
    expect(JSON.stringify(result)).toMatch(/completed|Long running operation/i);
    await session.close();
    expect((await podsOf(ns, 'crowded')).map((p) => p.metadata.name)).toContain(survivor.metadata.name);
  });
});

describe('leader election in the cluster', () => {
  test('delete the leader pod: the standby takes over and keeps reconciling', async () => {
    const leader = await waitFor('a leader', () => leaseHolder(OPERATOR_NS), 30_000);
    await kc(['-n', OPERATOR_NS, 'delete', 'pod', leader]);
    const next = await waitFor('another leader', async () => {
      const holder = await leaseHolder(OPERATOR_NS);
      return holder && holder !== leader ? holder : undefined;
    }, 60_000);
    expect(next).not.toBe(leader);
    const ns = await freshNamespace('e2e-failover');
    await apply(httpServer('after-failover', ns));
    await waitRunning(ns, 'after-failover');
    const logs = await kc(['-n', OPERATOR_NS, 'logs', next]);
    expect(logs).toContain('became leader');
  });
});

describe('uninstall', () => {
  test('uninstall --delete-servers completes and leaves nothing behind', async () => {
    const servers = JSON.parse(await kc(['get', 'mcpservers', '-A', '-o', 'json'])).items as any[];
    expect(servers.length).toBeGreaterThan(0);
    const bundle = await cli(['uninstall', '--delete-servers']);
    expect(bundle.code).toBe(0);
    const t0 = Date.now();
    await kc(['delete', '--ignore-not-found', '--wait=true', '--timeout=120s', '-f', '-'], bundle.stdout, 150_000);
    expect(Date.now() - t0).toBeLessThan(120_000);
    expect((await kubectl(['get', 'crd', 'mcpservers.mcp.io'])).code).not.toBe(0);
    await waitFor('every object the operator made to be collected', async () => {
      const left = await kc(['get', 'deployments,replicasets,pods,services,serviceaccounts,configmaps', '-A', '-l', 'app.kubernetes.io/managed-by=mcp-operator', '-o', 'name']);
      return left.trim() === '';
    }, 90_000, 500);
    const operator = await kc(['-n', OPERATOR_NS, 'get', 'deployments,pods', '-o', 'name']);
    expect(operator.trim()).toBe('');
  });
});

/**
 * The reconcile loop against a real API server: objects, ownership, status, updates, pruning,
 * scaling, drift, invalid specs, foreign objects, and no writes when nothing changed.
 */
import { join } from 'path';
import {
  apiWrites, applyServer, closeTestClient, example, freshNamespace, getObject, installCrd, kc, kcJson, logLines, markDeploymentReady,
  mcpServer, metricSum, reconciles, startTestController, TestController, waitFor,
} from './support';
import { LABEL_INSTANCE, LABEL_MANAGED_BY } from '../../lib/construct/mcpserver';
import { FINALIZER, RECONCILE_ID_ANNOTATION } from '../../lib/controller';
import { firstDifference } from '../../lib/controller/compare';
import { CONFIG_MAP, DEPLOYMENT, KubeObject, MCP_SERVER, SERVICE, SERVICE_ACCOUNT, typeOf } from '../../lib/controller/kube';
import { checkResource } from '../../lib/spec/validate';
import { desired } from '../../lib/synth';
import { REPO_ROOT } from '../support/control-plane';

const SEEDS = ['filesystem-server', 'git-server', 'postgres-server', 'placement-server'];
const RESYNC_MS = 1_500;

let ns: string;
let controller: TestController;

beforeAll(async () => {
  await installCrd();
  ns = await freshNamespace('ctrl-reconcile');
  controller = await startTestController(ns, 'reconcile', { resyncPeriodMs: RESYNC_MS });
});

afterAll(async () => {
  await controller?.stop();
  await closeTestClient();
});

async function server(name: string): Promise<KubeObject & { status?: any; spec?: any }> {
  const obj = await getObject(MCP_SERVER, ns, name);
  if (!obj) throw new Error(`MCPServer ${name} not found`);
  return obj;
}

/** The status once it describes the current generation. */
async function settled(name: string, pred: (s: any) => boolean = () => true, timeoutMs = 30_000): Promise<any> {
  return waitFor(`status of ${name} to settle`, async () => {
    const s = await server(name);
    return s.status?.observedGeneration === s.metadata.generation && pred(s.status) ? s : undefined;
  }, timeoutMs);
}

function condition(status: any, type: string): any {
  return status.conditions.find((c: any) => c.type === type);
}

async function deployment(name: string): Promise<any> {
  return waitFor(`Deployment ${name}`, () => getObject(DEPLOYMENT, ns, name));
}

function container(dep: any): any {
  return dep.spec.template.spec.containers.find((c: any) => c.name === 'mcp-server');
}

/** Waits until the controller has been idle (nothing queued, nothing running) for `quietMs`. */
async function idle(quietMs = 500): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitFor('the controller to go idle', async () => {
    const count = await reconciles(controller);
    const depth = await metricSum(controller, 'mcp_operator_queue_depth');
    if (count !== last || depth > 0) {
      last = count;
      since = Date.now();
      return false;
    }
    return Date.now() - since >= quietMs;
  }, 30_000, 100);
}

describe('controller reconcile', () => {
  test('creates the objects of every seed example, owned by their MCPServer, exactly as desired() synthesizes them', async () => {
    for (const name of SEEDS) await kc(['apply', '-n', ns, '-f', join(REPO_ROOT, 'examples/servers', `${name}.yaml`)]);
    for (const name of SEEDS) {
      const cr = await settled(name, (s) => s.phase !== undefined);
      expect(cr.metadata.finalizers ?? []).not.toContain(FINALIZER);
      const owner = { apiVersion: 'mcp.io/v1', kind: 'MCPServer', name, uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true };
      for (const type of [DEPLOYMENT, SERVICE, SERVICE_ACCOUNT]) {
        const obj = await getObject(type, ns, name);
        expect(obj?.metadata.ownerReferences).toEqual([owner]);
        expect(obj?.metadata.labels).toMatchObject({ [LABEL_INSTANCE]: name, [LABEL_MANAGED_BY]: 'mcp-operator' });
      }
      expect(await getObject(CONFIG_MAP, ns, `${name}-config`)).toBeUndefined();
      // The controller calls synthesis rather than re-implementing it: every desired field is live.
      const doc = { ...example(`servers/${name}.yaml`), metadata: { name, namespace: ns } };
      for (const want of desired(checkResource(doc).resource!)) {
        const live = await getObject(typeOf(want)!, ns, name);
        expect({ kind: want.kind, diff: firstDifference(want, live) }).toEqual({ kind: want.kind, diff: undefined });
      }
      expect(cr.status).toMatchObject({
        phase: 'Pending',
        replicas: 0,
        readyReplicas: 0,
        observedGeneration: 1,
        selector: `app.kubernetes.io/instance=${name},app.kubernetes.io/name=mcpserver`,
        url: `http://${name}.${ns}.svc:8080/mcp`,
      });
      expect(condition(cr.status, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
      expect(condition(cr.status, 'RegistryResolved')).toMatchObject({ status: 'True', reason: 'NotRequired' });
      expect(condition(cr.status, 'Available')).toMatchObject({ status: 'False' });
      expect(condition(cr.status, 'Progressing')).toMatchObject({ status: 'True' });
    }
    expect((await server('filesystem-server')).status.image).toBe('python:3.11-slim');
    expect(container(await deployment('postgres-server')).env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'postgres-secret', key: 'database-url' } } });
    expect((await deployment('placement-server')).spec.template.spec.nodeSelector).toEqual({ disktype: 'ssd' });
  });

  test('records a Created event carrying the reconcile ID that the logs carry too', async () => {
    const events = await waitFor('Created event of git-server', async () => {
      const list = await kcJson(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=git-server,reason=Created']);
      return list.items.length > 0 ? list.items : undefined;
    });
    const event = events[0];
    expect(event.type).toBe('Normal');
    expect(event.involvedObject).toMatchObject({ kind: 'MCPServer', name: 'git-server' });
    expect(event.message).toMatch(/^created ServiceAccount git-server, (Deployment git-server, Service git-server|Service git-server, Deployment git-server)/);
    const id = event.metadata.annotations[RECONCILE_ID_ANNOTATION];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.message).toContain(id);
    const lines = logLines(controller).filter((l) => l.reconcileID === id);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['reconcile started', 'applied changes', 'reconcile finished']));
    expect(lines.every((l) => l.mcpserver === `${ns}/git-server`)).toBe(true);
  });

  test('turns Running once the Deployment reports its replicas ready; kubectl shows the printer columns', async () => {
    const before = await settled('git-server');
    await markDeploymentReady(ns, 'git-server', 1);
    const cr = await settled('git-server', (s) => s.phase === 'Running');
    expect(cr.status).toMatchObject({ replicas: 1, readyReplicas: 1 });
    expect(condition(cr.status, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(condition(cr.status, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    // Accepted did not change, so neither did its transition time.
    expect(condition(cr.status, 'Accepted').lastTransitionTime).toBe(condition(before.status, 'Accepted').lastTransitionTime);
    const table = (await kc(['get', 'mcpservers', '-n', ns])).trim().split('\n');
    expect(table[0]!.split(/\s+/)).toEqual(['NAME', 'IMAGE', 'TAG', 'REPLICAS', 'READY', 'PHASE', 'AGE']);
    const row = table.find((l) => l.startsWith('git-server '))!.split(/\s+/);
    expect(row.slice(0, 6)).toEqual(['git-server', 'mcp-server-git', 'latest', '1', '1', 'Running']);
  });

  test('applies changes of replicas, image and env', async () => {
    await kc(['patch', 'mcpserver', 'git-server', '-n', ns, '--type=merge', '-p', JSON.stringify({
      spec: { replicas: 2, tag: 'v2', env: [{ name: 'GIT_REPOS_PATH', value: '/data' }, { name: 'LOG_LEVEL', value: 'debug' }] },
    })]);
    const dep = await waitFor('the Deployment to follow', async () => {
      const d = await deployment('git-server');
      return d.spec.replicas === 2 && container(d).image === 'mcp-server-git:v2' ? d : undefined;
    });
    expect(container(dep).env).toEqual([{ name: 'GIT_REPOS_PATH', value: '/data' }, { name: 'LOG_LEVEL', value: 'debug' }, { name: 'HOME', value: '/home/mcp' }]);
    const cr = await settled('git-server', (s) => s.image === 'mcp-server-git:v2');
    // The Deployment controller has not seen the new spec: no longer Running.
    expect(cr.status.phase).toBe('Pending');
    expect(condition(cr.status, 'Available')).toMatchObject({ status: 'False', reason: 'DeploymentNotObserved' });
  });

  test('creates the ConfigMap when config is added and prunes it when config is removed', async () => {
    await kc(['patch', 'mcpserver', 'git-server', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { config: { 'settings.json': '{"depth":1}' } } })]);
    const cm = await waitFor('the ConfigMap', () => getObject(CONFIG_MAP, ns, 'git-server-config'));
    expect(cm.data).toEqual({ 'settings.json': '{"depth":1}' });
    expect(cm.metadata.ownerReferences?.[0]?.name).toBe('git-server');
    await waitFor('the config volume in the pod template', async () => {
      const d = await deployment('git-server');
      return d.spec.template.spec.volumes.some((v: any) => v.configMap?.name === 'git-server-config') && d.spec.template.metadata.annotations?.['mcp.io/config-checksum'];
    });

    await kc(['patch', 'mcpserver', 'git-server', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/config' }])]);
    await waitFor('the ConfigMap to be pruned', async () => (await getObject(CONFIG_MAP, ns, 'git-server-config')) === undefined);
    const dep = await waitFor('the config volume to leave the pod template', async () => {
      const d = await deployment('git-server');
      return d.spec.template.spec.volumes.every((v: any) => !v.configMap) ? d : undefined;
    });
    expect(container(dep).volumeMounts.map((m: any) => m.name)).not.toContain('config');
    await waitFor('a Deleted event', async () => {
      const list = await kcJson(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=git-server,reason=Deleted']);
      return list.items.some((e: any) => e.message.startsWith('deleted ConfigMap git-server-config'));
    });
  });

  test('kubectl scale on the MCPServer scales the Deployment (status.selector backs the scale subresource)', async () => {
    await kc(['scale', 'mcpserver', 'git-server', '-n', ns, '--replicas=3']);
    await waitFor('3 replicas', async () => (await deployment('git-server')).spec.replicas === 3);
    const scale = JSON.parse(await kc(['get', '--raw', `/apis/mcp.io/v1/namespaces/${ns}/mcpservers/git-server/scale`]));
    expect(scale.spec.replicas).toBe(3);
    await waitFor('the selector in the scale status', async () => {
      const s = JSON.parse(await kc(['get', '--raw', `/apis/mcp.io/v1/namespaces/${ns}/mcpservers/git-server/scale`]));
      return s.status.selector === 'app.kubernetes.io/instance=git-server,app.kubernetes.io/name=mcpserver';
    });
  });

  test('reverts drift of the fields it owns, and leaves fields of others alone', async () => {
    await kc(['patch', 'deployment', 'git-server', '-n', ns, '--type=merge', '-p', JSON.stringify({
      spec: { replicas: 7, template: { spec: { containers: [{ name: 'mcp-server', image: 'evil:latest' }] } } },
    })]);
    await waitFor('the Deployment to be reverted', async () => {
      const d = await deployment('git-server');
      return d.spec.replicas === 3 && container(d).image === 'mcp-server-git:v2';
    });
    await kc(['patch', 'serviceaccount', 'git-server', '-n', ns, '--type=merge', '-p', '{"automountServiceAccountToken":true}']);
    await waitFor('the ServiceAccount to be reverted', async () => (await getObject(SERVICE_ACCOUNT, ns, 'git-server'))?.automountServiceAccountToken === false);

    await idle();
    const writes = await apiWrites(controller);
    await kc(['annotate', 'deployment', 'git-server', '-n', ns, 'example.com/owner=team-a']);
    await kc(['label', 'service', 'git-server', '-n', ns, 'example.com/tier=backend']);
    const count = await reconciles(controller);
    await waitFor('reconciles of the annotated objects', async () => (await reconciles(controller)) >= count + 2);
    await idle();
    expect(await apiWrites(controller)).toBe(writes);
    expect((await deployment('git-server')).metadata.annotations['example.com/owner']).toBe('team-a');
    expect((await getObject(SERVICE, ns, 'git-server'))!.metadata.labels!['example.com/tier']).toBe('backend');
  });

  test('recreates an owned object someone deleted', async () => {
    const before = await getObject(SERVICE, ns, 'git-server');
    await kc(['delete', 'service', 'git-server', '-n', ns]);
    const after = await waitFor('the Service to be recreated', async () => {
      const svc = await getObject(SERVICE, ns, 'git-server');
      return svc && svc.metadata.uid !== before!.metadata.uid ? svc : undefined;
    });
    expect(after.metadata.ownerReferences?.[0]?.name).toBe('git-server');
  });

  test('an invalid spec makes it Failed with the field path, applies nothing and keeps the last good objects', async () => {
    const before = await deployment('git-server');
    await kc(['patch', 'mcpserver', 'git-server', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { transport: { type: 'stdio' }, command: null, replicas: 1 } })]);
    const cr = await settled('git-server', (s) => s.phase === 'Failed');
    expect(condition(cr.status, 'Accepted')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(condition(cr.status, 'Accepted').message).toContain('spec.command: is required when transport.type is stdio');
    await idle();
    const after = await deployment('git-server');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.spec.replicas).toBe(3);
    expect(await getObject(SERVICE, ns, 'git-server')).toBeDefined();
    const warnings = await kcJson(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=git-server,reason=InvalidSpec']);
    expect(warnings.items[0]).toMatchObject({ type: 'Warning' });
    expect(warnings.items[0].message).toContain('spec.command');

    // Fixed again: the stdio form is applied (the bridge starts the command).
    await kc(['patch', 'mcpserver', 'git-server', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { command: ['mcp-server-git'] } })]);
    const fixed = await settled('git-server', (s) => s.phase !== 'Failed');
    expect(condition(fixed.status, 'Accepted')).toMatchObject({ status: 'True' });
    const dep = await waitFor('the stdio Deployment', async () => {
      const d = await deployment('git-server');
      return d.spec.replicas === 1 && d.spec.template.spec.initContainers?.length ? d : undefined;
    });
    // What synthesis makes of the stdio spec, whatever bridge flags it chooses.
    const stdio = await server('git-server');
    const want = desired(checkResource({ ...stdio, status: undefined }).resource!).find((o) => o.kind === 'Deployment') as any;
    expect(container(dep).args).toEqual(container(want).args);
    expect(container(dep).args.slice(-2)).toEqual(['--', 'mcp-server-git']);
  });

  test('a resource invalid from the start gets no objects at all', async () => {
    await applyServer(ns, mcpServer('broken', { image: 'x', transport: { type: 'stdio' } }));
    const cr = await settled('broken', (s) => s.phase === 'Failed');
    expect(condition(cr.status, 'Accepted').message).toContain('spec.command');
    for (const type of [DEPLOYMENT, SERVICE, SERVICE_ACCOUNT]) expect(await getObject(type, ns, 'broken')).toBeUndefined();
  });

  test('never touches an object it does not own: a same-named Service makes it Failed with ResourceConflict', async () => {
    const foreign = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'taken', labels: { team: 'other' } }, spec: { ports: [{ port: 1234 }], selector: { app: 'other' } } };
    await kc(['create', '-n', ns, '-f', '-'], JSON.stringify(foreign));
    const before = await getObject(SERVICE, ns, 'taken');
    await applyServer(ns, mcpServer('taken', { image: 'x' }));
    const cr = await settled('taken', (s) => s.phase === 'Failed');
    expect(condition(cr.status, 'Progressing')).toMatchObject({ status: 'False', reason: 'ResourceConflict' });
    expect(condition(cr.status, 'Progressing').message).toContain('Service taken exists and is not controlled by this MCPServer');
    await idle();
    const after = await getObject(SERVICE, ns, 'taken');
    expect(after!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
    expect(await getObject(DEPLOYMENT, ns, 'taken')).toBeUndefined();

    // Once the name is free, the server goes ahead without waiting for a resync.
    await kc(['delete', 'service', 'taken', '-n', ns]);
    const freed = await settled('taken', (s) => s.phase === 'Pending', 5_000);
    expect(condition(freed.status, 'Progressing')).toMatchObject({ status: 'True' });
    expect((await getObject(SERVICE, ns, 'taken'))?.metadata.ownerReferences?.[0]?.uid).toBe(freed.metadata.uid);
  });

  test('restores its managed-by label when someone removes it', async () => {
    await kc(['label', 'serviceaccount', 'git-server', '-n', ns, `${LABEL_MANAGED_BY}-`]);
    await waitFor('the label back', async () => (await getObject(SERVICE_ACCOUNT, ns, 'git-server'))?.metadata.labels?.[LABEL_MANAGED_BY] === 'mcp-operator', 5_000);
  });

  test('a registry reference fails clearly while no resolver is configured', async () => {
    await applyServer(ns, mcpServer('from-registry', { registry: { name: 'io.github.modelcontextprotocol/filesystem' } }));
    const cr = await settled('from-registry', (s) => s.phase === 'Failed');
    expect(condition(cr.status, 'RegistryResolved')).toMatchObject({ status: 'False', reason: 'ResolverNotConfigured' });
    expect(condition(cr.status, 'RegistryResolved').message).toContain('io.github.modelcontextprotocol/filesystem');
    expect(await getObject(DEPLOYMENT, ns, 'from-registry')).toBeUndefined();
  });

  test('a resync of unchanged resources writes nothing', async () => {
    await idle();
    const servers = (await kcJson(['get', 'mcpservers', '-n', ns])).items.length;
    const versions = async () => (await kc(['get', 'mcpservers,deployments,services,serviceaccounts,configmaps', '-n', ns, '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}'])).trim();
    const before = await versions();
    const writes = await apiWrites(controller);
    const count = await reconciles(controller);
    // Two resync periods: every server is reconciled at least twice.
    await waitFor('two resyncs', async () => (await reconciles(controller)) >= count + 2 * servers, 20_000);
    expect(await apiWrites(controller)).toBe(writes);
    expect(await versions()).toBe(before);
    expect(await metricSum(controller, 'mcp_operator_reconcile_errors_total')).toBe(0);
  });

  test('serves /metrics, /healthz and /readyz', async () => {
    const metrics = await (await fetch(`http://${controller.metricsAddress}/metrics`)).text();
    expect(metrics).toMatch(/^mcp_operator_reconcile_total\{result="success"\} \d+/m);
    expect(metrics).toMatch(/^mcp_operator_reconcile_duration_seconds_bucket\{le="0.1",result="success"\} \d+/m);
    expect(metrics).toMatch(/^mcp_operator_operations_total\{operation="create",kind="Deployment"\} \d+/m);
    expect(metrics).toMatch(/^mcp_operator_operations_total\{operation="delete",kind="ConfigMap"\} 1$/m);
    expect(metrics).toMatch(/^mcp_operator_queue_depth \d+/m);
    expect(metrics).toMatch(/^mcp_operator_reconcile_errors_total \d+/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
    // The operator-wide registry of lib/metrics.ts is served alongside.
    expect(metrics).toContain('# TYPE mcp_operator_registry_requests_total counter');
    const healthz = await fetch(`http://${controller.healthAddress}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`http://${controller.healthAddress}/readyz`);
    expect([readyz.status, await readyz.text()]).toEqual([200, 'ok\n']);
  });
});

/**
 * Deletion left to the garbage collector, conflicts with concurrent writers, and what the API server rejects
 * (the API server restart is in restart.test.ts, on a control plane of its own).
 */
import {
  apiWrites, applyServer, closeTestClient, freshNamespace, getObject, installCrd, kc, kcJson, mcpServer, metricSum, reconciles,
  startTestController, TestController, testClient, waitFor,
} from './support';
import { FINALIZER } from '../../lib/controller';
import { DEPLOYMENT, KubeObject, MCP_SERVER, POD, SERVICE, SERVICE_ACCOUNT } from '../../lib/controller/kube';

let ns: string;
let controller: TestController;

beforeAll(async () => {
  await installCrd();
  ns = await freshNamespace('ctrl-lifecycle');
  controller = await startTestController(ns, 'lifecycle', { backoff: { baseDelayMs: 5, maxDelayMs: 2_000 } });
});

afterAll(async () => {
  await controller?.stop();
  await closeTestClient();
});

/** Waits until nothing was reconciled for `quietMs`. */
async function idle(quietMs = 700): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitFor('the controller to go idle', async () => {
    const count = await reconciles(controller);
    if (count !== last) {
      last = count;
      since = Date.now();
      return false;
    }
    return Date.now() - since >= quietMs;
  });
}

async function status(name: string): Promise<any> {
  return (await getObject(MCP_SERVER, ns, name))?.status;
}

/** A pod as the ReplicaSet would make it (there is no ReplicaSet controller here), admitted by PodSecurity restricted. */
function podOf(server: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${server}-pod`, labels: { 'app.kubernetes.io/name': 'mcpserver', 'app.kubernetes.io/instance': server } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'c', image: 'x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  };
}

describe('deletion', () => {
  // Deletion is the garbage collector's job (kubebuilder's guidance): the controller adds no finalizer,
  // so an MCPServer goes at once and its objects follow through their owner references. The collector
  // itself runs only on the real cluster (test/e2e), where the objects are shown gone within seconds.
  test('adds no finalizer; every owned object carries a controller owner reference, and the MCPServer deletes at once', async () => {
    await applyServer(ns, mcpServer('doomed', { image: 'x', config: { a: 'b' } }));
    await waitFor('the objects of doomed', async () => (await status('doomed'))?.phase === 'Pending' && (await getObject(DEPLOYMENT, ns, 'doomed')));
    const server = (await getObject(MCP_SERVER, ns, 'doomed'))!;
    expect(server.metadata.finalizers ?? []).not.toContain(FINALIZER);
    const owned = [
      await getObject(DEPLOYMENT, ns, 'doomed'), await getObject(SERVICE, ns, 'doomed'), await getObject(SERVICE_ACCOUNT, ns, 'doomed'),
      (await kcJson(['get', 'configmap', 'doomed-config', '-n', ns])) as KubeObject,
    ];
    for (const obj of owned) {
      expect(obj?.metadata.ownerReferences).toEqual([
        { apiVersion: 'mcp.io/v1', kind: 'MCPServer', name: 'doomed', uid: server.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
    }
    const t0 = Date.now();
    await kc(['delete', 'mcpserver', 'doomed', '-n', ns, '--wait=true', '--timeout=20s']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await getObject(MCP_SERVER, ns, 'doomed')).toBeUndefined();
  });

  test('removes the finalizer an earlier release added, so such servers still delete', async () => {
    const legacy = mcpServer('legacy', { image: 'x' }) as KubeObject;
    legacy.metadata.finalizers = [FINALIZER];
    await applyServer(ns, legacy);
    await waitFor('the finalizer to be removed', async () => {
      const obj = await getObject(MCP_SERVER, ns, 'legacy');
      return obj && !(obj.metadata.finalizers ?? []).includes(FINALIZER);
    });
    await kc(['delete', 'mcpserver', 'legacy', '-n', ns, '--wait=true', '--timeout=20s']);
    expect(await getObject(MCP_SERVER, ns, 'legacy')).toBeUndefined();
  });
});

describe('efficiency', () => {
  test('a new server takes one reconcile and five writes: the watch echoes of its own writes are not reconciled again', async () => {
    await idle();
    const reconcilesBefore = await reconciles(controller);
    const writesBefore = await apiWrites(controller);
    await applyServer(ns, mcpServer('quiet', { image: 'x' }));
    await waitFor('quiet to be reconciled', async () => (await status('quiet'))?.observedGeneration === 1);
    await idle();
    expect(await reconciles(controller) - reconcilesBefore).toBe(1);
    // ServiceAccount, Deployment, Service, status and one Created event (no finalizer).
    expect(await apiWrites(controller) - writesBefore).toBe(5);
  });
});

describe('robustness', () => {
  test('converges while someone updates the MCPServer concurrently (409 conflicts are retried)', async () => {
    await applyServer(ns, mcpServer('busy', { image: 'x', env: [{ name: 'N', value: '0' }] }));
    await waitFor('busy to be reconciled', async () => (await status('busy'))?.observedGeneration === 1);
    const conflictsBefore = await metricSum(controller, 'mcp_operator_reconcile_total', (l) => l.result === 'conflict');
    const client = testClient();
    const conflicts = async () => (await metricSum(controller, 'mcp_operator_reconcile_total', (l) => l.result === 'conflict')) - conflictsBefore;
    // Update back to back until the controller has been caught between its read and its write at least once (bounded).
    let last = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (last < 10 || (await conflicts()) === 0)) {
      last++;
      await client.mergePatch(MCP_SERVER, ns, 'busy', { spec: { env: [{ name: 'N', value: String(last) }], replicas: (last % 3) + 1 } });
    }
    const cr = await waitFor('busy to converge', async () => {
      const s = await getObject(MCP_SERVER, ns, 'busy');
      return s && (s.status as any)?.observedGeneration === s.metadata.generation ? s : undefined;
    });
    const dep = await getObject(DEPLOYMENT, ns, 'busy');
    const env = (dep!.spec as any).template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'N', value: String(last) });
    expect((dep!.spec as any).replicas).toBe((last % 3) + 1);
    expect((cr.status as any).phase).toBe('Pending');
    // Status writes are guarded by the resourceVersion they were computed from, so racing updates surface as 409s.
    expect(await conflicts()).toBeGreaterThan(0);
  });

  test('reports what the API server rejects as ApplyFailed, with a warning event, and keeps retrying with backoff', async () => {
    // The spec is valid (the CRD and the CLI accept it); the cluster's own admission policy refuses
    // the Deployment, as a platform team's policy engine would.
    const forbidden = 'platform.example.com/forbidden';
    const policy = `${ns}-no-forbidden-pods`;
    await kc(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: { name: policy },
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
            validations: [{
              expression: `!has(object.spec.template.metadata.annotations) || !('${forbidden}' in object.spec.template.metadata.annotations)`,
              message: `pods must not carry the ${forbidden} annotation`,
            }],
          },
        },
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicyBinding',
          metadata: { name: policy },
          spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } },
        },
      ],
    }));
    try {
      // The policy takes effect a moment after it is created: wait until it refuses a probe.
      const probe = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'probe', namespace: ns },
        spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' }, annotations: { [forbidden]: 'x' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
      };
      await waitFor('the admission policy', async () => {
        try {
          await kc(['create', '--dry-run=server', '-f', '-'], JSON.stringify(probe), 2_000);
          return false;
        } catch (err) {
          return /must not carry/.test((err as Error).message);
        }
      }, 30_000);

      await applyServer(ns, mcpServer('rejected', { image: 'x', podAnnotations: { [forbidden]: 'yes' } }));
      const st = await waitFor('ApplyFailed', async () => {
        const s = await status('rejected');
        return s?.phase === 'Failed' ? s : undefined;
      });
      const progressing = st.conditions.find((c: any) => c.type === 'Progressing');
      expect(progressing).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
      expect(progressing.message).toContain(`pods must not carry the ${forbidden} annotation`);
      const events = await kcJson(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=rejected,reason=ApplyFailed']);
      expect(events.items[0]).toMatchObject({ type: 'Warning' });
      const errors = await metricSum(controller, 'mcp_operator_reconcile_errors_total');
      await waitFor('a retry', async () => (await metricSum(controller, 'mcp_operator_reconcile_errors_total')) > errors);
      // Fixed: applied, and the failure clears.
      await kc(['patch', 'mcpserver', 'rejected', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { podAnnotations: { [forbidden]: null, owner: 'platform' } } })]);
      await waitFor('Pending', async () => (await status('rejected'))?.phase === 'Pending', 30_000);
      expect(((await getObject(DEPLOYMENT, ns, 'rejected'))?.spec as any).template.metadata.annotations).toEqual({ owner: 'platform' });
    } finally {
      await kc(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found']);
    }
  });

  test('the selector in status (the scale subresource\'s, which kubectl and autoscalers use) finds the server\'s pods', async () => {
    await applyServer(ns, mcpServer('selectme', { image: 'x' }));
    const selector = await waitFor('the selector', async () => (await status('selectme'))?.selector as string | undefined);
    await kc(['create', '-n', ns, '-f', '-'], JSON.stringify(podOf('selectme')));
    const pods = await testClient().list(POD, ns, { labelSelector: selector });
    expect(pods.items.map((p) => p.metadata.name)).toEqual(['selectme-pod']);
  });
});

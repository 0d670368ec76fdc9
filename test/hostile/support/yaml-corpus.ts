/**
 * The generated corpus for test/hostile/validation.test.ts: boundary values for every field of the
 * MCPServer spec that ends up in a Kubernetes object. Each case says where the construct puts the
 * value in the synthesized objects, so a case `synth` refuses can still be sent to the API server
 * (the same value, placed into a valid Deployment or ConfigMap) to prove the server refuses it too.
 */
export type KubeObjects = Array<Record<string, any>>;

export interface CorpusCase {
  readonly name: string;
  /** Merged into `{ image: 'ghcr.io/example/server' }`. */
  readonly spec: Record<string, unknown>;
  /** Puts the same value into valid synthesized objects, as the construct would. */
  readonly place: (objects: KubeObjects) => void;
  /**
   * Set when we refuse it but the API server accepts it on purpose: the reason. Everything else we
   * refuse must be refused by the server.
   */
  readonly stricterBecause?: string;
}

const deployment = (objects: KubeObjects) => objects.find((o) => o.kind === 'Deployment')!;
const pod = (objects: KubeObjects) => deployment(objects).spec.template.spec;
const container = (objects: KubeObjects) => pod(objects).containers.find((c: any) => c.name !== 'bridge-install') ?? pod(objects).containers[0];
const configMap = (objects: KubeObjects) => objects.find((o) => o.kind === 'ConfigMap')!;

const INT32_MAX = 2 ** 31 - 1;
const requiredNodeAffinity = (r: unknown) => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [r] }] } },
});
const ZERO_IS_DEFAULT = (v: number) => (v === 0 ? 'the API server reads 0 as "unset" and defaults it (period 10, timeout 1); we refuse it so the value written is the value used' : undefined);
const BEYOND_JS = (v: number) => (Math.abs(v) > Number.MAX_SAFE_INTEGER ? 'beyond 2^53 a JS number is no longer exact, so we cannot carry the value unchanged' : undefined);

type Place<T> = (objects: KubeObjects, v: T) => void;

type Stricter<T> = (v: T) => string | undefined;

type Spec<T> = (v: T) => Record<string, unknown>;

function each<T>(field: string, values: readonly T[], spec: Spec<T>, place: Place<T>, stricter?: Stricter<T>): CorpusCase[] {
  return values.map((v) => ({ name: `${field} = ${JSON.stringify(v)?.slice(0, 60)}`, spec: spec(v), place: (o: KubeObjects) => place(o, v), stricterBecause: stricter?.(v) }));
}

export function corpus(): CorpusCase[] {
  const ids = [0, 1, 65532, INT32_MAX, INT32_MAX + 1, -1, 1e20];
  const seconds = [0, 1, INT32_MAX, INT32_MAX + 1, -1];
  return [
    ...each('security.runAsUser', ids, (v) => ({ security: { runAsUser: v } }), (o, v) => {
      pod(o).securityContext.runAsUser = v;
      container(o).securityContext.runAsUser = v;
    }, (v) => (v === 0 ? 'pods run as non-root: runAsUser 0 is refused on purpose (the API server takes 0)' : undefined)),
    ...each('security.runAsGroup', ids, (v) => ({ security: { runAsGroup: v } }), (o, v) => {
      pod(o).securityContext.runAsGroup = v;
      container(o).securityContext.runAsGroup = v;
    }),
    ...each('security.fsGroup', ids, (v) => ({ security: { fsGroup: v } }), (o, v) => void (pod(o).securityContext.fsGroup = v)),
    ...each('probes.liveness.periodSeconds', seconds, (v) => ({ probes: { liveness: { periodSeconds: v } } }), (o, v) => void (container(o).livenessProbe.periodSeconds = v), ZERO_IS_DEFAULT),
    ...each('probes.readiness.timeoutSeconds', seconds, (v) => ({ probes: { readiness: { timeoutSeconds: v } } }), (o, v) => void (container(o).readinessProbe.timeoutSeconds = v), ZERO_IS_DEFAULT),
    ...each('probes.readiness.initialDelaySeconds', seconds, (v) => ({ probes: { readiness: { initialDelaySeconds: v } } }), (o, v) => void (container(o).readinessProbe.initialDelaySeconds = v)),
    ...each('probes.liveness.successThreshold', [1, 2], (v) => ({ probes: { liveness: { successThreshold: v } } }), (o, v) => void (container(o).livenessProbe.successThreshold = v)),
    ...each('port', [1, 65535, 0, 65536], (v) => ({ port: v }), (o, v) => void (container(o).ports[0].containerPort = v)),
    ...each('terminationGracePeriodSeconds', [0, 3600, -1], (v) => ({ terminationGracePeriodSeconds: v }),
      (o, v) => void (pod(o).terminationGracePeriodSeconds = v),
      (v) => (v < 0 ? 'the API server takes a negative grace period (and kills at once); we keep the documented 0..3600' : undefined)),
    ...each('config key', ['a.json', '-_.x', 'k'.repeat(253), 'k'.repeat(254), '.', '..', 'a/b', 'a b', '..a'], (k) => ({ config: { [k]: 'x' } }), (o, k) => {
      configMap(o).data = { [k]: 'x' };
    }),
    ...each('config size', [1024 * 1024, 1024 * 1024 + 1], (n) => ({ config: { big: 'x'.repeat(n) } }), (o, n) => void (configMap(o).data = { big: 'x'.repeat(n) })),
    ...each('resources.limits.cpu', ['500m', '0', '-1', -1, '1e3'], (q) => ({ resources: { limits: { cpu: q } } }), (o, q) => void (container(o).resources = { limits: { cpu: q } })),
    ...each('resources.limits name', ['foo', 'example.com/gpu', 'kubernetes.io/foo'], (n) => ({ resources: { limits: { [n]: '1' } } }),
      (o, n) => void (container(o).resources = { limits: { [n]: '1' } }),
      (n) => (n.startsWith('kubernetes.io/') ? 'the API server takes any kubernetes.io/ name as native, but no node offers one besides cpu, memory, ephemeral-storage and hugepages' : undefined)),
    ...each('tolerations[0]', [
      { key: 'dedicated', operator: 'Equal', value: 'mcp', effect: 'NoSchedule' },
      { operator: 'Exists' },
      { key: 'a b', operator: 'Exists' },
      { key: 'example.com/x', operator: 'Exists', value: 'v' },
      { operator: 'Equal', value: 'v' },
      { key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 10 },
      { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
      { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 1e20 },
      { key: 'k', operator: 'Equal', value: 'not a label value' },
    ], (t) => ({ tolerations: [t] }), (o, t) => void (pod(o).tolerations = [t]),
    (t) => (t.tolerationSeconds ? BEYOND_JS(t.tolerationSeconds) : undefined)),
    ...each('nodeAffinity requirement', [
      { key: 'zone', operator: 'In', values: ['a'] },
      { key: 'zone', operator: 'In', values: [] },
      { key: 'zone', operator: 'Exists', values: ['a'] },
      { key: 'cores', operator: 'Gt', values: ['4'] },
      { key: 'cores', operator: 'Gt', values: ['4', '5'] },
      { key: 'cores', operator: 'Lt', values: ['four'] },
      { key: 'bad key!', operator: 'Exists' },
    ], (r) => ({ affinity: requiredNodeAffinity(r) }),
    (o, r) => void (pod(o).affinity = requiredNodeAffinity(r)),
    (r) => ((r.operator === 'Gt' || r.operator === 'Lt') && r.values?.length === 1 ? 'Kubernetes 1.35 no longer refuses a non-integer Gt/Lt value in a Deployment, but the scheduler compares integers, so the term never matches' : undefined)),
    ...each('podAntiAffinity topologyKey', ['kubernetes.io/hostname', 'bad key!'], (k) => ({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: k, labelSelector: { matchLabels: { app: 'x' } } }] } } }),
      (o, k) => void (pod(o).affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: k, labelSelector: { matchLabels: { app: 'x' } } }] } })),
    ...each('env fieldRef.fieldPath', ['metadata.name', 'status.podIP', "metadata.labels['app']", 'spec.containers', 'metadata.labels', 'status.phase'], (p) => ({ env: [{ name: 'F', valueFrom: { fieldRef: { fieldPath: p } } }] }),
      (o, p) => void (container(o).env = [{ name: 'F', valueFrom: { fieldRef: { fieldPath: p, apiVersion: 'v1' } } }])),
    ...each('env secretKeyRef.key', ['token', '../../x', 'a/b', '.'], (k) => ({ env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: k } } }] }),
      (o, k) => void (container(o).env = [{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: k } } }])),
    ...each('env configMapKeyRef.key', ['k', '../../x'], (k) => ({ env: [{ name: 'C', valueFrom: { configMapKeyRef: { name: 'c', key: k } } }] }),
      (o, k) => void (container(o).env = [{ name: 'C', valueFrom: { configMapKeyRef: { name: 'c', key: k } } }])),
    ...each('env resourceFieldRef', [{ resource: 'limits.memory', divisor: '1Mi' }, { resource: 'limits.cpu', divisor: '1Mi' }, { resource: 'limits.gpu' }], (r) => ({ env: [{ name: 'R', valueFrom: { resourceFieldRef: r } }] }),
      (o, r) => void (container(o).env = [{ name: 'R', valueFrom: { resourceFieldRef: r } }])),
    ...each('podLabels key', ['app', 'example.com/team', `${'a'.repeat(254)}/x`, '-bad', 'x'.repeat(64)], (k) => ({ podLabels: { [k]: 'v' } }), (o, k) => void (deployment(o).spec.template.metadata.labels[k] = 'v')),
    ...each('podAnnotations size', [200 * 1024, 300 * 1024], (n) => ({ podAnnotations: { 'example.com/a': 'x'.repeat(n) } }), (o, n) => {
      deployment(o).spec.template.metadata.annotations = { 'example.com/a': 'x'.repeat(n) };
    }),
    ...each('nodeSelector value', ['ssd', 'not valid'], (v) => ({ nodeSelector: { disk: v } }), (o, v) => void (pod(o).nodeSelector = { disk: v })),
  ];
}

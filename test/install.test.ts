import { execFileSync, spawnSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { cli } from './support/cli';
import { HELM } from './support/helm';
import { helmChartFiles } from '../lib/install/helm-chart';
import { operatorInstallObjects } from '../lib/install/operator';
import { CONTROLLER_RULES } from '../lib/install/rbac';
import { podSpecOf, restrictedViolations } from '../lib/policy/restricted';

const ROOT = resolve(__dirname, '..');
const CHART = join(ROOT, 'charts/mcp-operator');

type Obj = Record<string, any>;
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objects: Obj[]) => Object.fromEntries(objects.map((o) => [key(o), o]));

function helmTemplate(...args: string[]): Obj[] {
  const out = execFileSync(HELM, ['template', 'mcp-operator', CHART, ...args], { encoding: 'utf8' });
  return (yaml.loadAll(out) as Obj[]).filter(Boolean);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('install bundle', () => {
  test('mcp-operator install prints the CRD, namespace, RBAC, Deployment, Service and PDB', async () => {
    const result = await cli(['install']);
    expect(result.code).toBe(0);
    const kinds = (yaml.loadAll(result.stdout) as Obj[]).map((o) => o.kind);
    expect(kinds).toEqual(['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'Service', 'PodDisruptionBudget']);
  });

  test('the namespace enforces PodSecurity restricted and the controller pods comply', () => {
    const objects = operatorInstallObjects();
    const ns = objects.find((o) => o.kind === 'Namespace')!;
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec.replicas).toBe(2);
    expect(restrictedViolations(podSpecOf(deployment)!)).toEqual([]);
    const c = deployment.spec.template.spec.containers[0];
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.args).toEqual(expect.arrayContaining(['controller', '--leader-elect', '--leader-election-namespace=mcp-system']));
  });

  test('--watch-namespace grants a Role in that namespace instead of a ClusterRole', async () => {
    const objects = yaml.loadAll((await cli(['install', '--watch-namespace', 'team-a', '--namespace', 'ops'])).stdout) as Obj[];
    expect(objects.filter((o) => o.kind === 'ClusterRole')).toHaveLength(0);
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'team-a')!;
    expect(role.rules).toEqual(CONTROLLER_RULES.map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs })));
    expect(objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'team-a')!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'mcp-operator', namespace: 'ops' }]);
    expect(objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].args).toContain('--namespace=team-a');
  });

  test('bad flags are usage errors', async () => {
    expect((await cli(['install', '--namespace', 'Bad_NS'])).code).toBe(2);
    expect((await cli(['install', '--replicas', '0'])).code).toBe(2);
  });

  test("uninstall leaves users' MCPServers (the CRD) alone unless asked", async () => {
    const plain = (yaml.loadAll((await cli(['uninstall'])).stdout) as Obj[]).map((o) => o.kind);
    expect(plain).not.toContain('CustomResourceDefinition');
    expect(plain).not.toContain('Namespace');
    expect(plain[0]).toBe('PodDisruptionBudget');
    const all = (yaml.loadAll((await cli(['uninstall', '--delete-servers', '--delete-namespace'])).stdout) as Obj[]).map((o) => o.kind);
    expect(all).toContain('CustomResourceDefinition');
    expect(all).toContain('Namespace');
  });
});

describe('Helm chart', () => {
  test('charts/mcp-operator is what the generator makes now (run `npx projen helm-chart` when this fails)', () => {
    const expected = helmChartFiles();
    const actual = Object.fromEntries(walk(CHART).map((f) => [f.slice(CHART.length + 1), readFileSync(f, 'utf8')]));
    expect(actual).toEqual(expected);
  });

  test('helm template with default values yields the same objects as mcp-operator install', () => {
    const fromHelm = byKey(helmTemplate());
    const fromInstall = byKey(operatorInstallObjects());
    expect(Object.keys(fromHelm).sort()).toEqual(Object.keys(fromInstall).sort());
    for (const k of Object.keys(fromInstall)) expect({ k, o: fromHelm[k] }).toEqual({ k, o: fromInstall[k] });
  });

  test('values change what people expect them to change', () => {
    const objects = helmTemplate(
      '--set', 'image.repository=registry.example.com/mcp-operator', '--set', 'image.tag=v9.9.9',
      '--set', 'replicas=3', '--set', 'watchNamespace=team-a', '--set', 'registryUrl=http://registry.internal',
      '--set', 'nodeSelector.pool=system', '--set', 'resources.limits.memory=1Gi', '--set', 'installCRDs=false',
      '--set', 'metrics.enabled=false',
    );
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    const c = deployment.spec.template.spec.containers[0];
    expect(c.image).toBe('registry.example.com/mcp-operator:v9.9.9');
    expect(deployment.spec.replicas).toBe(3);
    expect(c.args).toEqual(expect.arrayContaining(['--namespace=team-a', '--registry-url=http://registry.internal']));
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ pool: 'system' });
    expect(c.resources.limits.memory).toBe('1Gi');
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(0);
    expect(objects.filter((o) => o.kind === 'Service')).toHaveLength(0);
    expect(objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'team-a')).toBeDefined();
    expect(objects.filter((o) => o.kind === 'ClusterRole')).toHaveLength(0);
    expect(helmTemplate('--set', 'watchNamespace=team-a').find((o) => o.kind === 'Deployment')).toEqual(
      byKey(operatorInstallObjects({ watchNamespace: 'team-a' }))['Deployment/mcp-system/mcp-operator'],
    );
  });

  test('helm lint is clean', () => {
    const result = spawnSync(HELM, ['lint', '--strict', CHART], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
  });
});

/**
 * Both install paths on a real API server, and the controller started from the file tree the
 * container image holds (no Docker engine runs here, so the tree stands in for the image).
 */
import { execFileSync, spawn } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { podSpecOf } from '../../lib/policy/restricted';
import { installCrd, waitFor } from '../controller/support';
import { cli } from '../support/cli';
import { freshNamespace, kubeconfigPath, kubectl } from '../support/control-plane';
import { HELM } from '../support/helm';

const ROOT = resolve(__dirname, '../..');

function uniqueNamespace(prefix: string): string {
  return `${prefix}-${Math.random().toString(16).slice(2, 10)}`;
}

async function applyClean(manifest: string, extra: string[] = []): Promise<void> {
  const res = await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=mcp-operator-install', '--validate=strict', ...extra, '-f', '-'], { input: manifest });
  expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
}

describe('installing the controller', () => {
  test('mcp-operator install applies server-side with no warnings, and its pods are admitted as restricted', async () => {
    const ns = uniqueNamespace('mcp-system');
    const bundle = await cli(['install', '--namespace', ns]);
    expect(bundle.code).toBe(0);
    await applyClean(bundle.stdout);
    const labels = JSON.parse((await kubectl(['get', 'namespace', ns, '-o', 'json'])).stdout).metadata.labels;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const deployment = (yaml.loadAll(bundle.stdout) as any[]).find((o) => o.kind === 'Deployment');
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'controller-probe', namespace: ns }, spec: podSpecOf(deployment) };
    const res = await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  });

  test('the Helm chart installs the same way (server-side, no warnings)', async () => {
    const ns = uniqueNamespace('mcp-helm');
    const rendered = execFileSync(HELM, ['template', 'mcp-operator', join(ROOT, 'charts/mcp-operator'), '--set', `namespace=${ns}`], { encoding: 'utf8' });
    await applyClean(rendered);
    const deployment = JSON.parse((await kubectl(['get', 'deployment', 'mcp-operator', '-n', ns, '-o', 'json'])).stdout);
    expect(deployment.spec.replicas).toBe(2);
  });

  test('with --watch-namespace the bundle holds only namespaced permissions for that namespace', async () => {
    const ns = uniqueNamespace('mcp-scoped');
    const watched = await freshNamespace('mcp-watched');
    const bundle = await cli(['install', '--namespace', ns, '--watch-namespace', watched, '--no-crd']);
    await applyClean(bundle.stdout);
    const roles = JSON.parse((await kubectl(['get', 'roles', '-n', watched, '-o', 'json'])).stdout).items.map((r: any) => r.metadata.name);
    expect(roles).toContain('mcp-operator-controller');
  });
});

describe('the image file tree', () => {
  test('runs the controller, which reconciles a seed example and exits 0 on SIGTERM', async () => {
    await installCrd();
    const root = mkdtempSync(join(tmpdir(), 'mcp-image-'));
    const tree = execFileSync('bash', [join(ROOT, 'hack/image-tree.sh'), root], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const ns = await freshNamespace('image-tree');
    const controller = spawn(process.execPath, [join(tree, 'bin/mcp-operator.js'), 'controller', `--kubeconfig=${kubeconfigPath()}`, `--namespace=${ns}`, '--metrics-bind-address=0', '--health-probe-bind-address=0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    controller.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    controller.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    try {
      const res = await kubectl(['apply', '-n', ns, '-f', join(ROOT, 'examples/servers/git-server.yaml')]);
      expect(res.code).toBe(0);
      await waitFor('the Deployment', async () => (await kubectl(['get', 'deployment', 'git-server', '-n', ns])).code === 0, 60_000);
      await waitFor('status', async () => JSON.parse((await kubectl(['get', 'mcpserver', 'git-server', '-n', ns, '-o', 'json'])).stdout).status?.phase === 'Pending', 30_000);
    } finally {
      controller.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => controller.on('exit', (c) => r(c)));
    expect({ code, logs: code === 0 ? '' : logs }).toEqual({ code: 0, logs: '' });
    expect(readFileSync(join(tree, 'package.json'), 'utf8')).toContain('"name": "mcp-operator"');
  });
});

/**
 * Proves against a real kube-apiserver (PodSecurity admission on) what synthesis produces: the CRD,
 * the seed examples, the golden outputs and the bad-input corpus.
 */
import { readdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { desired, readInputs, toYaml, validateDocuments } from '../../lib';
import { podSpecOf } from '../../lib/policy/restricted';
import { installCrd } from '../controller/support';
import { BAD_INPUTS } from '../fixtures/bad-inputs';
import { freshNamespace, kubectl } from '../support/control-plane';

const ROOT = resolve(__dirname, '../..');
const SEED_SERVERS = ['servers/filesystem-server.yaml', 'servers/git-server.yaml', 'servers/postgres-server.yaml', 'servers/placement-server.yaml', 'quickstart/quickstart-filesystem-server.yaml'];
const GOLDEN = join(ROOT, 'test/golden');

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input === undefined ? undefined : { input });
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}


function seedText(file: string): string {
  return readFileSync(join(ROOT, 'examples', file), 'utf8');
}

beforeAll(installCrd);

describe('the MCPServer CRD on a real API server', () => {
  test('is accepted and established, with the seed printer columns', async () => {
    const crd = JSON.parse(await ok(['get', 'crd', 'mcpservers.mcp.io', '-o', 'json']));
    const established = crd.status.conditions.find((c: any) => c.type === 'Established');
    expect(established.status).toBe('True');
    const ns = await freshNamespace('crd-columns');
    await ok(['apply', '-n', ns, '-f', '-'], seedText('quickstart/quickstart-filesystem-server.yaml'));
    const table = await ok(['get', 'mcpservers', '-n', ns]);
    const [headerLine, row] = table.trim().split('\n');
    expect(headerLine!.split(/\s+/)).toEqual(['NAME', 'IMAGE', 'TAG', 'REPLICAS', 'READY', 'PHASE', 'AGE']);
    expect(row!.split(/\s+/).slice(0, 4)).toEqual(['filesystem-server', 'mcp-server-filesystem', 'latest', '1']);
    expect((await ok(['get', 'mcps', '-n', ns, '-o', 'name'])).trim()).toBe('mcpserver.mcp.io/filesystem-server');
  });

  test('kubectl scale works through the scale subresource', async () => {
    const ns = await freshNamespace('crd-scale');
    await ok(['apply', '-n', ns, '-f', '-'], seedText('servers/git-server.yaml'));
    await ok(['scale', 'mcpserver/git-server', '-n', ns, '--replicas=3']);
    expect(await ok(['get', 'mcpserver/git-server', '-n', ns, '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
    const scale = JSON.parse(await ok(['get', '--raw', `/apis/mcp.io/v1/namespaces/${ns}/mcpservers/git-server/scale`]));
    expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 3 } });
  });

  test('accepts every valid example and applies the defaults the seed documents', async () => {
    const ns = await freshNamespace('crd-defaults');
    for (const file of SEED_SERVERS) {
      // The quickstart and the filesystem example share a name, as in the seed: give each its namespace.
      const target = file.startsWith('quickstart') ? await freshNamespace('crd-defaults-qs') : ns;
      const res = await kubectl(['apply', '--server-side', '--field-manager=tests', '-n', target, '-f', '-'], { input: seedText(file) });
      expect({ file, code: res.code, stderr: res.stderr }).toEqual({ file, code: 0, stderr: '' });
    }
    const postgres = JSON.parse(await ok(['get', 'mcpserver/postgres-server', '-n', ns, '-o', 'json']));
    // The seed's postgres example sets only image, tag and env: the rest comes from the CRD defaults.
    expect(postgres.spec).toMatchObject({ replicas: 1, port: 8080, serviceType: 'ClusterIP', tag: 'latest' });
    const fs = JSON.parse(await ok(['get', 'mcpserver/filesystem-server', '-n', ns, '-o', 'json']));
    expect(fs.spec).toMatchObject({ image: 'python', tag: '3.11-slim', replicas: 1, port: 8080, serviceType: 'ClusterIP' });
    // Server defaults and client defaults agree: the CLI's parse of the stored object changes nothing.
    const [local] = validateDocuments(readInputs([join(ROOT, 'examples/servers/postgres-server.yaml')], () => ''));
    expect(postgres.spec).toEqual(local!.resource.spec);
  });
});

describe('synthesized manifests on a real API server with PodSecurity restricted', () => {
  const goldenFiles = readdirSync(GOLDEN, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.yaml'))
    .map((e) => join(e.parentPath, e.name).slice(GOLDEN.length + 1))
    .sort();

  test('there is a golden output for every seed server', () => {
    expect(goldenFiles).toHaveLength(SEED_SERVERS.length);
  });

  test.each(goldenFiles)('%s applies (dry-run and real) with no warnings, and its pods are admitted', async (file) => {
    const ns = await freshNamespace('golden');
    const manifest = readFileSync(join(GOLDEN, file), 'utf8');
    for (const dryRun of ['--dry-run=server', '--dry-run=none']) {
      const res = await kubectl(['apply', '--server-side', '--field-manager=mcp-operator', '--validate=strict', dryRun, '-n', ns, '-f', '-'], { input: manifest });
      expect({ dryRun, code: res.code, stderr: res.stderr }).toEqual({ dryRun, code: 0, stderr: '' });
    }
    for (const object of yaml.loadAll(manifest) as any[]) {
      const podSpec = podSpecOf(object);
      if (!podSpec) continue;
      // Deployments only warn about PodSecurity; a Pod of the same template is really admitted or refused.
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${object.metadata.name}-probe`, labels: object.spec.template.metadata.labels }, spec: podSpec };
      const res = await kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], { input: JSON.stringify(pod) });
      expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    }
  });

  test('a privileged pod is refused in the same namespace (the policy really is enforced)', async () => {
    const ns = await freshNamespace('golden-negative');
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad' }, spec: { containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] } };
    const res = await kubectl(['create', '-n', ns, '-f', '-'], { input: JSON.stringify(pod) });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  test('a stdio server (bridge init container) is admitted too', async () => {
    const ns = await freshNamespace('stdio');
    const objects = desired({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'everything', namespace: ns }, spec: { image: 'node', tag: '24-bookworm-slim', transport: { type: 'stdio' }, command: ['npx', '-y', '@modelcontextprotocol/server-everything'] } });
    const res = await kubectl(['apply', '--server-side', '--field-manager=mcp-operator', '--validate=strict', '-f', '-'], { input: toYaml(objects) });
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    const podSpec = podSpecOf(objects.find((o) => o.kind === 'Deployment') as any)!;
    const pod = await kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: podSpec }) });
    expect({ code: pod.code, stderr: pod.stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe('client and server validation agree on the bad-input corpus', () => {
  const checked = BAD_INPUTS.filter((b) => b.server === 'same');
  const unchecked = BAD_INPUTS.filter((b) => b.server !== 'same');

  test.each(checked.map((b) => [b.name, b] as const))('the API server rejects "%s" at the same field path', async (_name, bad) => {
    const ns = await freshNamespace('bad-input');
    const res = await kubectl(['apply', '--server-side', '--field-manager=tests', '--validate=strict', '--dry-run=server', '-n', ns, '-f', '-'], { input: bad.yaml });
    expect(res.code).not.toBe(0);
    const path = bad.serverPath ?? bad.path!;
    expect(res.stderr).toContain(path);
  });

  // The gaps are asserted, not just listed: if the server starts checking one, this test says so.
  test.each(unchecked.map((b) => [b.name, (b.server as { unchecked: string }).unchecked, b] as const))('"%s" is not checked by the API server (%s)', async (_name, _why, bad) => {
    const ns = await freshNamespace('bad-input-gap');
    const res = await kubectl(['apply', '--server-side', '--field-manager=tests', '--validate=strict', '--dry-run=server', '-n', ns, '-f', '-'], { input: bad.yaml });
    const outcome = (bad.server as { outcome: 'accepted' | RegExp }).outcome;
    if (outcome === 'accepted') {expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });} else {
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(outcome);
    }
  });
});

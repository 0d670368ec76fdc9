import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { mcpServerCrd, toYaml } from '../lib';

const ROOT = resolve(__dirname, '..');
const CDK8S = join(ROOT, 'node_modules/.bin/cdk8s');

describe('imports/ and the cdk8s app', () => {
  test('imports/mcp.io.ts is what `cdk8s import` makes of the current CRD (run `npx projen import-crd` when this fails)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-import-'));
    writeFileSync(join(dir, 'crd.yaml'), toYaml([mcpServerCrd()]));
    // From the temp dir: `cdk8s import` records what it imported in the cdk8s.yaml of its working directory.
    const result = spawnSync(CDK8S, ['import', '--no-check-upgrade', '--language', 'typescript', '--output', join(dir, 'imports'), join(dir, 'crd.yaml')], { encoding: 'utf8', cwd: dir });
    expect(result.status).toBe(0);
    expect(readFileSync(join(ROOT, 'imports/mcp.io.ts'), 'utf8')).toBe(readFileSync(join(dir, 'imports/mcp.io.ts'), 'utf8'));
    expect(readFileSync(join(ROOT, 'cdk8s.yaml'), 'utf8')).not.toMatch(/imports:/);
  });

  test('`cdk8s synth` runs the TypeScript example app offline', () => {
    const result = spawnSync(CDK8S, ['synth', '--no-check-upgrade'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status).toBe(0);
    const seed = yaml.loadAll(readFileSync(join(ROOT, 'dist/cdk8s/seed-servers.k8s.yaml'), 'utf8')) as any[];
    expect(seed.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name).sort()).toEqual(['filesystem-server', 'git-server', 'placement-server', 'postgres-server']);
    const everything = yaml.loadAll(readFileSync(join(ROOT, 'dist/cdk8s/everything.k8s.yaml'), 'utf8')) as any[];
    const deployment = everything.find((o) => o.kind === 'Deployment');
    expect(deployment.metadata.annotations).toEqual({ 'example.com/owner': 'platform-team' });
    expect(deployment.spec.template.spec.containers[0].command).toEqual(['/mcp-bridge/mcp-bridge']);
    const cr = yaml.load(readFileSync(join(ROOT, 'dist/cdk8s/everything-resource.k8s.yaml'), 'utf8')) as any;
    expect(cr).toMatchObject({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'everything-cr', namespace: 'mcp' } });
  });
});

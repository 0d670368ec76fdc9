import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'fs';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { desired, readInputs, toYaml, validateDocuments } from '../lib';
import { podSpecOf, restrictedViolations } from '../lib/policy/restricted';

const ROOT = resolve(__dirname, '..');
const GOLDEN = join(__dirname, 'golden');
const SEED = resolve(ROOT, '../shared/seed/examples');
// Golden files are rewritten only on purpose: `UPDATE_GOLDEN=1 npx projen test test/golden`.
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const EXAMPLES = [
  ['servers', 'filesystem-server'],
  ['servers', 'git-server'],
  ['servers', 'postgres-server'],
  ['servers', 'placement-server'],
  ['quickstart', 'filesystem-server'],
] as const;

function synthFile(file: string): string {
  const [server] = validateDocuments(readInputs([file], () => ''));
  return toYaml(desired(server!.resource));
}

describe('golden output of every seed example', () => {
  test.each(EXAMPLES)('%s/%s', (group, name) => {
    const file = join(ROOT, 'examples', group, group === 'quickstart' ? 'quickstart-filesystem-server.yaml' : `${name}.yaml`);
    const actual = synthFile(file);
    const goldenFile = join(GOLDEN, group, `${name}.yaml`);
    if (UPDATE) {
      mkdirSync(join(GOLDEN, group), { recursive: true });
      writeFileSync(goldenFile, actual);
    }
    expect(actual).toBe(readFileSync(goldenFile, 'utf8'));
    for (const object of yaml.loadAll(actual) as any[]) {
      const pod = podSpecOf(object);
      if (pod) expect(restrictedViolations(pod)).toEqual([]);
    }
  });
});

describe('the seed examples are carried verbatim', () => {
  const seedAvailable = existsSync(SEED);
  const copies: Record<string, string> = {
    'filesystem-server.yaml': 'examples/servers/filesystem-server.yaml',
    'git-server.yaml': 'examples/servers/git-server.yaml',
    'postgres-server.yaml': 'examples/servers/postgres-server.yaml',
    'quickstart-filesystem-server.yaml': 'examples/quickstart/quickstart-filesystem-server.yaml',
    'placement-snippet.yaml': 'examples/seed-fragments/placement-snippet.yaml',
  };

  (seedAvailable ? test : test.skip)('every file of the seed has a byte-identical copy', () => {
    expect(readdirSync(SEED).sort()).toEqual(Object.keys(copies).sort());
    for (const [seed, copy] of Object.entries(copies)) {
      expect(readFileSync(join(ROOT, copy), 'utf8')).toBe(readFileSync(join(SEED, seed), 'utf8'));
    }
  });

  test('the placement server holds the placement fragment unchanged', () => {
    const fragment = (yaml.load(readFileSync(join(ROOT, 'examples/seed-fragments/placement-snippet.yaml'), 'utf8')) as any).spec;
    const server = (yaml.load(readFileSync(join(ROOT, 'examples/servers/placement-server.yaml'), 'utf8')) as any).spec;
    expect(server).toEqual({ image: 'mcp-server-filesystem', tag: 'latest', ...fragment });
    const pod = (yaml.loadAll(synthFile(join(ROOT, 'examples/servers/placement-server.yaml'))) as any[]).find((o) => o.kind === 'Deployment').spec.template.spec;
    expect(pod.nodeSelector).toEqual(fragment.nodeSelector);
    expect(pod.tolerations).toEqual(fragment.tolerations);
    expect(pod.affinity).toEqual(fragment.affinity);
    // The anti-affinity in the fragment selects on a label the pods really carry.
    expect((yaml.loadAll(synthFile(join(ROOT, 'examples/servers/placement-server.yaml'))) as any[])
      .find((o) => o.kind === 'Deployment').spec.template.metadata.labels['app.kubernetes.io/name']).toBe('mcpserver');
  });

  test('the postgres example takes DATABASE_URL from the Secret', () => {
    const deployment = (yaml.loadAll(synthFile(join(ROOT, 'examples/servers/postgres-server.yaml'))) as any[]).find((o) => o.kind === 'Deployment');
    expect(deployment.spec.template.spec.containers[0].env[0]).toEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { key: 'database-url', name: 'postgres-secret' } } });
  });
});

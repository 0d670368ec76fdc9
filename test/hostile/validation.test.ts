/**
 * "Anything synth accepts, the API server accepts with the same meaning": a generated corpus of
 * boundary values (test/hostile/support/yaml-corpus.ts) goes through our validation; everything we
 * accept is synthesized and applied with a server-side dry run in one kubectl call, and everything we
 * refuse is placed, with the same value, into otherwise valid objects that the server must refuse too
 * (except the cases that say why we are stricter on purpose).
 */
import * as yaml from 'js-yaml';
import { desired, parseDocuments, toYaml, validateDocuments } from '../../lib';
import { InvalidInputError } from '../../lib/spec/validate';
import { cli } from '../support/cli';
import { freshNamespace, kubectl } from '../support/control-plane';
import { corpus, KubeObjects } from './support/yaml-corpus';

const BASE = { image: 'ghcr.io/example/server', tag: '1.0.0' };

function document(name: string, spec: Record<string, unknown>): string {
  return yaml.dump({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name }, spec: { ...BASE, ...spec } }, { noRefs: true, lineWidth: -1 });
}

function ours(name: string, spec: Record<string, unknown>): { accepted: boolean; problems: string[] } {
  try {
    validateDocuments(parseDocuments(document(name, spec), `${name}.yaml`));
    return { accepted: true, problems: [] };
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    return { accepted: false, problems: err.problems.map((p) => `${p.path}: ${p.message}`) };
  }
}

const applyArgs = (ns: string) => ['apply', '--server-side', '--field-manager=corpus', '--validate=strict', '--dry-run=server', '-n', ns, '-f', '-'];

describe('the generated corpus agrees with the real API server', () => {
  const cases = corpus();
  const judged = cases.map((c, i) => ({ c, name: `c${i}`, ...ours(`c${i}`, c.spec) }));

  test('the corpus holds both accepted and refused cases for every field', () => {
    const fields = new Set(cases.map((c) => c.name.split(' = ')[0]));
    for (const field of fields) {
      const mine = judged.filter((j) => j.c.name.startsWith(`${field} = `));
      expect({ field, accepted: mine.some((j) => j.accepted) }).toEqual({ field, accepted: true });
    }
    expect(judged.filter((j) => !j.accepted).length).toBeGreaterThan(40);
  });

  test('every spec synth accepts is accepted by the server (server-side dry run, strict, no warnings)', async () => {
    const ns = await freshNamespace('corpus-ok');
    const accepted = judged.filter((j) => j.accepted);
    const objects = accepted.flatMap((j) => desired({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: j.name }, spec: { ...BASE, ...j.c.spec } as any }, { namespace: ns }));
    const started = Date.now();
    const res = await kubectl(applyArgs(ns), { input: toYaml(objects), timeoutMs: 60_000 });
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    expect(res.stdout.split('\n').filter((l) => l.includes('serverside-applied')).length).toBe(objects.length);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  test('every spec synth refuses for a Kubernetes reason is refused by the server too', async () => {
    const ns = await freshNamespace('corpus-bad');
    const refused = judged.filter((j) => !j.accepted);
    const placed: Array<{ j: (typeof judged)[number]; object: Record<string, any> }> = [];
    for (const j of refused) {
      // A valid server of the same name, then the refused value put where the construct puts it.
      const objects: KubeObjects = desired({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: j.name }, spec: { ...BASE, config: { 'a.json': '{}' } } as any }, { namespace: ns });
      const before = objects.map((o) => JSON.stringify(o));
      j.c.place(objects);
      const changed = objects.filter((o, i) => JSON.stringify(o) !== before[i]);
      expect({ name: j.c.name, changed: changed.length }).toEqual({ name: j.c.name, changed: 1 });
      placed.push({ j, object: changed[0]! });
    }
    const res = await kubectl(applyArgs(ns), { input: placed.map((p) => JSON.stringify(p.object)).join('\n---\n'), timeoutMs: 60_000 });
    const appliedNames = new Set(res.stdout.split('\n').filter((l) => l.includes('serverside-applied')).map((l) => l.split(' ')[0]!.split('/')[1]));
    const disagreements = placed
      .filter((p) => appliedNames.has(p.object.metadata.name) && !p.j.c.stricterBecause)
      .map((p) => `${p.j.c.name}: we say ${p.j.problems.join('; ')}, the server accepted ${p.object.kind} ${p.object.metadata.name}`);
    expect(disagreements).toEqual([]);
    // The exceptions are real: the server does accept them, so the reason we give is what differs.
    const exceptions = placed.filter((p) => p.j.c.stricterBecause);
    for (const p of exceptions) {
      expect({ name: p.j.c.name, applied: appliedNames.has(p.object.metadata.name) }).toEqual({ name: p.j.c.name, applied: true });
    }
  }, 60_000);

  test('the CLI names the file, document and field path of each refused case and writes nothing', async () => {
    const refused = judged.filter((j) => !j.accepted).slice(0, 10);
    const text = refused.map((j) => document(j.name, j.c.spec)).join('---\n');
    const result = await cli(['synth', '-f', '-'], text);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    for (const [i, j] of refused.entries()) expect(result.stderr).toContain(`<stdin>: document ${i + 1} (${j.name}): spec.`);
    expect(result.stderr).toMatch(/nothing was written/);
  });
});

describe('field names Object.prototype has are fields like any other', () => {
  test.each(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'])('%s is an unknown field, not silently dropped', async (field) => {
    for (const where of ['spec', 'spec.security', 'metadata', '']) {
      const doc: any = { apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'x' }, spec: { image: 'x', security: { runAsUser: 1000 } } };
      const target = where === '' ? doc : where.split('.').reduce((o: any, k) => o[k], doc);
      Object.defineProperty(target, field, { value: { a: 1 }, enumerable: true });
      const result = await cli(['validate', '-f', '-'], JSON.stringify(doc));
      expect({ where, code: result.code }).toEqual({ where, code: 1 });
      expect(result.stderr).toContain(`${where ? `${where}.` : ''}${field}: unknown field`);
    }
  });

  test('config keys that every JS object inherits are refused with the reason (cdk8s-plus cannot carry them)', async () => {
    const result = await cli(['synth', '-f', '-'], 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: x}\nspec:\n  image: x\n  config:\n    __proto__: a\n    constructor: b\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('spec.config["__proto__"]: key must be');
    expect(result.stderr).toContain('spec.config["constructor"]: key must be');
    expect(result.stderr).toMatch(/inherits/);
  });

  test('metadata labels and annotations are checked as the API server checks them', async () => {
    const result = await cli(['validate', '-f', '-'], 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata:\n  name: x\n  labels: {"bad key!": v, team: "a b"}\nspec: {image: x}\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('metadata.labels["bad key!"]: key must be a label key');
    expect(result.stderr).toContain('metadata.labels["team"]: must be a label value');
  });
});

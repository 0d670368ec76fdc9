/**
 * User YAML is read the way kubectl reads it, or refused. The scalar table is checked against the
 * real kubectl (`create --dry-run=client -o json` shows what it decoded), so the claim "kubectl reads
 * 010 as 8" is tested, not assumed. Then the alias bomb, size and depth bounds, and the document-level
 * differences (merge order, duplicate keys, collection keys, directives, separators).
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadKubeYaml, YAML_LIMITS } from '../../lib/spec/yaml';
import { cli } from '../support/cli';
import { kubectl } from '../support/control-plane';

const PROBE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'yamlprobes.probe.mcp.io' },
  spec: {
    group: 'probe.mcp.io',
    scope: 'Namespaced',
    names: { kind: 'YamlProbe', plural: 'yamlprobes', singular: 'yamlprobe', listKind: 'YamlProbeList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { 'type': 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

const SCALARS = [
  '010', '0o10', '0x1F', '0b101', '08', '+010', '-010', '0777', '00', '1_000', '1_', '0x_1F', '_1', '1__0',
  'on', 'On', 'ON', 'off', 'yes', 'Yes', 'no', 'y', 'Y', 'n', 'N', 'true', 'True', 'FALSE', 'oN', 'yES',
  '.inf', '-.inf', '.nan', '~', 'null', 'Null', '', '1:20', '1e3', '1.0', '.5', '1.5e+3', '1.5_0', '1e400', '0.1', '-0',
  '2001-12-14', '2001-12-14T21:59:43.10-05:00', '9007199254740993', '123456789012345678', '<<', '=',
  '!!int "010"', '!!str 010', '!!float 1', '!!bool yes', '!!int 1.5', '!!null ""', "'010'", '"on"',
] as const;

/** What kubectl decodes for `spec.v: <scalar>`: the JSON value, or its error. */
async function kubectlReadings(): Promise<Map<string, { value?: unknown; error?: string }>> {
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(PROBE_CRD) });
  await kubectl(['wait', '--for=condition=Established', 'crd/yamlprobes.probe.mcp.io', '--timeout=30s']);
  const doc = (scalars: readonly string[]) =>
    `apiVersion: probe.mcp.io/v1\nkind: YamlProbe\nmetadata:\n  name: p\nspec:\n${scalars.map((v, i) => `  v${i}: ${v}\n`).join('')}`;
  const out = new Map<string, { value?: unknown; error?: string }>();
  // One call for all; the few kubectl refuses make the whole document fail, so those go one by one.
  const all = await kubectl(['create', '--validate=false', '--dry-run=client', '-o', 'json', '-f', '-'], { input: doc(SCALARS) });
  const pending: string[] = [];
  if (all.code === 0) {
    const spec = JSON.parse(all.stdout).spec;
    SCALARS.forEach((v, i) => out.set(v, { value: spec[`v${i}`] === undefined ? null : spec[`v${i}`] }));
    return out;
  }
  pending.push(...SCALARS);
  const good: string[] = [];
  for (let i = 0; i < pending.length; i += 8) {
    const batch = pending.slice(i, i + 8);
    const results = await Promise.all(batch.map((v) => kubectl(['create', '--validate=false', '--dry-run=client', '-o', 'json', '-f', '-'], { input: doc([v]) })));
    results.forEach((res, j) => {
      if (res.code === 0) good.push(batch[j]!);
      else out.set(batch[j]!, { error: res.stderr.trim() });
    });
  }
  const rest = await kubectl(['create', '--validate=false', '--dry-run=client', '-o', 'json', '-f', '-'], { input: doc(good) });
  const spec = JSON.parse(rest.stdout).spec;
  good.forEach((v, i) => out.set(v, { value: spec[`v${i}`] === undefined ? null : spec[`v${i}`] }));
  return out;
}

describe('scalars where YAML 1.1 and 1.2 disagree', () => {
  let readings: Map<string, { value?: unknown; error?: string }>;
  beforeAll(async () => {
    readings = await kubectlReadings();
  }, 60_000);

  test.each(SCALARS.map((s) => [s]))('%s: we give kubectl\'s value or refuse naming both readings', (scalar) => {
    const kube = readings.get(scalar)!;
    const ours = loadKubeYaml(`spec:\n  v: ${scalar}\n`, 'in.yaml');
    if (ours.problems.length === 0) {
      // Accepted: exactly what kubectl sends (an exact JS number where kubectl sends an integer).
      expect({ scalar, value: (ours.documents[0]!.value as any).spec.v }).toEqual({ scalar, value: kube.value });
      return;
    }
    const [problem] = ours.problems;
    expect(problem!.path).toBe('spec.v');
    expect(problem!.origin.file).toBe('in.yaml');
    if (kube.error !== undefined) {
      expect(problem!.message).toMatch(/kubectl cannot read|refuses/);
    } else if (typeof kube.value === 'number' && !Number.isSafeInteger(kube.value) && Number.isInteger(kube.value)) {
      // kubectl sends the exact integer; a JS number (this test's JSON.parse too) cannot hold it.
      expect(problem!.message).toMatch(/kubectl reads .* as an integer, but .* beyond 2\^53/);
    } else {
      expect(problem!.message).toContain(`as ${JSON.stringify(kube.value)}`);
    }
  });

  test('kubectl really reads the issue\'s examples the YAML 1.1 way, and we say so', async () => {
    expect(readings.get('010')!.value).toBe(8);
    expect(readings.get('on')!.value).toBe(true);
    expect(readings.get('yes')!.value).toBe(true);
    const result = await cli(['validate', '-f', '-'], 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: x}\nspec:\n  image: x\n  replicas: 010\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('<stdin>: spec.replicas: kubectl reads 010 as 8, YAML 1.2 as 10; write 8 or "010"');
  });
});

/** The classic "billion laughs": each level lists the previous one nine times. */
function aliasBomb(levels: number, width = 9): string {
  const lines = ['apiVersion: mcp.io/v1', 'kind: MCPServer', 'metadata: {name: bomb}', 'spec:', '  image: x', '  args: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= levels; i++) lines.push(`  x${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

describe('aliases, size and depth are bounded', () => {
  test.each([['validate'], ['synth']])('a 12 KB alias bomb fails fast with bounded memory under %s', async (command) => {
    let bomb = aliasBomb(9);
    while (bomb.length < 12 * 1024) bomb += `# ${'padding'.repeat(20)}\n`;
    const out = mkdtempSync(join(tmpdir(), 'mcp-bomb-'));
    const file = join(out, 'bomb.yaml');
    writeFileSync(file, bomb);
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const result = await cli(command === 'synth' ? ['synth', '-f', file, '-o', join(out, 'out')] : ['validate', '-f', file]);
    const elapsed = Date.now() - started;
    const grew = process.memoryUsage().rss - rssBefore;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: excessive aliasing`);
    expect(result.stderr).toMatch(/nothing was written/);
    expect(readdirSync(out)).toEqual(['bomb.yaml']);
    expect(elapsed).toBeLessThan(2_000);
    expect(grew).toBeLessThan(100 * 1024 * 1024);
  }, 30_000);

  test('kubectl refuses the same bomb ("excessive aliasing"), and a modest use of aliases passes both', async () => {
    const res = await kubectl(['create', '--validate=false', '--dry-run=client', '-o', 'json', '-f', '-'], { input: aliasBomb(9).replace('mcp.io/v1', 'probe.mcp.io/v1').replace('MCPServer', 'YamlProbe') });
    expect(res.stderr).toMatch(/excessive aliasing/);
    const modest = 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: a}\nspec:\n  image: x\n  command: &c [node, server.js]\n  args: *c\n';
    expect((await cli(['validate', '-f', '-'], modest)).code).toBe(0);
  }, 30_000);

  test('an anchor that contains itself is refused', () => {
    const r = loadKubeYaml('spec:\n  args: &a [x, *a]\n', 'self.yaml');
    expect(r.problems.map((p) => p.message)).toEqual([expect.stringMatching(/anchor refers to itself/)]);
  });

  test('nesting deeper than the limit is refused, not a stack overflow', () => {
    const r = loadKubeYaml(`spec: ${'['.repeat(100_000)}`, 'deep.yaml');
    expect(r.problems[0]!.message).toMatch(new RegExp(`maxDepth \\(${YAML_LIMITS.maxDepth}\\)`));
  });

  test('a file larger than the bound, or an endless device, is refused without reading it all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-big-'));
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(YAML_LIMITS.maxBytes)}\n`);
    const tooBig = await cli(['validate', '-f', big]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toContain(`${big}: cannot read: larger than ${YAML_LIMITS.maxBytes} bytes`);
    const started = Date.now();
    const endless = await cli(['validate', '-f', '/dev/zero']);
    expect(endless.code).toBe(1);
    expect(endless.stderr).toContain('/dev/zero: cannot read: larger than');
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  test('bytes that are not UTF-8 are refused instead of becoming U+FFFD', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-utf8-'));
    const file = join(dir, 'latin1.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from('apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: x}\nspec:\n  image: x\n  args: ["caf'), Buffer.from([0xe9]), Buffer.from('"]\n')]));
    const result = await cli(['validate', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: cannot read: is not valid UTF-8`);
  });
});

describe('document-level differences between kubectl and YAML 1.2', () => {
  const cases: Array<[string, string, RegExp, string | undefined]> = [
    ['a << merge after a key it overrides (kubectl takes the merged value)', 'a: 1\n<<: {a: 2, b: 3}\n', /written before a << merge .* put the << first/, 'a'],
    ['a duplicated key (kubectl keeps the last silently)', 'a: 1\na: 2\n', /duplicated mapping key/, undefined],
    ['"1" and 1 as keys (the same key to kubectl)', '"1": a\n1: b\n', /duplicated mapping key/, '["1"]'],
    ['a list as a key (kubectl: invalid map key)', '[a]: 1\n', /list or map cannot be a mapping key/, undefined],
    ['a null key (kubectl: unsupported map key)', '~: 1\n', /null, which kubectl refuses/, '["~"]'],
    ['a key kubectl reads as a boolean', 'on: 1\n', /kubectl reads the key on as "true"/, 'on'],
    ['an octal key', '010: x\n', /kubectl reads the key 010 as "8", YAML 1.2 as "10"/, '["010"]'],
    ['a %YAML directive (kubectl: incompatible document)', '%YAML 1.2\n---\na: 1\n', /%YAML or %TAG directives/, undefined],
    ['content after a --- separator', 'a: 1\n--- b: 2\n', /only a comment after a --- document separator/, undefined],
    ['a tag kubectl decodes to something else', 'a: !!binary aGk=\n', /unknown tag/, undefined],
  ];
  test.each(cases)('%s is refused', (_name, text, message, path) => {
    const r = loadKubeYaml(text, 'doc.yaml');
    expect(r.documents).toEqual([]);
    expect(r.problems.some((p) => message.test(p.message) && p.origin.file === 'doc.yaml' && (path === undefined || p.path === path))).toBe(true);
  });

  test('merges kubectl and YAML 1.2 agree on are applied', () => {
    const r = loadKubeYaml('base: &b {a: 1, b: 2}\nx:\n  <<: [*b, {a: 9, c: 3}]\n  b: 5\n', 'doc.yaml');
    expect(r.problems).toEqual([]);
    expect((r.documents[0]!.value as any).x).toEqual({ a: 1, b: 5, c: 3 });
  });

  test('documents are split and counted as kubectl counts them; errors name the document and line', async () => {
    const text = '---\napiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: a}\nspec: {image: x}\n---\n# only a comment\n---\napiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: b}\nspec:\n  image: x\n  replicas: yes\n';
    const result = await cli(['validate', '-f', '-'], text);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('<stdin>: document 3: spec.replicas: kubectl reads yes as true');
  });
});

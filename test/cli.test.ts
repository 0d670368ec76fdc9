import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { BAD_INPUTS } from './fixtures/bad-inputs';
import { cli } from './support/cli';
import { LAZY_COMMANDS } from '../lib/cli/main';

const ROOT = resolve(__dirname, '..');
const GIT = join(ROOT, 'examples/servers/git-server.yaml');

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mcp-cli-'));
}

describe('synth rejects every bad input, names the field and writes nothing', () => {
  test.each(BAD_INPUTS.map((c) => [c.name, c] as const))('%s', async (_name, bad) => {
    const dir = tempDir();
    const file = join(dir, 'server.yaml');
    writeFileSync(file, bad.yaml);
    const out = join(dir, 'out');
    const result = await cli(['synth', '-f', file, '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(file);
    if (bad.path) expect(result.stderr).toContain(` ${bad.path}: `);
    expect(result.stderr).toMatch(bad.message);
    expect(result.stderr).toMatch(/nothing was written/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('synth', () => {
  test('one invalid document among valid ones: nothing is written at all', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), readFileSync(GIT));
    writeFileSync(join(dir, 'b.yaml'), 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: ok}\nspec: {image: x}\n---\napiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: broken}\nspec: {image: x, replicas: -1}\n');
    const out = join(dir, 'out');
    const result = await cli(['synth', '-f', dir, '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('b.yaml: document 2 (broken): spec.replicas: must be >= 0 (got -1)');
    expect(existsSync(out)).toBe(false);
  });

  test('reports every problem, not just the first', async () => {
    const dir = tempDir();
    const file = join(dir, 's.yaml');
    writeFileSync(file, 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: s}\nspec: {image: x, replicas: -1, port: 0, serviceType: Foo}\n');
    const result = await cli(['validate', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('spec.replicas: must be >= 0');
    expect(result.stderr).toContain('spec.port: must be >= 1');
    expect(result.stderr).toContain('spec.serviceType: must be one of');
    expect(result.stderr).toContain('3 problems found');
  });

  test('malformed YAML is reported with line and column', async () => {
    const dir = tempDir();
    const file = join(dir, 's.yaml');
    writeFileSync(file, 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata:\n  name: s\nspec:\n  image: [x\n');
    const result = await cli(['synth', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:7:1: malformed YAML`));
  });

  test('two servers with the same namespace and name are refused', async () => {
    const result = await cli(['synth', '-f', GIT, '-f', GIT]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('metadata.name: duplicates the MCPServer of');
  });

  test('reads stdin with -f -', async () => {
    const result = await cli(['synth', '-f', '-'], readFileSync(GIT, 'utf8'));
    expect(result.code).toBe(0);
    const kinds = yaml.loadAll(result.stdout).map((o: any) => o.kind);
    expect(kinds).toEqual(['ServiceAccount', 'Deployment', 'Service']);
  });

  test('a bad document on stdin is named <stdin>', async () => {
    const result = await cli(['synth', '-f', '-'], 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: s}\nspec: {image: x, replicas: -2}\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('<stdin>: document 1 (s): spec.replicas: must be >= 0 (got -2)');
  });

  test('-o writes one file per server; stdout output equals the files joined', async () => {
    const out = join(tempDir(), 'out');
    const result = await cli(['synth', '-f', join(ROOT, 'examples/servers'), '-o', out]);
    expect(result.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['filesystem-server.yaml', 'git-server.yaml', 'placement-server.yaml', 'postgres-server.yaml']);
    const stdout = await cli(['synth', '-f', join(ROOT, 'examples/servers')]);
    const joined = readdirSync(out).sort().map((f) => readFileSync(join(out, f), 'utf8')).join('---\n');
    expect(stdout.stdout).toBe(joined);
  });

  test('-n puts servers without a namespace into one, and -o files under it', async () => {
    const out = join(tempDir(), 'out');
    const result = await cli(['synth', '-f', GIT, '-n', 'tools', '-o', out]);
    expect(result.code).toBe(0);
    const objects = yaml.loadAll(readFileSync(join(out, 'tools', 'git-server.yaml'), 'utf8')) as any[];
    expect(objects.every((o) => o.metadata.namespace === 'tools')).toBe(true);
  });

  test('--format json prints a v1 List', async () => {
    const result = await cli(['synth', '-f', GIT, '--format', 'json']);
    const list = JSON.parse(result.stdout);
    expect(list.kind).toBe('List');
    expect(list.items.map((o: any) => o.kind)).toEqual(['ServiceAccount', 'Deployment', 'Service']);
  });
});

describe('validate, crd, usage', () => {
  test('validate prints a count and writes nothing to stdout', async () => {
    const result = await cli(['validate', '-f', join(ROOT, 'examples/servers')]);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '4 MCPServers valid\n' });
  });

  test('crd prints the CustomResourceDefinition as YAML or JSON', async () => {
    const y = await cli(['crd']);
    const crd = yaml.load(y.stdout) as any;
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe('mcpservers.mcp.io');
    const j = await cli(['crd', '-o', 'json']);
    expect(JSON.parse(j.stdout)).toEqual(crd);
  });

  test.each([
    [['synth']],
    [['synth', '-f', GIT, '--no-such-flag']],
    [['frobnicate']],
    [['crd', '-o', 'xml']],
    [['synth', '-f', GIT, '--format', 'toml']],
  ])('usage error %j exits 2', async (args) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error/);
  });

  test.each([['synth'], ['validate'], ['crd']])('%s --help', async (command) => {
    const result = await cli([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Usage: mcp-operator ${command}`));
  });

  test('a missing file is an input error (exit 1), not a crash', async () => {
    const result = await cli(['synth', '-f', '/nonexistent/servers.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('/nonexistent/servers.yaml: no such file or directory');
  });
});

describe('the installed command', () => {
  test('npx mcp-operator runs the built CLI from the repo root with real exit codes', () => {
    const ok = spawnSync('npx', ['--no-install', 'mcp-operator', 'synth', '-f', GIT], { cwd: ROOT, encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('kind: Deployment');
    const bad = spawnSync('node', ['bin/mcp-operator.js', 'synth', '-f', '-'], { cwd: ROOT, encoding: 'utf8', input: 'apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata: {name: s}\nspec: {image: x, replicas: -1}\n' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('spec.replicas: must be >= 0 (got -1)');
    const usage = spawnSync('node', ['bin/mcp-operator.js', 'synth'], { cwd: ROOT, encoding: 'utf8' });
    expect(usage.status).toBe(2);
  });
});

describe('lazily loaded commands', () => {
  test('the top-level help lists them with the summaries of the real commands', async () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, readStdin: () => '' };
    const help = (await cli(['--help'])).stdout;
    for (const [name, lazy] of Object.entries(LAZY_COMMANDS)) {
      const real = lazy.load(io);
      expect(real.name()).toBe(name);
      expect(real.summary()).toBe(lazy.summary);
      expect(help).toMatch(new RegExp(`${name}.*${lazy.summary.slice(0, 20)}`));
      const own = await cli([name, '--help']);
      expect(own.code).toBe(0);
      expect(own.stdout).toContain(`Usage: mcp-operator ${name}`);
    }
  });
});

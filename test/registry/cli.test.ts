import { spawn } from 'child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import * as yaml from 'js-yaml';
import { registryCli, registryFixtures, tempDir } from './helpers';
import { cli } from '../support/cli';
import { FakeRegistry, fixturesDir } from '../support/registry-server';

const ROOT = resolve(__dirname, '../..');
const CONTEXT7 = 'io.github.upstash/context7';

// The shared fixtures and the test-owned documents (test/fixtures/registry/server-json).
const registry = FakeRegistry.forTestFile(registryFixtures());

function serverFile(dir: string, name: string, registryName: string, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata:\n  name: ${name}\nspec:\n  registry:\n    name: ${registryName}\n${extra}`);
  return file;
}

function registryFlags(dir: string): string[] {
  return ['--registry-url', registry.url, '--cache-dir', join(dir, 'cache')];
}

describe('synth and validate with spec.registry', () => {
  test('a file naming only the registry server synthesizes; the lockfile lands beside it', async () => {
    const dir = tempDir();
    const file = serverFile(dir, 'context7', CONTEXT7);
    const result = await cli(['synth', '-f', file, ...registryFlags(dir)]);
    expect(result.stderr).toContain('pinned 2.0.0');
    expect(result.code).toBe(0);
    const deployment = yaml.loadAll(result.stdout).find((o: any) => o.kind === 'Deployment') as any;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('node:24-bookworm-slim');
    expect(container.args.slice(container.args.indexOf('--') + 1)).toEqual(['npx', '-y', '--', '@upstash/context7-mcp@2.0.2']);
    expect(existsSync(join(dir, 'mcp-lock.yaml'))).toBe(true);
  });

  test('validate resolves and checks, but writes no lockfile', async () => {
    const dir = tempDir();
    const file = serverFile(dir, 'c7', CONTEXT7);
    const result = await cli(['validate', '-f', file, ...registryFlags(dir)]);
    expect(result.stderr).toContain('1 MCPServer valid');
    expect(result.code).toBe(0);
    expect(existsSync(join(dir, 'mcp-lock.yaml'))).toBe(false);
  });

  test('a server that cannot be deployed: exit 1, the reason against the field, nothing written', async () => {
    const dir = tempDir();
    const file = serverFile(dir, 'tenant', 'io.modelcontextprotocol.anonymous/multi-tenant-server');
    const result = await cli(['synth', '-f', file, '-o', join(dir, 'out'), ...registryFlags(dir)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: document 1 (tenant): spec.registry.name: io.modelcontextprotocol.anonymous/multi-tenant-server@1.0.0 is not deployable: it is a remote server only, hosted at https://anonymous.modelcontextprotocol.io/mcp/{tenant_id}`);
    expect(result.stderr).toContain('nothing was written');
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(existsSync(join(dir, 'mcp-lock.yaml'))).toBe(false);
  });

  test('--offline with --update is a usage error; so is a malformed --registry-url', async () => {
    const dir = tempDir();
    const file = serverFile(dir, 'context7', CONTEXT7);
    const both = await cli(['validate', '-f', file, '--offline', '--update']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--offline and --update cannot be combined');
    const bad = await cli(['validate', '-f', file, '--registry-url', 'ftp://x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--registry-url: registry URL ftp://x must be http or https');
  });

  test('--update prints old → new on stderr; stdout follows the new pin', async () => {
    const dir = tempDir();
    const file = serverFile(dir, 'context7', CONTEXT7);
    const lock = join(dir, 'pins.yaml');
    registry.setLatest(CONTEXT7, '1.0.0');
    expect((await cli(['synth', '-f', file, '--lockfile', lock, ...registryFlags(dir)])).stdout).toContain('@upstash/context7-mcp@1.0.21');
    registry.setLatest(CONTEXT7, undefined);
    expect((await cli(['synth', '-f', file, '--lockfile', lock, ...registryFlags(dir)])).stdout).toContain('@upstash/context7-mcp@1.0.21');
    const updated = await cli(['synth', '-f', file, '--lockfile', lock, '--update', ...registryFlags(dir)]);
    expect(updated.code).toBe(0);
    expect(updated.stderr).toContain(`${CONTEXT7} (latest): 1.0.0 → 2.0.0`);
    expect(updated.stdout).toContain('@upstash/context7-mcp@2.0.2');
  });

  test('a 2025-07-09 oci package pinned by digest synthesizes with the image at repository@sha256', async () => {
    const dir = tempDir();
    const result = await cli(['synth', '-f', serverFile(dir, 'digest', 'io.github.example/digest-pinned'), ...registryFlags(dir)]);
    expect(result.code).toBe(0);
    const deployment = yaml.loadAll(result.stdout).find((o: any) => o.kind === 'Deployment') as any;
    expect(deployment.spec.template.spec.containers[0].image).toBe('docker.io/example/digest-pinned@sha256:3f1e9c2b7a4d5e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7');
    expect(result.stderr).toContain('pinned 0.4.1 (oci example/digest-pinned sha256:3f1e9c2b');
  });

  test('a credential the registry sets to a plain value: validate names the variable and the server', async () => {
    const dir = tempDir();
    const file = serverFile(dir, 'weather', 'io.github.example/plain-credential');
    const result = await cli(['validate', '-f', file, ...registryFlags(dir)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: document 1 (weather): spec.env[0].value: WEATHER_API_KEY (the registry's default, from io.github.example/plain-credential@1.3.0: `);
  });
});

test('examples/registry/filesystem-from-registry.yaml validates with nothing left to guess', async () => {
  const dir = tempDir();
  const example = join(ROOT, 'examples', 'registry', 'filesystem-from-registry.yaml');
  const result = await cli(['synth', '-f', example, '--lockfile', join(dir, 'mcp-lock.yaml'), ...registryFlags(dir)]);
  expect(result.code).toBe(0);
  expect(result.stderr).not.toContain('warning');
  const deployment = yaml.loadAll(result.stdout).find((o: any) => o.kind === 'Deployment') as any;
  const args: string[] = deployment.spec.template.spec.containers[0].args;
  expect(args.slice(args.indexOf('--') + 1)).toEqual(['npx', '-y', '--', '@modelcontextprotocol/server-filesystem@1.0.2', '/tmp']);
});

describe('registry search', () => {
  test('a table of the matching servers', async () => {
    const dir = tempDir();
    const result = await registryCli(['registry', 'search', 'domdomegg', ...registryFlags(dir)]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+STATUS\s+PACKAGES\s+DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['io.github.domdomegg/airtable-mcp-server', '1.7.3', 'active', 'npm,oci,mcpb'],
      ['io.github.domdomegg/time-mcp-nuget', '1.0.8', 'active', 'nuget'],
      ['io.github.domdomegg/time-mcp-pypi', '1.0.6', 'active', 'pypi'],
    ]);
    expect(registry.requests[0]!.url.searchParams.get('search')).toBe('domdomegg');
  });

  test('-o json gives the registry\'s own items', async () => {
    const dir = tempDir();
    const result = await registryCli(['registry', 'search', 'context7', '-o', 'json', ...registryFlags(dir)]);
    expect(JSON.parse(result.stdout).map((s: any) => s.server.name)).toEqual([CONTEXT7]);
  });

  test('no match: says so, exit 0; a bad -o is a usage error', async () => {
    const dir = tempDir();
    const none = await registryCli(['registry', 'search', 'zzz', ...registryFlags(dir)]);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toContain('no servers match "zzz"');
    expect((await registryCli(['registry', 'search', 'x', '-o', 'xml'])).code).toBe(2);
  });
});

describe('registry show', () => {
  test('human view: versions, packages, remotes and how it would deploy', async () => {
    const dir = tempDir();
    const result = await registryCli(['registry', 'show', CONTEXT7, ...registryFlags(dir)]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Name: +io\.github\.upstash\/context7$/m);
    expect(result.stdout).toMatch(/^Version: +2\.0\.0 \(latest\)$/m);
    expect(result.stdout).toMatch(/npm +@upstash\/context7-mcp +2\.0\.2 +stdio/);
    expect(result.stdout).toMatch(/streamable-http +https:\/\/mcp\.context7\.com\/mcp/);
    expect(result.stdout).toContain('Deploys as:  node:24-bookworm-slim — npx -y -- @upstash/context7-mcp@2.0.2 (stdio, port 8080)');
    expect(result.stdout).toMatch(/CONTEXT7_API_KEY +no +yes/);
  });

  test('name@version, deprecated: the status message is shown and warned', async () => {
    const dir = tempDir();
    const result = await registryCli(['registry', 'show', 'io.github.hashicorp/terraform-mcp-server@1.0.0', ...registryFlags(dir)]);
    expect(result.stdout).toMatch(/^Status: +deprecated — Superseded by 1\.1\.0; please upgrade\.$/m);
    expect(result.stderr).toContain('warning: io.github.hashicorp/terraform-mcp-server@1.0.0 is deprecated: Superseded by 1.1.0');
    expect(result.stdout).toContain('Deploys as:  needs settings first:');
    expect(result.stdout).toContain('spec.command: ');
  });

  test('not deployable servers say why', async () => {
    const dir = tempDir();
    const result = await registryCli(['registry', 'show', 'io.github.domdomegg/time-mcp-nuget', ...registryFlags(dir)]);
    expect(result.stdout).toContain('Deploys as:  not deployable: nuget package TimeMcpServer runs on the .NET SDK');
  });

  test('-o yaml is the registry answer', async () => {
    const dir = tempDir();
    const result = await registryCli(['registry', 'show', `${CONTEXT7}@1.0.0`, '-o', 'yaml', ...registryFlags(dir)]);
    expect((yaml.load(result.stdout) as any).server.version).toBe('1.0.0');
  });

  test('unknown server: exit 1 with the registry\'s answer; malformed name: exit 2', async () => {
    const dir = tempDir();
    const unknown = await registryCli(['registry', 'show', 'io.example/nope', ...registryFlags(dir)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: server io.example/nope not found in the registry at');
    const bad = await registryCli(['registry', 'show', 'not a name']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a registry server name');
  });

  test('--help on every command', async () => {
    for (const args of [['registry', '--help'], ['registry', 'search', '--help'], ['registry', 'show', '--help'], ['init', '--help']]) {
      const result = await registryCli(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/Usage: mcp-operator /);
    }
  });
});

describe('init --from-registry', () => {
  const cases: Array<[string, RegExp[]]> = [
    ['io.github.domdomegg/airtable-mcp-server', [/secretKeyRef:\n\s+name: airtable-mcp-server-secrets\n\s+key: airtable_api_key/, /package: npm/]],
    ['io.github.example/database-manager', [/command:\n\s+- <entrypoint of docker\.io\/example\/database-manager-mcp:3\.1\.0>/, /- <database_name>/, /name: DB_TYPE\n\s+value: postgres/, /value: <DB_USERNAME>/, /key: db_password/]],
    ['io.github.modelcontextprotocol/filesystem', [/package: npm/, /# Check:\n#   packageArguments\[0\] <target_dir> uses the publisher's default "\/Users\/username\/Desktop"/]],
    ['io.github.hashicorp/terraform-mcp-server', [/key: tfe_token\n\s+optional: true/, /<entrypoint of docker\.io\/hashicorp\/terraform-mcp-server:1\.2\.0>/]],
    ['io.github.oraios/serena', [/- "--from"\n\s+- serena-agent==1\.5\.3\n\s+- <program>/, /Replace these placeholders:\n#   spec\.command: replace the <placeholders>: runtimeArguments hold positional values/]],
    ['io.github.example/weather-mcp', [/key: weather_api_key/]],
    // Not marked secret, but named like a credential: a plain value would fail validate.
    ['io.github.example/plain-credential', [/name: WEATHER_API_KEY\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: plain-credential-secrets\n\s+key: weather_api_key/]],
    ['io.github.example/digest-pinned', [/registry:\n\s+name: io\.github\.example\/digest-pinned\n/]],
  ];

  test.each(cases)('%s: every required setting is present and the result passes validate', async (name, patterns) => {
    const dir = tempDir();
    const out = join(dir, 'server.yaml');
    const init = await registryCli(['init', '--from-registry', name, '-o', out, ...registryFlags(dir)]);
    expect(init.stderr).toBe(`wrote ${out}\n`);
    expect(init.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    for (const p of patterns) expect(text).toMatch(p);
    const validate = await cli(['validate', '-f', out, ...registryFlags(dir)]);
    expect(validate.stderr).toContain('1 MCPServer valid');
    expect(validate.code).toBe(0);
  });

  test('for every server of the fixtures: output that validates, or the reason it cannot deploy', async () => {
    const real = join(fixturesDir(), 'server-json', 'real');
    const names = [...new Set(readdirSync(real).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(real, f), 'utf8')).name as string))];
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) {
      const dir = tempDir();
      const out = join(dir, 'server.yaml');
      const init = await registryCli(['init', '--from-registry', name, '-o', out, ...registryFlags(dir)]);
      if (init.code === 1) {
        expect(init.stderr).toMatch(new RegExp(`^error: ${name.replace(/[.]/g, '\\.')}@\\S+ is not deployable: `));
        continue;
      }
      expect([name, init.code]).toEqual([name, 0]);
      const validate = await cli(['validate', '-f', out, ...registryFlags(dir)]);
      expect([name, validate.code, validate.stderr]).toEqual([name, 0, expect.stringContaining('1 MCPServer valid')]);
    }
  });

  test('name, version and the Secret to create are spelled out', async () => {
    const dir = tempDir();
    const result = await registryCli(['init', '--from-registry', 'io.github.domdomegg/airtable-mcp-server@1.7.3', '--name', 'airtable', ...registryFlags(dir)]);
    const doc = yaml.load(result.stdout) as any;
    expect(doc.metadata.name).toBe('airtable');
    expect(doc.spec.registry).toEqual({ name: 'io.github.domdomegg/airtable-mcp-server', version: '1.7.3', url: registry.url, package: 'npm' });
    expect(doc.spec.env).toEqual([{ name: 'AIRTABLE_API_KEY', valueFrom: { secretKeyRef: { name: 'airtable-secrets', key: 'airtable_api_key' } } }]);
    expect(result.stdout).toContain('# Create the Secret airtable-secrets with these keys before applying:');
    expect(result.stdout).toContain('kubectl create secret generic airtable-secrets --from-literal=airtable_api_key=...');
  });

  test('not deployable: exit 1 with the reason; an existing -o file is not overwritten without --force', async () => {
    const dir = tempDir();
    const nuget = await registryCli(['init', '--from-registry', 'io.github.domdomegg/time-mcp-nuget', ...registryFlags(dir)]);
    expect(nuget.code).toBe(1);
    expect(nuget.stderr).toContain('is not deployable: nuget package');
    const out = join(dir, 'exists.yaml');
    writeFileSync(out, 'keep me');
    const refused = await registryCli(['init', '--from-registry', CONTEXT7, '-o', out, ...registryFlags(dir)]);
    expect(refused.code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    expect((await registryCli(['init', '--from-registry', CONTEXT7, '-o', out, '--force', ...registryFlags(dir)])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('kind: MCPServer');
  });

  test('an invalid --name is a usage error', async () => {
    const dir = tempDir();
    const result = await registryCli(['init', '--from-registry', CONTEXT7, '--name', 'Not_Valid', ...registryFlags(dir)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--name: ');
  });
});

/** The built CLI in a child process; asynchronous, so this process's fake registry keeps answering. */
function node(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'mcp-operator.js'), ...args], { cwd: ROOT, env: { ...process.env, MCP_REGISTRY_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

test('end to end: the built CLI synthesizes the same bytes a second time with the registry stopped', async () => {
  expect(existsSync(join(ROOT, 'build', 'lib', 'cli', 'main.js'))).toBe(true); // run `npx tsc --build` first
  const dir = tempDir();
  const file = serverFile(dir, 'context7', CONTEXT7);
  const args = ['synth', '-f', file, '--registry-url', registry.url, '--cache-dir', join(dir, 'cache'), '--lockfile', join(dir, 'mcp-lock.yaml')];
  const first = await node(args);
  expect(first.stderr).toContain('pinned 2.0.0');
  expect(first.code).toBe(0);
  expect(registry.requests.length).toBeGreaterThan(0);
  await registry.stop();
  const second = await node(args);
  expect(second.code).toBe(0);
  expect(second.stdout.length).toBeGreaterThan(0);
  expect(second.stdout.equals(first.stdout)).toBe(true);
});

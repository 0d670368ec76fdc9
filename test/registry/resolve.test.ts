import { existsSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { realServer, tempDir } from './helpers';
import { RegistryCache, defaultCacheDir } from '../../lib/registry/cache';
import { defaultLockfilePath, Lockfile, LockfileError, serverDigest } from '../../lib/registry/lockfile';
import { resolveRegistryResources, ResolveOptions } from '../../lib/registry/resolver';
import { MCPServerSpec } from '../../lib/spec/mcpserver';
import { checkResource, InvalidInputError } from '../../lib/spec/validate';
import { ValidatedResource } from '../../lib/synth';
import { FakeRegistry } from '../support/registry-server';

const CONTEXT7 = 'io.github.upstash/context7';
const AIRTABLE = 'io.github.domdomegg/airtable-mcp-server';

const registry = FakeRegistry.forTestFile();

function resource(name: string, spec: Record<string, unknown>, file = 'servers.yaml', index = 0): ValidatedResource {
  const { resource: r, issues } = checkResource({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name }, spec });
  if (!r) throw new Error(JSON.stringify(issues));
  return { origin: { file, index }, resource: r };
}

interface Run {
  readonly dir: string;
  readonly lockfile: string;
  readonly cacheDir: string;
  readonly warnings: string[];
  readonly info: string[];
  resolve(resources: ValidatedResource[], extra?: Partial<ResolveOptions>): Promise<ValidatedResource[]>;
}

function setup(): Run {
  const dir = tempDir();
  const run: Run = {
    dir,
    lockfile: join(dir, 'mcp-lock.yaml'),
    cacheDir: join(dir, 'cache'),
    warnings: [],
    info: [],
    async resolve(resources, extra = {}) {
      const result = await resolveRegistryResources(resources, {
        registryUrl: registry.url,
        lockfile: run.lockfile,
        cacheDir: run.cacheDir,
        client: { sleep: async () => undefined, timeoutMs: 2000 },
        warn: (m) => void run.warnings.push(m),
        info: (m) => void run.info.push(m),
        ...extra,
      });
      return result.resources;
    },
  };
  return run;
}

async function problemsOf(p: Promise<unknown>): Promise<InvalidInputError['problems']> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InvalidInputError) return err.problems;
    throw err;
  }
  throw new Error('expected an InvalidInputError');
}

const context7 = (spec: Partial<MCPServerSpec> = {}) => resource('context7', { registry: { name: CONTEXT7 }, ...spec });

describe('resolving and pinning', () => {
  test('latest is resolved, the spec filled in, and the lockfile records what was used', async () => {
    const run = setup();
    const [out] = await run.resolve([context7()]);
    expect(out!.resource.spec).toMatchObject({ image: 'node', tag: '24-bookworm-slim', command: ['npx', '-y', '--', '@upstash/context7-mcp@2.0.2'], transport: { type: 'stdio' }, registry: { name: CONTEXT7 } });
    const lock = Lockfile.read(run.lockfile);
    expect(lock.get(registry.url, CONTEXT7, 'latest')).toEqual({
      registry: registry.url,
      name: CONTEXT7,
      requested: 'latest',
      version: '2.0.0',
      packageType: 'npm',
      identifier: '@upstash/context7-mcp',
      packageVersion: '2.0.2',
      sha256: serverDigest(realServer('io.github.upstash.context7.json')),
    });
    expect(run.info).toEqual([`${run.lockfile}: ${CONTEXT7} (latest): pinned 2.0.0 (npm @upstash/context7-mcp 2.0.2)`]);
  });

  test('a pinned latest stays put when the registry moves; --update moves it and says from what to what', async () => {
    const run = setup();
    registry.setLatest(CONTEXT7, '1.0.0');
    await run.resolve([context7()]);
    registry.setLatest(CONTEXT7, undefined);

    const [again] = await run.resolve([context7()]);
    expect(again!.resource.spec.command).toEqual(['npx', '-y', '--', '@upstash/context7-mcp@1.0.21']);
    expect(Lockfile.read(run.lockfile).get(registry.url, CONTEXT7, 'latest')?.version).toBe('1.0.0');

    run.info.length = 0;
    const [updated] = await run.resolve([context7()], { update: true });
    expect(updated!.resource.spec.command).toEqual(['npx', '-y', '--', '@upstash/context7-mcp@2.0.2']);
    expect(run.info).toEqual([`${run.lockfile}: ${CONTEXT7} (latest): 1.0.0 → 2.0.0; package npm @upstash/context7-mcp 1.0.21 → npm @upstash/context7-mcp 2.0.2`]);
    expect(Lockfile.read(run.lockfile).get(registry.url, CONTEXT7, 'latest')?.version).toBe('2.0.0');

    run.info.length = 0;
    await run.resolve([context7()], { update: true });
    expect(run.info).toEqual([`${run.lockfile}: up to date (1 pinned)`]);
  });

  test('pinned and cached: no request at all, even with the registry gone', async () => {
    const run = setup();
    const [first] = await run.resolve([context7()]);
    const lockBytes = readFileSync(run.lockfile, 'utf8');
    await registry.stop();
    const [second] = await run.resolve([context7()]);
    expect(second).toEqual(first);
    expect(readFileSync(run.lockfile, 'utf8')).toBe(lockBytes);
  });

  test('a pinned version marked deleted later is refused once its cached status expires', async () => {
    const run = setup();
    await run.resolve([context7()]);
    registry.setStatus(CONTEXT7, '2.0.0', 'deleted', 'taken down');
    expect((await run.resolve([context7()]))[0]!.resource.spec.image).toBe('node');
    const problems = await problemsOf(run.resolve([context7()], { cacheTtlMs: 0 }));
    expect(problems).toEqual([expect.objectContaining({ path: 'spec.registry.version', message: expect.stringMatching(/context7@2\.0\.0 is marked deleted .*taken down/) })]);
    expect(registry.requests.at(-1)!.rawPath).toBe('/v0.1/servers/io.github.upstash%2Fcontext7/versions/2.0.0?include_deleted=true');
  });

  test('status re-check with the registry gone: one quick attempt, one warning, the pinned copies deploy', async () => {
    const run = setup();
    const hybrid = resource('hybrid', { registry: { name: 'io.modelcontextprotocol.anonymous/hybrid-mcp' } });
    const first = await run.resolve([context7(), hybrid]);
    await registry.stop();
    const second = await run.resolve([context7(), hybrid], { cacheTtlMs: 0 });
    expect(second).toEqual(first);
    expect(run.warnings.filter((w) => w.startsWith('could not re-check'))).toEqual([
      expect.stringMatching(/^could not re-check io\.github\.upstash\/context7@2\.0\.0 with the registry \(.*ECONNREFUSED.*\); using the pinned copy$/),
    ]);
  });

  test('an exact version is pinned with its digest too', async () => {
    const run = setup();
    await run.resolve([resource('tf', { registry: { name: 'io.github.hashicorp/terraform-mcp-server', version: '1.1.0' }, command: ['terraform-mcp-server', 'stdio'] })]);
    expect(Lockfile.read(run.lockfile).get(registry.url, 'io.github.hashicorp/terraform-mcp-server', '1.1.0')).toMatchObject({ version: '1.1.0', packageType: 'oci', packageVersion: '1.1.0' });
  });

  test('a server.json that no longer matches its pin is refused, and the lockfile kept', async () => {
    const run = setup();
    await run.resolve([context7()]);
    const tampered = readFileSync(run.lockfile, 'utf8').replace(/sha256: "?sha256:[0-9a-f]{64}"?/, `sha256: sha256:${'0'.repeat(64)}`);
    writeFileSync(run.lockfile, tampered);
    const problems = await problemsOf(run.resolve([context7()]));
    expect(problems).toEqual([expect.objectContaining({ path: 'spec.registry.version', message: expect.stringMatching(/context7@2\.0\.0: the server\.json from .* is not the one pinned in .*run with --update to accept it/) })]);
    expect(readFileSync(run.lockfile, 'utf8')).toBe(tampered);
  });

  test('spec.registry.url wins over the default registry', async () => {
    const run = setup();
    const [out] = await run.resolve([context7({ registry: { name: CONTEXT7, url: registry.url } } as Partial<MCPServerSpec>)], { registryUrl: 'http://127.0.0.1:9' });
    expect(out!.resource.spec.image).toBe('node');
  });

  test('resources without spec.registry pass through, and no lockfile appears', async () => {
    const run = setup();
    const plain = resource('plain', { image: 'ghcr.io/o/s', tag: '1.0' });
    expect(await run.resolve([plain])).toEqual([plain]);
    expect(existsSync(run.lockfile)).toBe(false);
    expect(registry.requests).toEqual([]);
  });
});

describe('all or nothing', () => {
  test('every problem of every resource is reported, with its origin and field, and nothing is written', async () => {
    const run = setup();
    registry.setStatus('io.github.hashicorp/terraform-mcp-server', '1.1.0', 'deleted', 'compromised');
    const problems = await problemsOf(run.resolve([
      context7(),
      resource('nope', { registry: { name: 'io.example/nope' } }, 'b.yaml'),
      resource('airtable', { registry: { name: AIRTABLE } }, 'c.yaml'),
      resource('tf', { registry: { name: 'io.github.hashicorp/terraform-mcp-server', version: '1.1.0' }, command: ['x'] }, 'd.yaml'),
      resource('old', { registry: { name: 'io.github.hashicorp/terraform-mcp-server', version: '0.0.1' } }, 'e.yaml'),
      resource('nuget', { registry: { name: 'io.github.domdomegg/time-mcp-nuget' } }, 'f.yaml'),
    ]));
    expect(problems.map((p) => [p.origin.file, p.name, p.path])).toEqual([
      ['b.yaml', 'nope', 'spec.registry.name'],
      ['c.yaml', 'airtable', 'spec.env'],
      ['d.yaml', 'tf', 'spec.registry.version'],
      ['e.yaml', 'old', 'spec.registry.version'],
      ['f.yaml', 'nuget', 'spec.registry.name'],
    ]);
    expect(problems[0]!.message).toMatch(/server io\.example\/nope not found/);
    expect(problems[1]!.message).toMatch(/missing required environment variable AIRTABLE_API_KEY/);
    expect(problems[2]!.message).toMatch(/marked deleted.*compromised/);
    expect(problems[3]!.message).toMatch(/has no version 0\.0\.1 .*available: 1\.2\.0, 1\.1\.0, 1\.0\.0/);
    expect(problems[4]!.message).toMatch(/not deployable: nuget package TimeMcpServer/);
    expect(existsSync(run.lockfile)).toBe(false);
  });

  test('a malformed lockfile is a problem of its own, never overwritten', async () => {
    const run = setup();
    writeFileSync(run.lockfile, 'servers: [oops\n');
    const problems = await problemsOf(run.resolve([context7()]));
    expect(problems).toEqual([expect.objectContaining({ origin: { file: run.lockfile, index: 0 }, message: expect.stringMatching(/malformed lockfile/) })]);
    expect(readFileSync(run.lockfile, 'utf8')).toBe('servers: [oops\n');
  });

  test('a resolved spec that fails validation is reported against its resource', async () => {
    const run = setup();
    // A publisher default for a credential-looking name that the registry does not mark secret:
    // the mapping applies it, the MCPServer schema refuses it.
    const server = {
      name: 'io.example/tokens',
      version: '1.0.0',
      description: 'd',
      packages: [{ registryType: 'npm', identifier: 'tokens', version: '1.0.0', transport: { type: 'stdio' }, environmentVariables: [{ name: 'SERVICE_TOKEN', default: 'insecure' }] }],
    };
    const fetch = async () => new Response(JSON.stringify({ server }));
    const problems = await problemsOf(run.resolve([resource('tokens', { registry: { name: 'io.example/tokens' } })], { client: { fetch } }));
    expect(problems).toEqual([expect.objectContaining({
      name: 'tokens', path: 'spec.env[3].value', message: expect.stringMatching(/looks like a credential.*\(after resolving io\.example\/tokens@1\.0\.0\)/),
    })]);
    expect(existsSync(run.lockfile)).toBe(false);
  });
});

describe('offline and unreachable', () => {
  test('--offline with a cold cache: a clear error, no request', async () => {
    const run = setup();
    const problems = await problemsOf(run.resolve([context7()], { offline: true }));
    expect(problems).toEqual([expect.objectContaining({ path: 'spec.registry', message: expect.stringMatching(/--offline: io\.github\.upstash\/context7@latest .* is not in the cache \(.*cache\); run once without --offline/) })]);
    expect(registry.requests).toEqual([]);
  });

  test('--offline with a warm cache and no lockfile: resolves from the cache', async () => {
    const run = setup();
    const [online] = await run.resolve([context7()]);
    const requests = registry.requests.length;
    const [offline] = await run.resolve([context7()], { offline: true, lockfile: join(run.dir, 'other-lock.yaml') });
    expect(offline).toEqual(online);
    expect(registry.requests.length).toBe(requests);
  });

  test('registry down, cache warm within the TTL: works without asking', async () => {
    const run = setup();
    await run.resolve([context7()], { lockfile: join(run.dir, 'a.yaml') });
    await registry.stop();
    const [out] = await run.resolve([context7()], { lockfile: join(run.dir, 'b.yaml') });
    expect(out!.resource.spec.image).toBe('node');
  });

  test('registry down, cache expired: the stale answer serves, with a warning', async () => {
    const run = setup();
    await run.resolve([context7()], { lockfile: join(run.dir, 'a.yaml') });
    await registry.stop();
    const [out] = await run.resolve([context7()], { lockfile: join(run.dir, 'b.yaml'), cacheTtlMs: 0 });
    expect(out!.resource.spec.image).toBe('node');
    expect(run.warnings).toContainEqual(expect.stringMatching(/registry unavailable \(.*ECONNREFUSED.*\); using io\.github\.upstash\/context7@latest cached/));
  });

  test('registry down, cache cold: a clear network error naming the registry', async () => {
    const run = setup();
    await registry.stop();
    const problems = await problemsOf(run.resolve([context7()]));
    expect(problems).toEqual([expect.objectContaining({ path: 'spec.registry', message: expect.stringContaining(`GET ${registry.url}/v0.1/servers/io.github.upstash%2Fcontext7/versions/latest: ECONNREFUSED`) })]);
  });
});

describe('cache', () => {
  test('entries expire after the TTL, except published versions', () => {
    let now = 1_000_000;
    const cache = new RegistryCache({ dir: tempDir(), ttlMs: 1000, now: () => now });
    cache.write('https://r.example', 'latest', 'a/b', { x: 1 });
    cache.write('https://r.example', 'version', 'a/b@1.0.0', { x: 2 });
    const latest = cache.read('https://r.example', 'latest', 'a/b')!;
    const version = cache.read('https://r.example', 'version', 'a/b@1.0.0')!;
    expect(cache.isFresh(latest, 'latest')).toBe(true);
    now += 1001;
    expect(cache.isFresh(latest, 'latest')).toBe(false);
    expect(cache.isFresh(version, 'version')).toBe(true);
    expect(latest.value).toEqual({ x: 1 });
  });

  test('writes leave no temporary files; a corrupt entry is a miss; registries do not share entries', () => {
    const dir = tempDir();
    const cache = new RegistryCache({ dir });
    cache.write('https://r.example', 'version', 'a/b@1', { ok: true });
    const file = cache.path('https://r.example', 'version', 'a/b@1');
    expect(readdirSync(join(file, '..'))).toEqual([file.slice(file.lastIndexOf('/') + 1)]);
    expect(cache.read('https://other.example', 'version', 'a/b@1')).toBeUndefined();
    writeFileSync(file, '{"storedAt": 1, "key": "a/b@1", "val');
    expect(cache.read('https://r.example', 'version', 'a/b@1')).toBeUndefined();
  });

  test('default directory: $XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/mcp-operator/registry');
    expect(defaultCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/mcp-operator/registry');
  });
});

describe('lockfile', () => {
  test('the same pins give the same bytes, in sorted order', () => {
    const dir = tempDir();
    const entry = (name: string) => ({ registry: 'https://r', name, requested: 'latest', version: '1', packageType: 'npm', identifier: name, sha256: `sha256:${'1'.repeat(64)}` });
    const a = new Lockfile(join(dir, 'a.yaml'), [entry('z.z/z'), entry('a.a/a')]);
    const b = new Lockfile(join(dir, 'b.yaml'), [entry('a.a/a'), entry('z.z/z')]);
    expect(a.toYaml()).toBe(b.toYaml());
    a.write();
    expect(Lockfile.read(join(dir, 'a.yaml')).toYaml()).toBe(a.toYaml());
    expect(a.toYaml().indexOf('a.a/a')).toBeLessThan(a.toYaml().indexOf('z.z/z'));
  });

  test('a lockfile that is not ours is refused with the reason', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.yaml'), 'lockfileVersion: 1\nservers:\n  - name: a\n');
    expect(() => Lockfile.read(join(dir, 'x.yaml'))).toThrow(LockfileError);
    expect(() => Lockfile.read(join(dir, 'x.yaml'))).toThrow(/servers\[0\] lacks registry, requested, version, packageType, identifier, sha256/);
    writeFileSync(join(dir, 'y.yaml'), 'name: something else\n');
    expect(() => Lockfile.read(join(dir, 'y.yaml'))).toThrow(/not an mcp-operator lockfile/);
  });

  test('default path: beside the first input file, inside a directory input, cwd for stdin', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 's.yaml'), '');
    expect(defaultLockfilePath([join(dir, 's.yaml')])).toBe(join(dir, 'mcp-lock.yaml'));
    expect(defaultLockfilePath([dir])).toBe(join(dir, 'mcp-lock.yaml'));
    expect(defaultLockfilePath(['-'], '/work/x')).toBe('/work/x/mcp-lock.yaml');
    expect(defaultLockfilePath(undefined, '/work/x')).toBe('/work/x/mcp-lock.yaml');
  });
});

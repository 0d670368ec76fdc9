/**
 * Hostile registries and hostile registry entries: every answer is read through the bounded reader,
 * every listing is bounded, redirects stay on the origin, and what a server.json puts on a command line
 * or into the environment passes the argument and environment policy.
 */
import { mkdtempSync, readdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { HostilePeer, MIB } from './support/net-servers';
import { RegistryCache } from '../../lib/registry/cache';
import { RegistryClient } from '../../lib/registry/client';
import { MappingError, NotDeployableError, RegistryError } from '../../lib/registry/errors';
import { mapServer } from '../../lib/registry/mapping';
import { RegistrySource } from '../../lib/registry/source';
import { Package, ServerJson } from '../../lib/registry/types';
import { MCPServerSpec } from '../../lib/spec/mcpserver';
import { registryCli } from '../registry/helpers';

jest.setTimeout(60_000);

const peers: HostilePeer[] = [];
async function peer(handler: Parameters<typeof HostilePeer.start>[0]): Promise<HostilePeer> {
  const p = await HostilePeer.start(handler);
  peers.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

function client(baseUrl: string, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  return new RegistryClient({ baseUrl, maxAttempts: 1, timeoutMs: 20_000, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error('expected a RegistryError');
}

const SERVER = { name: 'io.example/hostile', version: '1.0.0', description: 'x' };

describe('answers are bounded', () => {
  test('an endless body is cut at 8 MiB (the default): too-large, not retried, the read stops', async () => {
    const registry = await peer(async (_req, res, p) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"servers": [');
      await p.stream(res, Buffer.alloc(64 * 1024, 0x20));
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const err = await failure(client(registry.url, { maxAttempts: 3 }).getVersion(SERVER.name, '1.0.0'));
    expect(err.kind).toBe('too-large');
    expect(err.transient).toBe(false);
    expect(err.message).toBe(`registry at ${registry.url}: ${registry.url}/v0.1/servers/io.example%2Fhostile/versions/1.0.0: the registry answer is larger than 8 MiB; refusing to read more`);
    expect(registry.requests).toBe(1);
    // The reader gave up at the limit: what the server got into the socket is the limit plus what
    // kernel buffers held, not an unbounded stream.
    expect(registry.bytesSent).toBeLessThan(8 * MIB + 16 * MIB);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MIB);
  });

  test('a 200 MB answer that says so is refused from its Content-Length, before its body is read', async () => {
    const registry = await peer(async (_req, res, p) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(200_000_000) });
      await p.stream(res, Buffer.alloc(64 * 1024, 0x20), 200_000_000);
    });
    const err = await failure(client(registry.url).getVersion(SERVER.name, '1.0.0'));
    expect(err.kind).toBe('too-large');
    expect(err.message).toContain('larger than 8 MiB');
    expect(registry.bytesSent).toBeLessThan(16 * MIB);
  });

  test('the byte bound is configurable', async () => {
    const body = JSON.stringify({ server: { ...SERVER, description: 'y'.repeat(4096) } });
    const registry = await peer((_req, res) => void res.end(body));
    expect((await client(registry.url).getVersion(SERVER.name, '1.0.0')).server.name).toBe(SERVER.name);
    const err = await failure(client(registry.url, { maxResponseBytes: 1024 }).getVersion(SERVER.name, '1.0.0'));
    expect(err.message).toContain('larger than 1 KiB');
  });
});

describe('listings are bounded', () => {
  test('registry search stops at a repeated cursor with an error, after a bounded number of requests', async () => {
    const registry = await peer((req, res) => {
      const cursor = new URL(req.url!, 'http://x').searchParams.get('cursor');
      // A → B → A → …: a loop, each page without servers.
      res.end(JSON.stringify({ servers: [], metadata: { nextCursor: cursor === 'A' ? 'B' : 'A' } }));
    });
    const cacheDir = mkdtempSync(join(tmpdir(), 'net-hostile-'));
    const result = await registryCli(['registry', 'search', 'x', '--registry-url', registry.url, '--cache-dir', cacheDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: registry ${registry.url} returned the cursor "A" twice; stopping\n`);
    expect(registry.requests).toBe(3);
  });

  test('a registry that hands out a fresh cursor forever is stopped after maxPages pages', async () => {
    const registry = await peer((req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('cursor') ?? '0');
      res.end(JSON.stringify({ servers: [], metadata: { nextCursor: String(n + 1) } }));
    });
    const cacheDir = mkdtempSync(join(tmpdir(), 'net-hostile-'));
    const result = await registryCli(['registry', 'search', 'x', '--registry-url', registry.url, '--cache-dir', cacheDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: registry ${registry.url} still had a next page after 100 pages; stopping\n`);
    expect(registry.requests).toBe(100);
  });

  test('servers over all pages are bounded too', async () => {
    const registry = await peer((req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('cursor') ?? '0');
      const servers = Array.from({ length: 50 }, (_, i) => ({ server: { name: `io.example/s${n}-${i}`, version: '1.0.0' } }));
      res.end(JSON.stringify({ servers, metadata: { nextCursor: String(n + 1) } }));
    });
    const seen: string[] = [];
    const err = await failure((async () => {
      for await (const s of client(registry.url, { maxItems: 120 }).servers()) seen.push(s.server.name);
    })());
    expect(err.message).toBe(`registry ${registry.url} listed more than 120 servers for one listing; stopping`);
    expect(seen).toHaveLength(100);
    expect(registry.requests).toBe(3);
  });
});

describe('redirects', () => {
  test('a redirect to another host is refused, names both URLs, is never fetched and never cached', async () => {
    const elsewhere = await peer((_req, res) => void res.end(JSON.stringify({ server: SERVER })));
    const registry = await peer((req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}${req.url}` });
      res.end();
    });
    const cacheDir = mkdtempSync(join(tmpdir(), 'net-hostile-'));
    const source = new RegistrySource({ client: client(registry.url), cache: new RegistryCache({ dir: cacheDir }) });
    const err = await failure(source.getVersion(SERVER.name, 'latest'));
    const original = `${registry.url}/v0.1/servers/io.example%2Fhostile/versions/latest`;
    expect(err.kind).toBe('redirect');
    expect(err.transient).toBe(false);
    expect(err.message).toBe(`registry at ${registry.url}: ${original} redirects to ${elsewhere.url}/v0.1/servers/io.example%2Fhostile/versions/latest, another origin than ${registry.url}; cross-origin redirects are not followed`);
    expect(elsewhere.requests).toBe(0);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  test('same-origin redirects are followed, at most 3 of them', async () => {
    const registry = await peer((req, res) => {
      const hop = Number(/hop=(\d+)/.exec(req.url!)?.[1] ?? '0');
      const limit = req.url!.includes('many') ? 10 : 2;
      if (hop < limit) {
        res.writeHead(307, { location: `${req.url!.split('?')[0]}?hop=${hop + 1}${req.url!.includes('many') ? '&many' : ''}` });
        return void res.end();
      }
      res.end(JSON.stringify({ server: SERVER }));
    });
    expect((await client(registry.url).getVersion(SERVER.name, 'few')).server.name).toBe(SERVER.name);
    expect(registry.requests).toBe(3);
    const err = await failure(client(`${registry.url}`).listServers({ search: 'many' }));
    expect(err.kind).toBe('redirect');
    expect(err.message).toContain('redirected more than 3 times');
  });
});

describe('registry text reaches the terminal neutralised', () => {
  test('ANSI escapes and control characters in names, descriptions and errors are not passed through', async () => {
    const evil = '\x1b[2K\rVERIFIED \x1b]0;owned\x07\x9b31m';
    const registry = await peer((req, res) => {
      if (req.url!.includes('versions')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: `boom ${evil}` }));
      }
      res.end(JSON.stringify({ servers: [{ server: { name: 'io.example/ansi', version: '1.0.0', description: `desc ${evil}` } }], metadata: {} }));
    });
    const cacheDir = mkdtempSync(join(tmpdir(), 'net-hostile-'));
    const search = await registryCli(['registry', 'search', 'ansi', '--registry-url', registry.url, '--cache-dir', cacheDir]);
    expect(search.code).toBe(0);
    expect(search.stdout).toContain('io.example/ansi');
    expect(search.stdout).toContain('VERIFIED');
    expect(search.stdout).not.toContain('owned');
    // eslint-disable-next-line no-control-regex
    expect(search.stdout).not.toMatch(/[\x1b\x07\r\x9b]/);
    const show = await registryCli(['registry', 'show', 'io.example/ansi@1.0.0', '--registry-url', registry.url, '--cache-dir', cacheDir]);
    expect(show.code).toBe(1);
    expect(show.stderr).toContain('boom \\x0dVERIFIED');
    expect(show.stderr).not.toContain('owned');
    // eslint-disable-next-line no-control-regex
    expect(show.stderr).not.toMatch(/[\x1b\x07\r\x9b]/);
  });
});

// ---------------------------------------------------------------------------------------------
// The argument and environment policy

function server(pkg: Partial<Package> & Pick<Package, 'registryType' | 'identifier'>): ServerJson {
  return { name: 'io.example/evil', version: '1.0.0', packages: [{ version: '1.0.0', transport: { type: 'stdio' }, ...pkg }] };
}

function refusal(s: ServerJson, user: MCPServerSpec = { registry: { name: s.name } } as MCPServerSpec): Error {
  try {
    mapServer(s, user);
  } catch (err) {
    if (err instanceof NotDeployableError || err instanceof MappingError) return err;
    throw err;
  }
  throw new Error('expected the mapping to refuse');
}

describe('identifiers and versions', () => {
  test('the npm injection identifier from the attack is refused, naming server, package and field', () => {
    const err = refusal(server({ registryType: 'npm', identifier: '--call=touch /tmp/x #' }));
    expect(err).toBeInstanceOf(NotDeployableError);
    expect(err.message).toBe('io.example/evil@1.0.0 is not deployable: npm package "--call=touch /tmp/x #": packages[0].identifier "--call=touch /tmp/x #" starts with "-", so a command line would read it as an option');
  });

  test.each([
    ['npm', 'pkg name', 'contains whitespace or control characters'],
    ['npm', '.hidden', 'is not a valid npm package name'],
    ['npm', '@scope/-x', 'is not a valid npm package name'],
    ['npm', 'x'.repeat(215), 'is longer than 214 characters'],
    ['pypi', '-r/etc/passwd', 'starts with "-"'],
    ['pypi', 'pkg;id', 'is not a valid PyPI project name'],
    ['pypi', 'pkg\u0000', 'contains whitespace or control characters'],
  ])('%s identifier %j is refused', (registryType, identifier, why) => {
    const err = refusal(server({ registryType, identifier }));
    expect(err.message).toContain(`packages[0].identifier ${JSON.stringify(identifier)} ${why}`);
  });

  test.each([
    ['npm', 'ok-pkg', 'latest'],
    ['npm', 'ok-pkg', '^1.0.0'],
    ['npm', 'ok-pkg', 'https://evil.example/x.tgz'],
    ['npm', 'ok-pkg', '1.0.0 --call=id'],
    ['pypi', 'ok-pkg', '1.0 ; rm -rf /'],
    ['pypi', 'ok-pkg', '@ https://evil.example/x.whl'],
  ])('%s %s version %j is refused', (registryType, identifier, version) => {
    const err = refusal(server({ registryType, identifier, version }));
    expect(err.message).toContain(`packages[0].version ${JSON.stringify(version)}`);
  });

  test.each([
    ['docker.io/Evil/Image:1.0', 'repository'],
    ['docker.io/evil/image:1.0 --privileged', 'tag'],
    ['-docker.io/evil:1', 'repository'],
    ['docker.io/evil/image@sha256:../../x', 'digest'],
  ])('oci identifier %j is refused (%s)', (identifier, part) => {
    const err = refusal(server({ registryType: 'oci', identifier, transport: { type: 'streamable-http', url: 'http://localhost:8080/mcp' } }));
    expect(err).toBeInstanceOf(NotDeployableError);
    expect(err.message).toContain(`(${part})`);
  });

  test('valid names still map, and npx gets -- before the package so it can never be read as an option', () => {
    const mapped = mapServer(server({ registryType: 'npm', identifier: '@scope/ok.pkg_x', version: '1.2.3-rc.1+b5' }), { registry: { name: 'io.example/evil' } } as MCPServerSpec);
    expect(mapped.spec.command).toEqual(['npx', '-y', '--', '@scope/ok.pkg_x@1.2.3-rc.1+b5']);
    const py = mapServer(server({ registryType: 'pypi', identifier: 'Ok_Pkg.x', version: '2024.1.post2' }), { registry: { name: 'io.example/evil' } } as MCPServerSpec);
    expect(py.spec.command).toEqual(['uvx', 'Ok_Pkg.x==2024.1.post2']);
  });
});

describe('launcher options from runtimeArguments', () => {
  test.each([
    ['npm', { type: 'named', name: '--call', value: 'touch /tmp/x' }, '"--call touch /tmp/x" is not a npx option'],
    ['npm', { type: 'named', name: '--registry', value: 'http://evil.example' }, '"--registry http://evil.example" is not a npx option'],
    ['npm', { type: 'named', name: '--node-options=--require=/tmp/x.js' }, 'is not a npx option'],
    ['npm', { type: 'named', name: '--package', value: '--call=id' }, '--package "--call=id" starts with "-"'],
    ['pypi', { type: 'named', name: '--index-url', value: 'http://evil.example/simple' }, 'is not a uvx option'],
    ['pypi', { type: 'named', name: '--with', value: 'evil @ https://evil.example/x.whl' }, '--with "evil @ https://evil.example/x.whl"'],
    ['pypi', { type: 'named', name: '--python', value: '/tmp/evil' }, 'is not a Python version such as 3.12'],
  ] as const)('%s %j is refused', (registryType, arg, why) => {
    const err = refusal(server({ registryType, identifier: 'ok-pkg', runtimeArguments: [arg as never] }));
    expect(err).toBeInstanceOf(MappingError);
    const problem = (err as MappingError).problems.find((p) => p.message.includes(why));
    expect(problem).toMatchObject({ path: 'spec.command' });
    expect(problem!.message).toMatch(new RegExp(`^io\\.example/evil@1\\.0\\.0: ${registryType} package ok-pkg: packages\\[0\\]\\.runtimeArguments\\[0\\] .*; set spec\\.command yourself to run it anyway$`));
  });

  test('allowed options pass: npx --package, uvx --from/--python', () => {
    const npm = mapServer(server({ registryType: 'npm', identifier: 'ok-pkg', runtimeArguments: [{ type: 'named', name: '--package', value: 'helper@1.0.0' }] }), { registry: { name: 'x/y' } } as MCPServerSpec);
    expect(npm.spec.command).toEqual(['npx', '-y', '--package', 'helper@1.0.0', '--', 'ok-pkg@1.0.0']);
    const py = mapServer(server({ registryType: 'pypi', identifier: 'ok-pkg', runtimeArguments: [{ type: 'named', name: '--python', value: '3.12' }] }), { registry: { name: 'x/y' } } as MCPServerSpec);
    expect(py.spec.command).toEqual(['uvx', '--python', '3.12', 'ok-pkg==1.0.0']);
  });

  test('a user-written spec.command replaces the registry launcher line, so its options are not checked', () => {
    const s = server({ registryType: 'npm', identifier: 'ok-pkg', runtimeArguments: [{ type: 'named', name: '--call', value: 'id' }] });
    const mapped = mapServer(s, { registry: { name: s.name }, command: ['node', 'server.js'] } as MCPServerSpec);
    expect(mapped.spec.command).toEqual(['node', 'server.js']);
  });
});

describe('environment from the registry', () => {
  const denied: Array<[string, string]> = [
    ['LD_PRELOAD', '/tmp/evil.so'],
    ['DYLD_INSERT_LIBRARIES', '/tmp/evil.dylib'],
    ['NODE_OPTIONS', '--require /tmp/evil.js'],
    ['NODE_PATH', '/tmp'],
    ['HOME', '/'],
    ['PATH', '/tmp:/usr/bin'],
    ['npm_config_registry', 'http://evil.example'],
    ['NPM_CONFIG_USERCONFIG', '/tmp/npmrc'],
    ['PIP_INDEX_URL', 'http://evil.example/simple'],
    ['UV_INDEX_URL', 'http://evil.example/simple'],
    ['PYTHONPATH', '/tmp'],
    ['PYTHONSTARTUP', '/tmp/x.py'],
    ['BASH_ENV', '/tmp/x.sh'],
    ['ENV', '/tmp/x.sh'],
  ];

  test.each(denied)('a fixed %s from the registry is refused', (name, value) => {
    const s = server({ registryType: 'npm', identifier: 'ok-pkg', environmentVariables: [{ name: 'OK', value: '1' }, { name, value }] });
    const err = refusal(s) as MappingError;
    expect(err).toBeInstanceOf(MappingError);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.path).toBe('spec.env');
    expect(err.problems[0]!.message).toMatch(new RegExp(`^io\\.example/evil@1\\.0\\.0: npm package ok-pkg: packages\\[0\\]\\.environmentVariables\\[1\\] sets ${name}=`));
    expect(err.problems[0]!.message).toContain(`add ${name} to spec.env yourself if you mean it`);
  });

  test('docker -e flags of an OCI package are held to the same list', () => {
    const s = server({
      registryType: 'oci',
      identifier: 'docker.io/example/srv:1.0.0',
      transport: { type: 'streamable-http', url: 'http://localhost:8080/mcp' },
      runtimeArguments: [{ type: 'named', name: '-e', value: 'LD_PRELOAD=/tmp/evil.so' }],
    });
    const err = refusal(s) as MappingError;
    expect(err.problems[0]!.message).toContain('packages[0].runtimeArguments[0] sets LD_PRELOAD="/tmp/evil.so"');
  });

  test('the user may set such a variable in spec.env themselves; a registry default counts as setting it', () => {
    const s = server({
      registryType: 'npm',
      identifier: 'ok-pkg',
      environmentVariables: [{ name: 'NODE_OPTIONS', value: '--require /tmp/evil.js' }, { name: 'PYTHONUNBUFFERED', default: '1' }],
    });
    const err = refusal(s, { registry: { name: s.name }, env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' }] } as MCPServerSpec) as MappingError;
    expect(err.problems.map((p) => p.message)).toEqual([expect.stringContaining('environmentVariables[1] sets PYTHONUNBUFFERED="1"')]);
    const mapped = mapServer(s, { registry: { name: s.name }, env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' }, { name: 'PYTHONUNBUFFERED', value: '1' }] } as MCPServerSpec);
    expect(mapped.spec.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' });
    expect(mapped.spec.env).toContainEqual({ name: 'PYTHONUNBUFFERED', value: '1' });
    // mcp-operator's own launcher settings are not the registry's and stay.
    expect(mapped.spec.env).toContainEqual({ name: 'npm_config_cache', value: '/home/mcp/.npm' });
  });
});

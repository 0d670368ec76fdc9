import { readdirSync } from 'fs';
import { join } from 'path';
import { realServer, testServer } from './helpers';
import { MappingError, NotDeployableError } from '../../lib/registry/errors';
import { mapServer, MappedServer } from '../../lib/registry/mapping';
import { normalizeServerJson } from '../../lib/registry/normalize';
import { ServerJson } from '../../lib/registry/types';
import { EnvVar } from '../../lib/spec/k8s';
import { MCPServerResource, MCPServerSpec } from '../../lib/spec/mcpserver';
import { checkResource } from '../../lib/spec/validate';
import { desired, KubeObject } from '../../lib/synth';
import { fixturesDir } from '../support/registry-server';

const secretRef = (name: string, key: string): EnvVar => ({ name, valueFrom: { secretKeyRef: { name: 'mcp-secrets', key } } });
const NODE = 'node:24-bookworm-slim';
const UV = 'ghcr.io/astral-sh/uv:python3.12-bookworm-slim';
const TF_COMMAND = ['terraform-mcp-server', 'stdio'];

interface Deploys {
  /** What the user adds to `spec.registry: {name}` for the server to deploy. */
  readonly user?: Partial<MCPServerSpec>;
  /** Without `user`, these are the problems (path, message) — the reasons name-only is not enough. */
  readonly nameOnly?: ReadonlyArray<readonly [string, RegExp]>;
  readonly image: string;
  /** The container's own command line (for stdio: what the bridge starts, after `--`). */
  readonly run: readonly string[];
  readonly transport: 'stdio' | 'http';
  readonly port?: number;
  readonly path?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly warnings?: readonly RegExp[];
}

type Outcome = { readonly deploys: Deploys } | { readonly notDeployable: RegExp };

/** One row per file in server-json/real: what mcp-operator does with it. */
const FIXTURES: Record<string, Outcome> = {
  'io.github.domdomegg.airtable-mcp-server.json': {
    deploys: {
      user: { env: [secretRef('AIRTABLE_API_KEY', 'airtable_api_key')] },
      nameOnly: [['spec.env', /missing required environment variable AIRTABLE_API_KEY .*valueFrom\.secretKeyRef/]],
      image: NODE,
      run: ['npx', '-y', '--', 'airtable-mcp-server@1.7.3'],
      transport: 'stdio',
    },
  },
  'io.github.domdomegg.time-mcp-nuget.json': { notDeployable: /nuget package TimeMcpServer runs on the \.NET SDK \(dnx\)/ },
  'io.github.domdomegg.time-mcp-pypi.json': {
    deploys: {
      image: UV,
      run: ['uvx', 'time-mcp-pypi==1.0.6'],
      transport: 'stdio',
      env: { UV_CACHE_DIR: '/home/mcp/.cache/uv' },
      warnings: [/runtimeHint python is not uvx/],
    },
  },
  'io.github.example.configurable-server.json': {
    deploys: { image: NODE, run: ['npx', '-y', '--', '@example/mcp-server@1.0.0', '--port', '3000'], transport: 'http', port: 3000, path: '/mcp' },
  },
  'io.github.example.database-manager.json': {
    deploys: {
      user: {
        command: ['database-manager-mcp'],
        args: ['--host', 'db.internal', 'shop'],
        env: [{ name: 'DB_TYPE', value: 'postgres' }, { name: 'DB_USERNAME', value: 'app' }, secretRef('DB_PASSWORD', 'db_password')],
      },
      nameOnly: [
        ['spec.command', /runs the image docker\.io\/example\/database-manager-mcp:3\.1\.0 over stdio.*set spec\.command/],
        ['spec.args', /packageArguments\[2\] <database_name> needs a value.*"--host","localhost","<database_name>"/],
        ['spec.env', /missing required environment variable DB_TYPE/],
        ['spec.env', /missing required environment variable DB_USERNAME/],
        ['spec.env', /missing required environment variable DB_PASSWORD .*secretKeyRef/],
      ],
      image: 'docker.io/example/database-manager-mcp:3.1.0',
      run: ['database-manager-mcp', '--host', 'db.internal', 'shop'],
      transport: 'stdio',
      env: { DB_TYPE: 'postgres', SSL_MODE: 'prefer' },
      warnings: [/ignored docker flag --network host: the pod network decides/],
    },
  },
  'io.github.example.weather-mcp.json': {
    deploys: {
      user: { env: [secretRef('WEATHER_API_KEY', 'weather_api_key')] },
      nameOnly: [['spec.env', /missing required environment variable WEATHER_API_KEY/]],
      image: UV,
      run: ['uvx', 'weather-mcp-server==0.5.0'],
      transport: 'stdio',
      env: { WEATHER_UNITS: 'celsius' },
    },
  },
  'io.github.hashicorp.terraform-mcp-server.json': {
    deploys: {
      user: { command: TF_COMMAND },
      nameOnly: [['spec.command', /docker\.io\/hashicorp\/terraform-mcp-server:1\.2\.0 over stdio; the in-pod bridge must start the image's entrypoint/]],
      image: 'docker.io/hashicorp/terraform-mcp-server:1.2.0',
      run: TF_COMMAND,
      transport: 'stdio',
      env: { TFE_ADDRESS: 'https://app.terraform.io', ENABLE_TF_OPERATIONS: 'false' },
    },
  },
  'io.github.hashicorp.terraform-mcp-server@0.3.2.json': {
    // Two OCI packages; the streamable-http one needs no entrypoint, so it is the one chosen.
    deploys: {
      image: 'docker.io/hashicorp/terraform-mcp-server:0.3.2',
      run: [],
      transport: 'http',
      port: 8080,
      path: '/mcp',
      env: { TRANSPORT_MODE: 'streamable-http', TRANSPORT_HOST: '0.0.0.0', MCP_CORS_MODE: 'strict' },
      warnings: [/ignored docker flag -p 8080:8080: a pod publishes no host ports/],
    },
  },
  'io.github.hashicorp.terraform-mcp-server@1.0.0.json': {
    deploys: {
      user: { command: TF_COMMAND },
      nameOnly: [['spec.command', /terraform-mcp-server:1\.0\.0 over stdio/]],
      image: 'docker.io/hashicorp/terraform-mcp-server:1.0.0',
      run: TF_COMMAND,
      transport: 'stdio',
    },
  },
  'io.github.hashicorp.terraform-mcp-server@1.1.0.json': {
    deploys: {
      user: { command: TF_COMMAND },
      nameOnly: [['spec.command', /terraform-mcp-server:1\.1\.0 over stdio/]],
      image: 'docker.io/hashicorp/terraform-mcp-server:1.1.0',
      run: TF_COMMAND,
      transport: 'stdio',
    },
  },
  'io.github.joelverhagen.knapcode-samplemcpserver.json': { notDeployable: /nuget package Knapcode\.SampleMcpServer runs on the \.NET SDK/ },
  'io.github.mobile-next.mobile-mcp.json': {
    deploys: { image: NODE, run: ['npx', '-y', '--', '@mobilenext/mobile-mcp@0.0.31'], transport: 'stdio', warnings: [/environmentVariables\[0\] has no name/] },
  },
  'io.github.mobile-next.mobile-mcp@0.0.26.json': {
    deploys: { image: NODE, run: ['npx', '-y', '--', '@mobilenext/mobile-mcp@0.0.26'], transport: 'stdio', warnings: [/environmentVariables\[0\] has no name/] },
  },
  'io.github.modelcontextprotocol.filesystem.json': {
    deploys: {
      user: { args: ['/tmp'] },
      image: NODE,
      run: ['npx', '-y', '--', '@modelcontextprotocol/server-filesystem@1.0.2', '/tmp'],
      transport: 'stdio',
      env: { LOG_LEVEL: 'info', npm_config_cache: '/home/mcp/.npm' },
    },
  },
  'io.github.oraios.serena.json': {
    deploys: {
      user: { command: ['uvx', '-p', '3.13', '--from', 'serena-agent==1.5.3', 'serena', 'start-mcp-server', '--project-from-cwd', '--context', 'desktop-app'] },
      nameOnly: [['spec.command', /positional values \(start-mcp-server, --project-from-cwd\) that uvx would take as the program.*"uvx","-p","3\.13","--from","serena-agent==1\.5\.3","<program>","start-mcp-server"/]],
      image: UV,
      run: ['uvx', '-p', '3.13', '--from', 'serena-agent==1.5.3', 'serena', 'start-mcp-server', '--project-from-cwd', '--context', 'desktop-app'],
      transport: 'stdio',
    },
  },
  'io.github.upstash.context7.json': {
    // The package version (2.0.2), not the server version (2.0.0), is what runs.
    deploys: { image: NODE, run: ['npx', '-y', '--', '@upstash/context7-mcp@2.0.2'], transport: 'stdio' },
  },
  'io.github.upstash.context7@1.0.0.json': { deploys: { image: NODE, run: ['npx', '-y', '--', '@upstash/context7-mcp@1.0.21'], transport: 'stdio' } },
  'io.github.verygoodplugins.mcp-automem.json': { deploys: { image: NODE, run: ['npx', '-y', '--', '@verygoodplugins/mcp-automem@0.15.0'], transport: 'stdio' } },
  'io.github.verygoodplugins.mcp-automem@0.9.1.json': { deploys: { image: NODE, run: ['npx', '-y', '--', '@verygoodplugins/mcp-automem@0.9.1'], transport: 'stdio' } },
  'io.modelcontextprotocol.anonymous.hybrid-mcp.json': {
    deploys: { image: NODE, run: ['npx', '-y', '--', '@example/hybrid-mcp-server@1.5.0', '--mode', 'local'], transport: 'stdio' },
  },
  'io.modelcontextprotocol.anonymous.multi-tenant-server.json': {
    notDeployable: /it is a remote server only, hosted at https:\/\/anonymous\.modelcontextprotocol\.io\/mcp\/\{tenant_id\} \(streamable-http\)/,
  },
  'io.modelcontextprotocol.text-editor.json': { notDeployable: /mcpb bundle https:\/\/github\.com\/.*text-editor\.mcpb is an archive for desktop MCP hosts/ },
  'io.snyk.cli-mcp.json': { deploys: { image: NODE, run: ['npx', '-y', '--', 'snyk@1.1298.0', 'mcp', '-t', 'stdio'], transport: 'stdio' } },
};

/** The spec as the CLI hands it over: validated, with the schema defaults filled in. */
function userSpec(server: ServerJson, extra: Partial<MCPServerSpec> = {}): MCPServerSpec {
  const { resource, issues } = checkResource({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'srv' }, spec: { registry: { name: server.name }, ...extra } });
  if (!resource) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return resource.spec;
}

function synthesize(mapped: MappedServer): KubeObject[] {
  const { resource, issues } = checkResource({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'srv' }, spec: mapped.spec });
  expect(issues).toEqual([]);
  return desired(resource as MCPServerResource);
}

function podSpec(objects: KubeObject[]): any {
  const deployment = objects.find((o) => o.kind === 'Deployment') as any;
  expect(deployment).toBeDefined();
  return deployment.spec.template.spec;
}

/** PodSecurity `restricted`, container by container (init containers too). */
function expectRestricted(pod: any): void {
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc = c.securityContext ?? {};
    expect(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
    expect(sc.runAsUser ?? pod.securityContext?.runAsUser).not.toBe(0);
    expect((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities?.drop).toContain('ALL');
    expect(sc.capabilities?.add ?? []).toEqual([]);
  }
  expect(pod.hostNetwork ?? false).toBe(false);
  expect((pod.volumes ?? []).filter((v: any) => v.hostPath)).toEqual([]);
}

function commandLine(container: any): string[] {
  const line = [...(container.command ?? []), ...(container.args ?? [])];
  const bridged = line.indexOf('--');
  return line[0] === '/mcp-bridge/mcp-bridge' && bridged >= 0 ? line.slice(bridged + 1) : line;
}

test('the table covers every file in server-json/real', () => {
  const files = readdirSync(join(fixturesDir(), 'server-json', 'real')).filter((f) => f.endsWith('.json')).sort();
  expect(Object.keys(FIXTURES).sort()).toEqual(files);
});

describe.each(Object.entries(FIXTURES))('%s', (file, outcome) => {
  const server = realServer(file);

  if ('notDeployable' in outcome) {
    test('is not deployable, for a specific reason', () => {
      let error: unknown;
      try {
        mapServer(server, userSpec(server));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(NotDeployableError);
      expect((error as NotDeployableError).message).toContain(`${server.name}@${server.version} is not deployable: `);
      expect((error as NotDeployableError).reason).toMatch(outcome.notDeployable);
    });
    return;
  }

  const expected = outcome.deploys;
  test('synthesizes into a restricted pod running the pinned package', () => {
    const mapped = mapServer(server, userSpec(server, expected.user));
    const pod = podSpec(synthesize(mapped));
    expectRestricted(pod);
    const container = pod.containers.find((c: any) => c.name === 'mcp-server');
    expect(container.image).toBe(expected.image);
    expect(container.image).not.toMatch(/:latest$/);
    expect(commandLine(container)).toEqual(expected.run);
    expect(mapped.spec.transport?.type).toBe(expected.transport);
    if (expected.transport === 'stdio') expect(pod.initContainers?.map((c: any) => c.name)).toEqual(['install-bridge']);
    if (expected.port !== undefined) expect(container.ports).toEqual([expect.objectContaining({ containerPort: expected.port })]);
    if (expected.path !== undefined) expect(mapped.spec.transport?.path).toBe(expected.path);
    const env = Object.fromEntries((container.env as EnvVar[]).map((e) => [e.name, e.value]));
    for (const [k, v] of Object.entries(expected.env ?? {})) expect(env[k]).toBe(v);
    expect(mapped.spec.registry).toEqual({ name: server.name });
    for (const w of expected.warnings ?? []) expect(mapped.warnings.some((m) => w.test(m))).toBe(true);
  });

  if (expected.nameOnly) {
    test('with spec.registry.name alone: says exactly what is missing', () => {
      let error: unknown;
      try {
        mapServer(server, userSpec(server));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(MappingError);
      const problems = (error as MappingError).problems;
      expect(problems).toHaveLength(expected.nameOnly!.length);
      for (const [path, message] of expected.nameOnly!) {
        expect(problems.some((p) => p.path === path && message.test(p.message))).toBe(true);
      }
    });
  } else if (!expected.user) {
    test('spec.registry.name alone is enough', () => {
      expect(() => mapServer(server, userSpec(server))).not.toThrow();
    });
  }
});

describe('secrets', () => {
  const airtable = realServer('io.github.domdomegg.airtable-mcp-server.json');

  test('a plain value for a registry secret is refused, never deployed, whatever its name looks like', () => {
    // SERVICE_PAT escapes the spec's credential-name rule; the registry's isSecret still holds.
    const server = normalizeServerJson({
      name: 'io.example/pat',
      version: '1.0.0',
      packages: [{ registryType: 'npm', identifier: 'pat-server', version: '1.0.0', transport: { type: 'stdio' }, environmentVariables: [{ name: 'SERVICE_PAT', isSecret: true }] }],
    });
    const spec = userSpec(server, { env: [{ name: 'OTHER', value: 'x' }, { name: 'SERVICE_PAT', value: 'pat123.abc' }] });
    let error: unknown;
    try {
      mapServer(server, spec);
    } catch (err) {
      error = err;
    }
    expect((error as MappingError).problems).toEqual([{ path: 'spec.env[1]', message: 'SERVICE_PAT is a secret (the registry marks it isSecret): take it from valueFrom.secretKeyRef, not a plain value' }]);
  });

  test('a ConfigMap is no place for a secret either', () => {
    const spec = userSpec(airtable, { env: [{ name: 'AIRTABLE_API_KEY', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }] });
    expect(() => mapServer(airtable, spec)).toThrow(/not valueFrom\.configMapKeyRef/);
  });

  test('a secret the registry marks optional is left out unless given', () => {
    const terraform = realServer('io.github.hashicorp.terraform-mcp-server.json');
    const without = mapServer(terraform, userSpec(terraform, { command: TF_COMMAND }));
    expect(without.spec.env?.map((e) => e.name)).not.toContain('TFE_TOKEN');
    const withToken = mapServer(terraform, userSpec(terraform, { command: TF_COMMAND, env: [secretRef('TFE_TOKEN', 'tfe_token')] }));
    expect(withToken.spec.env).toContainEqual(secretRef('TFE_TOKEN', 'tfe_token'));
  });

  test('envFrom may carry required variables: a warning, not an error', () => {
    const mapped = mapServer(airtable, userSpec(airtable, { envFrom: [{ secretRef: { name: 'airtable' } }] }));
    expect(mapped.warnings).toContainEqual(expect.stringMatching(/AIRTABLE_API_KEY is not in spec\.env; assuming spec\.envFrom provides it/));
  });
});

describe('choices and formats', () => {
  const db = realServer('io.github.example.database-manager.json');
  const base = { command: ['x'], args: ['a'], env: [] as EnvVar[] };

  test('a value outside choices is an error naming the choices', () => {
    const spec = userSpec(db, { ...base, env: [{ name: 'DB_TYPE', value: 'oracle' }, { name: 'DB_USERNAME', value: 'u' }, secretRef('DB_PASSWORD', 'p'), { name: 'SSL_MODE', value: 'maybe' }] });
    try {
      mapServer(db, spec);
      throw new Error('expected a MappingError');
    } catch (err) {
      expect((err as MappingError).problems).toEqual([
        { path: 'spec.env[0].value', message: 'DB_TYPE must be one of postgres, mysql, mongodb, redis (got "oracle")' },
        { path: 'spec.env[3].value', message: 'SSL_MODE must be one of disable, prefer, require (got "maybe")' },
      ]);
    }
  });
});

describe('the user\'s spec wins', () => {
  const context7 = realServer('io.github.upstash.context7.json');

  test('image without tag (a mirror) keeps the registry tag; env by name; other fields untouched', () => {
    const mapped = mapServer(context7, userSpec(context7, {
      image: 'mirror.example/node',
      env: [{ name: 'npm_config_cache', value: '/tmp/npm' }, { name: 'EXTRA', value: '1' }],
      resources: { limits: { memory: '1Gi' } },
      replicas: 2,
    }));
    expect(mapped.spec.image).toBe('mirror.example/node');
    expect(mapped.spec.tag).toBe('24-bookworm-slim');
    expect(mapped.spec.env?.find((e) => e.name === 'npm_config_cache')?.value).toBe('/tmp/npm');
    expect(mapped.spec.env?.at(-1)).toEqual({ name: 'EXTRA', value: '1' });
    expect(mapped.spec.resources).toEqual({ limits: { memory: '1Gi' } });
    expect(mapped.spec.replicas).toBe(2);
  });

  test('command, args and transport path from the user replace the registry\'s', () => {
    const mapped = mapServer(context7, userSpec(context7, { command: ['node', 'server.js'], args: ['--x'], transport: { path: '/rpc' } }));
    expect(mapped.spec.command).toEqual(['node', 'server.js']);
    expect(mapped.spec.args).toEqual(['--x']);
    expect(mapped.spec.transport).toEqual({ type: 'stdio', path: '/rpc' });
  });

  test('a port of their own moves the {--port} argument with it', () => {
    const configurable = realServer('io.github.example.configurable-server.json');
    const mapped = mapServer(configurable, userSpec(configurable, { port: 9000 }));
    expect(mapped.spec.port).toBe(9000);
    expect(mapped.spec.args).toEqual(['--port', '9000']);
  });

  test('spec.registry.package picks the package; one the server lacks is an error on that field', () => {
    const airtable = realServer('io.github.domdomegg.airtable-mcp-server.json');
    const env = [secretRef('AIRTABLE_API_KEY', 'k')];
    const oci = mapServer(airtable, userSpec(airtable, { registry: { name: airtable.name, package: 'oci' }, command: ['node', 'dist/index.js'], env }));
    expect(oci.package.registryType).toBe('oci');
    expect(`${oci.spec.image}:${oci.spec.tag}`).toBe('docker.io/domdomegg/airtable-mcp-server:1.7.3');
    expect(() => mapServer(airtable, userSpec(airtable, { registry: { name: airtable.name, package: 'pypi' }, env })))
      .toThrow(/spec\.registry\.package: .*has no pypi package \(packages: npm, oci, mcpb\)/);
  });

  test('the oci package of filesystem: --mount is dropped and said so', () => {
    const fs = realServer('io.github.modelcontextprotocol.filesystem.json');
    const mapped = mapServer(fs, userSpec(fs, { registry: { name: fs.name, package: 'oci' }, command: ['node', '/app/dist/index.js'] }));
    expect(mapped.spec.args).toEqual(['/project']);
    expect(mapped.warnings).toContainEqual(expect.stringMatching(/^ignored docker flag --mount type=bind,src=\{source_path\},dst=\{target_path\}: host paths cannot be mounted/));
  });
});

describe('OCI references', () => {
  const doc = (pkg: Record<string, unknown>) => normalizeServerJson({ name: 'io.example/s', version: '2.0.0', packages: [{ registryType: 'oci', transport: { type: 'streamable-http', url: 'http://localhost:8000/mcp' }, ...pkg }] });
  const image = (pkg: Record<string, unknown>) => {
    const m = mapServer(doc(pkg), userSpec(doc(pkg)));
    return m.spec.tag && !m.spec.image!.includes('@') ? `${m.spec.image}:${m.spec.tag}` : m.spec.image;
  };

  test('tag from the identifier, else the package version; registryBaseUrl supplies a missing host', () => {
    expect(image({ identifier: 'ghcr.io/o/s:1.4.0' })).toBe('ghcr.io/o/s:1.4.0');
    expect(image({ identifier: 'o/s', version: '1.5.0', registryBaseUrl: 'https://docker.io' })).toBe('docker.io/o/s:1.5.0');
    expect(image({ identifier: 'localhost:5000/o/s', version: '1.6.0' })).toBe('localhost:5000/o/s:1.6.0');
    expect(image({ identifier: `ghcr.io/o/s@sha256:${'a'.repeat(64)}` })).toBe(`ghcr.io/o/s@sha256:${'a'.repeat(64)}`);
  });

  test('never :latest — replaced by the version, or refused without one', () => {
    expect(image({ identifier: 'ghcr.io/o/s:latest', version: '1.7.0' })).toBe('ghcr.io/o/s:1.7.0');
    expect(() => image({ identifier: 'ghcr.io/o/s' })).toThrow(/names no tag, digest or version; refusing to deploy an unpinned image/);
    expect(() => image({ identifier: 'ghcr.io/o/s:latest' })).toThrow(NotDeployableError);
  });

  test('a version that is a digest pins the image: repository@digest, never repository:sha256:…', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(image({ identifier: 'o/s', version: digest, registryBaseUrl: 'https://docker.io' })).toBe(`docker.io/o/s@${digest}`);
    const tagged = mapServer(doc({ identifier: 'ghcr.io/o/s:1.2.0', version: digest }), userSpec(doc({ identifier: 'ghcr.io/o/s:1.2.0', version: digest })));
    expect(tagged.spec.image).toBe(`ghcr.io/o/s@${digest}`);
    expect(tagged.packageVersion).toBe(digest);
    expect(tagged.warnings).toContainEqual(`image ghcr.io/o/s:1.2.0 is tagged 1.2.0 but the package version is the digest ${digest}; deploying the digest`);
    const other = `sha256:${'c'.repeat(64)}`;
    const both = mapServer(doc({ identifier: `ghcr.io/o/s@${other}`, version: digest }), userSpec(doc({ identifier: `ghcr.io/o/s@${other}`, version: digest })));
    expect(both.spec.image).toBe(`ghcr.io/o/s@${other}`);
    expect(both.warnings).toContainEqual(expect.stringMatching(/names the digest sha256:c+ but the package version is sha256:b+; deploying sha256:c+$/));
    expect(() => image({ identifier: 'ghcr.io/o/s', version: 'sha256:not hex!' })).toThrow(/packages\[0\]\.version "sha256:not hex!" \(digest\) is not a valid OCI digest/);
  });

  test('the test-owned 2025-07-09 digest document drops its positional image argument spelled with the digest', () => {
    const server = testServer('io.github.example.digest-pinned.json');
    const m = mapServer(server, userSpec(server));
    expect(m.spec.image).toBe('docker.io/example/digest-pinned@sha256:3f1e9c2b7a4d5e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7');
    expect(m.warnings.filter((w) => w.startsWith('ignored positional'))).toEqual([]);
  });

  test('the http port and path come from the transport URL', () => {
    const m = mapServer(doc({ identifier: 'ghcr.io/o/s:1' }), userSpec(doc({ identifier: 'ghcr.io/o/s:1' })));
    expect(m.spec.port).toBe(8000);
    expect(m.spec.transport).toEqual({ type: 'http', path: '/mcp' });
  });

  test('docker --entrypoint supplies the command a stdio image needs', () => {
    const s = normalizeServerJson({
      name: 'io.example/s',
      version: '1.0.0',
      packages: [{ registryType: 'oci', identifier: 'ghcr.io/o/s:1.0.0', transport: { type: 'stdio' }, runtimeArguments: [{ type: 'named', name: '--entrypoint', value: '/bin/server' }, { type: 'named', name: '--privileged' }] }],
    });
    const m = mapServer(s, userSpec(s));
    expect(m.spec.command).toEqual(['/bin/server']);
    expect(m.warnings).toContainEqual(expect.stringMatching(/ignored docker flag --privileged: the pod runs restricted/));
  });
});

describe('normalization', () => {
  test('snake_case keys are renamed, variable names are not', () => {
    const s = normalizeServerJson({
      name: 'io.example/s',
      version: '1',
      website_url: 'https://x',
      packages: [{
        registry_type: 'npm',
        identifier: 'x',
        version: '1',
        transport: { type: 'stdio' },
        package_arguments: [{ type: 'named', name: '--dir', value: '{source_path}', variables: { source_path: { is_required: true, default: '/d' } } }],
        environment_variables: [{ name: 'A_B', is_secret: true }],
      }],
      _meta: { some_vendor: { keep_me: 1 } },
    });
    const pkg = s.packages![0]!;
    expect(s.websiteUrl).toBe('https://x');
    expect(pkg.packageArguments![0]!.variables).toEqual({ source_path: { isRequired: true, default: '/d' } });
    expect(pkg.environmentVariables).toEqual([{ name: 'A_B', isSecret: true }]);
    expect(s._meta).toEqual({ some_vendor: { keep_me: 1 } });
  });

  test('the two mobile-mcp documents (2025-09-29 and 2025-07-09 shapes) map the same way', () => {
    const a = mapServer(realServer('io.github.mobile-next.mobile-mcp.json'), userSpec(realServer('io.github.mobile-next.mobile-mcp.json')));
    const b = mapServer(realServer('io.github.mobile-next.mobile-mcp@0.0.26.json'), userSpec(realServer('io.github.mobile-next.mobile-mcp@0.0.26.json')));
    expect({ ...a.spec, command: undefined }).toEqual({ ...b.spec, command: undefined });
  });
});

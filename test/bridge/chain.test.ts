/**
 * The whole chain for stdio servers, from YAML to a working MCP endpoint: synthesize an MCPServer,
 * run its init container's command (the single-executable bridge installing itself into the shared
 * volume) and then its main container's command, as local processes, and talk MCP to the result.
 * The only changes to the synthesized commands are path prefixes (the pod's /mcp-bridge volume is a
 * temp dir here) and `--host 127.0.0.1`, so nothing listens beyond loopback.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { descendantsOf, EVERYTHING, expectProcessesBackTo, ROOT } from './helpers';
import { verifyServer } from '../../lib/bridge/verify';
import { cli } from '../support/cli';
import { FakeRegistry } from '../support/registry-server';

type Obj = Record<string, any>;

const EVERYTHING_VERSION: string = JSON.parse(readFileSync(join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/package.json'), 'utf8')).version;
let work: string;
let seaDir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'mcp-chain-'));
  seaDir = join(work, 'image', 'opt', 'mcp-operator');
  // The project image holds the bridge at /opt/mcp-operator/mcp-bridge (see Dockerfile).
  execFileSync('bash', [join(ROOT, 'hack/build-bridge.sh')], { env: { ...process.env, OUT: seaDir }, stdio: 'ignore', timeout: 120_000 });
}, 150_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function synthesize(yamlText: string, extraArgs: string[] = []): Promise<Obj> {
  const file = join(work, `server-${Date.now()}.yaml`);
  writeFileSync(file, yamlText);
  const result = await cli(['synth', '-f', file, '--format', 'json', '--cache-dir', join(work, 'cache'), '--lockfile', join(work, 'mcp-lock.yaml'), ...extraArgs]);
  expect(result.stderr).not.toMatch(/error/);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout).items.find((o: Obj) => o.kind === 'Deployment');
}

/** Maps the pod's paths to this machine's: /opt/mcp-operator is the image, /mcp-bridge the emptyDir. */
function local(path: string, volume: string): string {
  return path.replace(/^\/opt\/mcp-operator\//, `${seaDir}/`).replace(/^\/mcp-bridge\//, `${volume}/`);
}

/** Runs the init container's command, then starts the main container's command. */
function runPod(deployment: Obj): { child: ChildProcess; volume: string } {
  const pod = deployment.spec.template.spec;
  const volume = join(work, `volume-${Math.random().toString(16).slice(2)}`);
  mkdirSync(volume);
  const init = pod.initContainers[0];
  execFileSync(local(init.command[0], volume), init.args.map((a: string) => local(a, volume)), { stdio: 'ignore', timeout: 30_000 });
  const main = pod.containers[0];
  // What the kubelet does: downward-API fields resolved, then $(VAR) in args expanded from the env.
  const fields: Record<string, string> = { 'metadata.namespace': 'default', 'status.podIP': '127.0.0.1' };
  const env: Record<string, string> = Object.fromEntries(
    (main.env as Obj[])
      .map((e) => [e.name, e.value ?? fields[(e.valueFrom as { fieldRef?: { fieldPath: string } } | undefined)?.fieldRef?.fieldPath ?? '']])
      .filter(([, value]) => value !== undefined),
  );
  const [sub, ...rest] = (main.args as string[]).map((arg) => arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, name: string) => env[name] ?? ref));
  const child = spawn(local(main.command[0], volume), [sub!, '--host', '127.0.0.1', ...rest], {
    cwd: ROOT,
    // HOME is an emptyDir in the pod; npx resolves the package from the project like an image's cache would.
    env: { ...process.env, ...env, HOME: join(volume, 'home'), npm_config_cache: join(work, 'npm-cache'), npm_config_offline: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { child, volume };
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`bridge exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return;
      last = await res.text();
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`bridge not ready within 60 s: ${last}`);
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

async function callEcho(url: string): Promise<string> {
  const client = new Client({ name: 'chain-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    const result = await client.callTool({ name: 'echo', arguments: { message: 'through the chain' } });
    return (result.content as Array<{ text: string }>)[0]!.text;
  } finally {
    await client.close();
  }
}

describe('stdio server: YAML → synthesized pod commands → MCP over HTTP', () => {
  test('a seed-style stdio command', async () => {
    const baseline = descendantsOf();
    const port = await freePort();
    const deployment = await synthesize([
      'apiVersion: mcp.io/v1',
      'kind: MCPServer',
      'metadata: {name: everything}',
      'spec:',
      '  image: node',
      '  tag: 24-bookworm-slim',
      `  port: ${port}`,
      '  transport: {type: stdio}',
      `  command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EVERYTHING)}]`,
      '  args: [stdio]',
    ].join('\n'));
    expect(deployment.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    const { child } = runPod(deployment);
    try {
      await waitReady(port, child);
      const url = `http://127.0.0.1:${port}/mcp`;
      const verified = await verifyServer(url, { timeoutMs: 30_000 });
      expect(verified.ok).toBe(true);
      expect(verified.tools?.map((t) => t.name)).toContain('echo');
      expect(await callEcho(url)).toContain('through the chain');
    } finally {
      expect(await stop(child)).toBe(0);
    }
    await expectProcessesBackTo(baseline);
  });

  test('a server named only by its MCP Registry entry (npm package, stdio transport)', async () => {
    const baseline = descendantsOf();
    const fixtures = join(work, 'registry');
    mkdirSync(join(fixtures, 'server-json', 'real'), { recursive: true });
    writeFileSync(join(fixtures, 'server-json', 'real', 'io.github.modelcontextprotocol.everything.json'), JSON.stringify({
      $schema: 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json',
      name: 'io.github.modelcontextprotocol/everything',
      description: 'MCP server that exercises all the features of the MCP protocol',
      version: EVERYTHING_VERSION,
      packages: [{
        registryType: 'npm',
        identifier: '@modelcontextprotocol/server-everything',
        version: EVERYTHING_VERSION,
        transport: { type: 'stdio' },
        packageArguments: [{ type: 'positional', value: 'stdio' }],
      }],
    }));
    const registry = await FakeRegistry.start(fixtures);
    const port = await freePort();
    let deployment: Obj;
    try {
      deployment = await synthesize([
        'apiVersion: mcp.io/v1',
        'kind: MCPServer',
        'metadata: {name: everything}',
        'spec:',
        `  port: ${port}`,
        '  registry: {name: io.github.modelcontextprotocol/everything}',
      ].join('\n'), ['--registry-url', registry.url]);
    } finally {
      await registry.stop();
    }
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('node:24-bookworm-slim');
    expect(container.args.slice(container.args.indexOf('--'))).toEqual(['--', 'npx', '-y', '--', `@modelcontextprotocol/server-everything@${EVERYTHING_VERSION}`, 'stdio']);
    const { child } = runPod(deployment);
    try {
      await waitReady(port, child);
      expect(await callEcho(`http://127.0.0.1:${port}/mcp`)).toContain('through the chain');
    } finally {
      expect(await stop(child)).toBe(0);
    }
    await expectProcessesBackTo(baseline);
  });
});

/**
 * The controller against tenant-chosen registries, on the real API server: `spec.registry.url` off the
 * allow-list is refused before any request (terminal, in status and as an event), and an allowed
 * registry that streams endlessly cannot push the controller process past its installed memory limit.
 */
import { spawn } from 'child_process';
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { HostilePeer, MIB, rssOf } from './support/net-servers';
import { MCP_SERVER } from '../../lib/controller/kube';
import { registryResolveHook } from '../../lib/controller/resolve';
import {
  closeTestClient, delay, freshNamespace, getObject, installCrd, kc, kcJson, mcpServer, reconciles, startTestController, TestController, waitFor,
} from '../controller/support';
import { kubeconfigPath, REPO_ROOT } from '../support/control-plane';

jest.setTimeout(120_000);

beforeAll(installCrd);
afterAll(closeTestClient);

/** The limit the installed controller Deployment has (lib/install/operator.ts), and its V8 flag. */
const INSTALLED_MEMORY_LIMIT = 256 * MIB;

function condition(status: any, type: string): any {
  return (status?.conditions ?? []).find((c: any) => c.type === type);
}

async function registryCondition(ns: string, name: string, reason: string): Promise<any> {
  return waitFor(`${name}: RegistryResolved reason ${reason}`, async () => {
    const cr: any = await getObject(MCP_SERVER, ns, name);
    const c = condition(cr?.status, 'RegistryResolved');
    return c?.reason === reason && cr?.status?.observedGeneration === cr?.metadata.generation ? { cr, condition: c } : undefined;
  }, 60_000, 200);
}

describe('spec.registry.url allow-list (in-process controller)', () => {
  let ns: string;
  let controller: TestController;
  let allowed: HostilePeer;
  let other: HostilePeer;

  beforeAll(async () => {
    allowed = await HostilePeer.start((_req, res) => void res.end('{}'));
    other = await HostilePeer.start((_req, res) => void res.end('{}'));
    ns = await freshNamespace('net-allow');
    controller = await startTestController(ns, 'net-allow', {
      resolve: registryResolveHook({ registryUrl: allowed.url, cacheDir: mkdtempSync(join(tmpdir(), 'net-cache-')) }),
    });
  });

  afterAll(async () => {
    await controller?.stop();
    await allowed?.close();
    await other?.close();
  });

  test('a URL off the list is refused before any request: RegistryNotAllowed in status and as an event, not requeued', async () => {
    await kc(['apply', '-n', ns, '-f', '-'], JSON.stringify(mcpServer('tenant', { registry: { name: 'io.example/x', url: `${other.url}/internal/` } })));
    const { cr, condition: c } = await registryCondition(ns, 'tenant', 'RegistryNotAllowed');
    expect(c.status).toBe('False');
    expect(c.message).toBe(`tenant: spec.registry.url ${other.url}/internal is not an allowed registry; this controller asks only ${allowed.url} (the operator can allow more with --allowed-registry-url)`);
    expect(cr.status.phase).toBe('Failed');
    expect(other.requests).toBe(0);
    expect(allowed.requests).toBe(0);
    const events = await waitFor('the RegistryNotAllowed event', async () => {
      const list = await kcJson(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=tenant,reason=RegistryNotAllowed']);
      return list.items.length > 0 ? list.items : undefined;
    });
    expect(events[0].type).toBe('Warning');
    expect(events[0].message).toMatch(new RegExp(`^${c.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(reconcileID [0-9a-f-]{36}\\)$`));
    // Terminal: no retry with backoff keeps reconciling it.
    const before = await reconciles(controller);
    await delay(3_000);
    expect(await reconciles(controller)).toBe(before);
    expect(other.requests).toBe(0);
  });
});

interface RssSample {
  readonly at: number;
  readonly rss: number;
}

describe('an allowed registry that streams endlessly (controller process)', () => {
  test('RSS stays under the installed 256Mi limit; every server fails with RegistryAnswerTooLarge; requests bounded', async () => {
    const SERVERS = 12;
    const ROUNDS = 3;
    const registry = await HostilePeer.start(async (_req, res, peer) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"server": {"name": "io.example/endless", "description": "');
      await peer.stream(res, Buffer.alloc(64 * 1024, 0x61), 512 * MIB);
    });
    const unused = await HostilePeer.start((_req, res) => void res.end('{}'));
    const ns = await freshNamespace('net-endless');
    // As the installed Deployment runs it: the same V8 flag, the real CLI, its default concurrency.
    const child = spawn(process.execPath, [
      '--max-semi-space-size=2', join(REPO_ROOT, 'bin/mcp-operator.js'), 'controller',
      '--kubeconfig', kubeconfigPath(), '--namespace', ns, '--registry-url', unused.url, '--allowed-registry-url', registry.url,
      '--metrics-bind-address', '0', '--health-probe-bind-address', '0', '--log-level', 'warn',
    ], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'net-home-')) } });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const samples: RssSample[] = [];
    const started = Date.now();
    const sampler = setInterval(() => {
      try {
        samples.push({ at: Date.now() - started, rss: rssOf(child.pid!) });
      } catch {
        // the process is gone; the exit check below reports it
      }
    }, 100);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const items = Array.from({ length: SERVERS }, (_, i) => ({
          ...mcpServer(`endless-${i}`, { registry: { name: 'io.example/endless', version: `1.0.${round}`, url: registry.url } }),
        }));
        await kc(['apply', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
        for (let i = 0; i < SERVERS; i++) {
          const { condition: c } = await waitFor(`endless-${i} round ${round}`, async () => {
            const cr: any = await getObject(MCP_SERVER, ns, `endless-${i}`);
            const cond = condition(cr?.status, 'RegistryResolved');
            return cr?.status?.observedGeneration === cr?.metadata.generation && cond?.reason === 'RegistryAnswerTooLarge' ? { condition: cond } : undefined;
          }, 90_000, 200);
          expect(c.message).toContain('the registry answer is larger than 8 MiB; refusing to read more');
        }
      }
      expect(child.exitCode).toBeNull();
    } finally {
      clearInterval(sampler);
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      await registry.close();
      await unused.close();
    }
    const peak = samples.reduce((max, s) => Math.max(max, s.rss), 0);
    const first = samples[0]?.rss ?? 0;
    process.stderr.write(`[controller-registry] ${samples.length} RSS samples over ${Date.now() - started} ms: first ${(first / MIB).toFixed(1)} MiB, peak ${(peak / MIB).toFixed(1)} MiB; `
      + `${registry.requests} registry requests, ${(registry.bytesSent / MIB).toFixed(1)} MiB sent\n`);
    expect(samples.length).toBeGreaterThan(10);
    expect(peak).toBeLessThan(INSTALLED_MEMORY_LIMIT);
    // One request per server and round (too-large is not retried), plus at most one extra per server
    // for reconciles that overlapped a round's update.
    expect(registry.requests).toBeGreaterThanOrEqual(SERVERS * ROUNDS);
    expect(registry.requests).toBeLessThanOrEqual(SERVERS * ROUNDS * 2);
    expect(stderr).not.toMatch(/heap out of memory|FATAL/i);
  });
});

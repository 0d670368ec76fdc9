import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import {
  bundleStandalone,
  connectStreamable,
  freePort,
  descendantsOf,
  EVERYTHING,
  everything,
  expectProcessesBackTo,
  listeningUrl,
  processExists,
  runNode,
  spawnNode,
  startTestBridge,
  textOf,
  waitFor,
  type Spawned,
} from './helpers';
import type { BridgeHandle } from '../../lib/bridge';

// The bridge as a process: the standalone entry bundled exactly as hack/build-bridge.sh does,
// run under node, signalled like Kubernetes signals a container.

let bundle: string;
let baseline: number[];

beforeAll(async () => {
  bundle = await bundleStandalone();
});

afterAll(() => {
  rmSync(dirname(bundle), { recursive: true, force: true });
});

beforeEach(() => {
  baseline = descendantsOf();
});

afterEach(async () => {
  await expectProcessesBackTo(baseline);
});

function serve(extra: readonly string[]): Spawned {
  return spawnNode([bundle, 'serve', '--host', '127.0.0.1', '--port', '0', '--kill-grace', '1', ...extra, '--', process.execPath, EVERYTHING, 'stdio']);
}

async function exitWithin(child: Spawned, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), ms);
  const exit = await child.exited;
  clearTimeout(timer);
  return exit;
}

describe('SIGTERM', () => {
  test('drains: requests in flight finish, new sessions are refused, children are killed, exit 0', async () => {
    const bridge = serve(['--pool', '1', '--grace', '15']);
    const url = await listeningUrl(bridge);
    await waitFor(async () => (await fetch(new URL('/readyz', url))).status === 200, 'the subprocess bridge to be ready');
    const busy = await connectStreamable(url);
    const idle = await connectStreamable(url);
    const progress: number[] = [];
    const call = busy.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    await waitFor(() => progress.length > 0, 'the long call to report progress');
    const children = descendantsOf(bridge.proc.pid);
    expect(children.length).toBeGreaterThanOrEqual(3); // pool + two sessions

    const signalledAt = Date.now();
    bridge.proc.kill('SIGTERM');
    await waitFor(() => bridge.stderr().includes('"msg":"draining"'), 'the bridge to start draining');

    const refused = await connectStreamable(url).then(
      () => 'connected',
      (err: unknown) => String(err),
    );
    expect(refused).not.toBe('connected');

    expect(textOf(await call)).toContain('Long running operation completed');
    expect(progress).toEqual([1, 2, 3, 4]);
    const exit = await exitWithin(bridge, 15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    // It left as soon as the last request finished, not at the end of the 15 s grace.
    expect(Date.now() - signalledAt).toBeLessThan(8000);
    for (const pid of children) expect(processExists(pid)).toBe(false);
    expect(bridge.stderr()).toContain('"msg":"mcp bridge stopped"');
    await Promise.all([busy.client.close(), idle.client.close()]);
  });

  test('a request still running when the grace period ends is failed with a clear error', async () => {
    const bridge = serve(['--pool', '0', '--grace', '1']);
    const url = await listeningUrl(bridge);
    const conn = await connectStreamable(url);
    const call = conn.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } });
    const children = descendantsOf(bridge.proc.pid);
    await new Promise((r) => setTimeout(r, 300));

    bridge.proc.kill('SIGTERM');
    await expect(call).rejects.toThrow('the bridge is shutting down');
    expect(await exitWithin(bridge, 10_000)).toEqual({ code: 0, signal: null });
    for (const pid of children) expect(processExists(pid)).toBe(false);
    await conn.client.close();
  });
});

describe('command line', () => {
  test('usage errors exit 2, --help exits 0', async () => {
    const missing = await runNode([bundle, 'serve']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'command'");

    const badPort = await runNode([bundle, 'serve', '--port', 'http', '--', 'x']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be an integer from 0 to 65535');

    const badUrl = await runNode([bundle, 'verify', 'not a url']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('not a URL');

    const badFormat = await runNode([bundle, 'verify', 'http://127.0.0.1:1/mcp', '-o', 'xml']);
    expect(badFormat.code).toBe(2);

    const help = await runNode([bundle, 'serve', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--port', '--host', '--path', '--pool', '--max-sessions', '--idle-timeout', '--grace']) expect(help.stdout).toContain(flag);
  });

  test('serve exits 1 when it cannot listen', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const result = await runNode([bundle, 'serve', '--host', '127.0.0.1', '--port', String(port), '--', process.execPath, EVERYTHING, 'stdio']);
    blocker.close();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the bridge could not start');
    expect(result.stderr).toContain('EADDRINUSE');
  });

  test('verify exits 0 for a working server (text and json) and 1 with the reason otherwise', async () => {
    let bridge: BridgeHandle | undefined = await startTestBridge({ ...everything(), poolSize: 1 });
    try {
      const text = await runNode([bundle, 'verify', bridge.url]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^OK\s+http:\/\/127\.0\.0\.1:\d+\/mcp$/m);
      expect(text.stdout).toMatch(/^server\s+mcp-servers\/everything 2\.0\.0/m);
      expect(text.stdout).toMatch(/^echo\s+Echoes back the input string$/m);

      const json = await runNode([bundle, 'verify', bridge.sseUrl, '-o', 'json']);
      expect(json.code).toBe(0);
      const parsed = JSON.parse(json.stdout) as { ok: boolean; transport: string; tools: { name: string }[] };
      expect(parsed).toMatchObject({ ok: true, transport: 'sse' });
      expect(parsed.tools.map((tool) => tool.name)).toContain('echo');
    } finally {
      await bridge.close({ graceMs: 0 });
      bridge = undefined;
    }

    const port = await freePort();
    const refused = await runNode([bundle, 'verify', `http://127.0.0.1:${port}/mcp`, '--timeout', '5']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`reason     connection-refused: connection refused by 127.0.0.1:${port} (nothing is listening there)`);
  });

  test('install refuses to run outside the single executable', async () => {
    const result = await runNode([bundle, 'install', '/tmp/should-not-exist-mcp-bridge']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('install only works from the single executable');
  });
});

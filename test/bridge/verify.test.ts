import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeBridgesAfterEach, everything, fixture, freePort, startTestBridge, waitFor } from './helpers';
import { verifyServer, type BridgeHandle } from '../../lib/bridge';

// verifyServer is what a controller calls to decide whether a deployed server works: it must
// say yes to real MCP servers and give a classified reason for everything else.

let bridge: BridgeHandle | undefined;
let http: Server | undefined;

closeBridgesAfterEach(async () => {
  http?.closeAllConnections();
  await new Promise((resolveClose) => (http ? http.close(resolveClose) : resolveClose(undefined)));
  http = undefined;
});

async function serveHttp(listener: RequestListener): Promise<string> {
  http = createServer(listener);
  await new Promise<void>((resolveListen) => http!.listen(0, '127.0.0.1', resolveListen));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
}

describe('working servers', () => {
  test('streamable HTTP: server, protocol version, capabilities and tools; the session is deleted afterwards', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const result = await verifyServer(bridge.url, { timeoutMs: 15_000 });
    expect(result).toMatchObject({
      ok: true,
      url: bridge.url,
      transport: 'streamable-http',
      server: { name: 'mcp-servers/everything', version: '2.0.0', title: 'Everything Reference Server' },
      protocolVersion: '2025-11-25',
    });
    expect(result.error).toBeUndefined();
    expect(result.capabilities).toEqual(expect.arrayContaining(['tools', 'resources', 'prompts']));
    expect(result.tools.find((tool) => tool.name === 'echo')).toEqual({ name: 'echo', title: 'Echo Tool', description: 'Echoes back the input string' });
    // verify sent DELETE, so the bridge freed the server process at once.
    await waitFor(() => bridge!.stats().sessions.length === 0, 'the verify session to be deleted', 3000);
  });

  test('a legacy SSE endpoint is found by falling back after the POST is refused', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const result = await verifyServer(bridge.sseUrl, { timeoutMs: 15_000 });
    expect(result).toMatchObject({ ok: true, transport: 'sse', server: { name: 'mcp-servers/everything' } });
    expect(result.tools.length).toBeGreaterThan(5);
  });
});

describe('not working', () => {
  test('connection refused', async () => {
    const port = await freePort();
    const result = await verifyServer(`http://127.0.0.1:${port}/mcp`, { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: false, tools: [], error: { kind: 'connection-refused', message: `connection refused by 127.0.0.1:${port} (nothing is listening there)` } });
  });

  test('HTTP 404 on both transports', async () => {
    const url = await serveHttp((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page');
    });
    const result = await verifyServer(url, { timeoutMs: 5000 });
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({ kind: 'http-status', httpStatus: 404 });
    expect(result.error!.message).toContain('HTTP 404 for POST /mcp (streamable-http)');
    expect(result.error!.message).toContain('HTTP 404 for GET /mcp (sse)');
  });

  test('a web page is not an MCP server', async () => {
    const url = await serveHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>hello</body></html>');
    });
    const result = await verifyServer(url, { timeoutMs: 5000 });
    expect(result.error?.kind).toBe('not-mcp');
    expect(result.error?.message).toContain('Unexpected content type: text/html');
  });

  test('JSON that is not JSON-RPC is not an MCP server', async () => {
    const url = await serveHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
    });
    const result = await verifyServer(url, { timeoutMs: 5000 });
    expect(result.error?.kind).toBe('not-mcp');
  });

  test('a server that never answers times out within the limit', async () => {
    const url = await serveHttp(() => {
      // accept the request and say nothing
    });
    const started = Date.now();
    const result = await verifyServer(url, { timeoutMs: 800 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result.error).toEqual({ kind: 'timeout', message: expect.stringMatching(/^no MCP answer from 127\.0\.0\.1:\d+ within 800 ms$/) as unknown });
  });

  test('a bridge whose server hangs on initialize reports the bridge timeout', async () => {
    bridge = await startTestBridge({ ...fixture('silent-server.js'), poolSize: 0, initTimeoutMs: 500, probeRetryMs: 60_000 });
    const result = await verifyServer(bridge.url, { timeoutMs: 5000 });
    expect(result.error?.kind).toBe('timeout');
    expect(result.error?.message).toContain('MCP server did not answer initialize within 500 ms');
  });

  test('not an http(s) URL', async () => {
    expect((await verifyServer('ftp://example.invalid/mcp')).error).toEqual({ kind: 'invalid-url', message: '"ftp://example.invalid/mcp" is not an http(s) URL' });
    expect((await verifyServer('nonsense')).error?.kind).toBe('invalid-url');
  });
});

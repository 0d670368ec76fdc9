import { request, type IncomingMessage } from 'node:http';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { BridgeHandle } from '../../lib/bridge';
import { AccessPolicy, sessionFingerprint } from '../../lib/bridge/access';
import { closeBridgesAfterEach, connectSse, connectStreamable, disconnect, everything, LogCapture, startTestBridge, waitFor } from '../bridge/helpers';

// DNS rebinding (a hostile page whose domain now resolves to the bridge), foreign origins, and
// a session id used by someone other than the client that opened it.

jest.setTimeout(60_000);
closeBridgesAfterEach();

const MCP = { 'content-type': 'application/json', 'accept': 'application/json, text/event-stream' };
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'h', version: '1' } } });

/** A raw request: fetch() will not let a test set Host. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: string;
}

function send(bridge: BridgeHandle, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, method, path, headers, setHost: !('host' in headers) }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        // An SSE answer stays open: its first event is all a test needs.
        if (res.headers['content-type'] === 'text/event-stream' && text.includes('\n\n')) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Host', () => {
  test('a rebound name gets 421 with a JSON-RPC error on every endpoint; loopback names pass', async () => {
    const bridge = await startTestBridge({ ...everything(), poolSize: 0 });
    for (const [method, path] of [['POST', '/mcp'], ['GET', '/sse'], ['POST', '/messages?sessionId=x'], ['GET', '/metrics'], ['GET', '/readyz']] as const) {
      const res = await send(bridge, method, path, { ...MCP, host: `attacker.example:${bridge.port}` }, method === 'POST' ? INIT : undefined);
      expect(res.status).toBe(421);
      expect(JSON.parse(res.body)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: expect.stringContaining('does not answer for host "attacker.example:'), data: { reason: 'host-not-allowed' } },
      });
    }
    for (const host of [`localhost:${bridge.port}`, `127.0.0.1:${bridge.port}`, `[::1]:${bridge.port}`, 'app.localhost']) {
      expect((await send(bridge, 'GET', '/healthz', { host })).status).toBe(200);
    }
    const metrics = await bridge.metrics.metrics();
    expect(metrics).toMatch(/mcp_bridge_requests_refused_total\{reason="host-not-allowed"\} 5/);
  });

  test('allowed names, wildcards and ports; the pod IP lets kubelet probes through', async () => {
    const bridge = await startTestBridge({ ...everything(), poolSize: 0, allowedHosts: ['mcp.tools.svc', '*.example.org', 'fixed.example:8443', '10.1.2.3'] });
    const cases: [string, number][] = [
      ['mcp.tools.svc', 200],
      ['MCP.tools.svc.:8080', 200],
      ['a.b.example.org', 200],
      ['example.org', 421],
      ['fixed.example:8443', 200],
      ['fixed.example:8080', 421],
      // What the kubelet sends for an httpGet probe without `host` (the pod IP and port), and what a
      // client of the ClusterIP sends: addresses, which no rebinding page can put in Host.
      ['10.1.2.3:8080', 200],
      ['10.96.7.8:8080', 200],
      ['mcp.tools.svc.attacker.example', 421],
    ];
    for (const [host, status] of cases) {
      expect([host, (await send(bridge, 'GET', '/readyz', { host })).status === 421 ? 421 : 200]).toEqual([host, status]);
    }
  });
});

describe('Origin', () => {
  test('a foreign Origin gets 403 (MCP spec); none, a listed one, or a loopback page on a loopback bind pass', async () => {
    const bridge = await startTestBridge({ ...everything(), poolSize: 0, allowedOrigins: ['https://app.example.com'] });
    const host = `127.0.0.1:${bridge.port}`;
    const refused = await send(bridge, 'POST', '/mcp', { ...MCP, host, origin: 'http://attacker.example' }, INIT);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toEqual({ code: -32000, message: expect.stringContaining('origin "http://attacker.example" are not allowed'), data: { reason: 'origin-not-allowed' } });
    expect((await send(bridge, 'GET', '/sse', { host, origin: 'null', accept: 'text/event-stream' })).status).toBe(403);
    for (const origin of ['https://app.example.com', 'http://localhost:6274', undefined]) {
      const res = await send(bridge, 'POST', '/mcp', { ...MCP, host, ...(origin ? { origin } : {}) }, INIT);
      expect([origin, res.status]).toEqual([origin, 200]);
      await send(bridge, 'DELETE', '/mcp', { host, 'mcp-session-id': res.headers['mcp-session-id'] as string });
    }
  });

  test('loopback origins are not trusted when the bridge is bound for a network (pods)', () => {
    // The policy alone: a test must not listen on a non-loopback address.
    const policy = new AccessPolicy('0.0.0.0', ['mcp.tools.svc'], []);
    const check = (headers: Record<string, string>) => policy.check({ headers } as unknown as IncomingMessage)?.status;
    expect(check({ host: 'mcp.tools.svc:8080' })).toBeUndefined();
    expect(check({ host: 'mcp.tools.svc:8080', origin: 'http://localhost:6274' })).toBe(403);
    expect(check({ host: 'localhost:8080' })).toBeUndefined(); // kubectl port-forward
    // Addresses are not DNS names and cannot be rebound: the Service's ClusterIP, a NodePort, a load balancer.
    expect(check({ host: '10.96.135.197:8080' })).toBeUndefined();
    expect(check({ host: '[fd00::1]:8080' })).toBeUndefined();
    expect(check({ host: 'rebound.attacker.example:8080' })).toBe(421);
    expect(check({})).toBe(400);
  });
});

describe('session ids are credentials', () => {
  test('a session opened with credentials refuses other credentials (404, as for no session) and keeps working for its owner', async () => {
    const bridge = await startTestBridge({ ...everything(), poolSize: 0 });
    const host = `127.0.0.1:${bridge.port}`;
    const opened = await send(bridge, 'POST', '/mcp', { ...MCP, host, authorization: 'Bearer alice' }, INIT);
    expect(opened.status).toBe(200);
    const sessionId = opened.headers['mcp-session-id'] as string;
    const session = { host, 'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    const call = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'mine' } } });
    const thieves: Record<string, string>[] = [{ authorization: 'Bearer mallory' }, {}];
    for (const thief of thieves) {
      for (const method of ['POST', 'GET', 'DELETE']) {
        const res = await send(bridge, method, '/mcp', { ...MCP, ...session, ...thief }, method === 'POST' ? call : undefined);
        expect([method, res.status, JSON.parse(res.body).error.message]).toEqual([method, 404, 'Session not found']);
      }
    }
    const own = await send(bridge, 'POST', '/mcp', { ...MCP, ...session, authorization: 'Bearer alice' }, call);
    expect(own.status).toBe(200);
    expect(own.body).toContain('Echo: mine');
    expect(await bridge.metrics.metrics()).toMatch(/mcp_bridge_requests_refused_total\{reason="identity-mismatch"\} 6/);
  });

  test('legacy SSE: POST /messages with another identity is refused, the owner still gets through', async () => {
    const bridge = await startTestBridge({ ...everything(), poolSize: 0 });
    const host = `127.0.0.1:${bridge.port}`;
    let events = '';
    const opened = new Promise<{ destroy(): void }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: bridge.port, path: '/sse', headers: { accept: 'text/event-stream', authorization: 'Bearer alice' } }, (stream) => {
        stream.on('data', (chunk: Buffer) => {
          events += chunk.toString('utf8');
          if (events.includes('sessionId=')) resolve(stream);
        });
      });
      req.on('error', reject);
      req.end();
    });
    const stream = await opened;
    const id = /sessionId=([0-9a-f-]+)/.exec(events)![1]!;
    const post = (authorization: string): Promise<{ status: number; body: string }> =>
      send(bridge, 'POST', `/messages?sessionId=${id}`, { host, 'content-type': 'application/json', authorization }, INIT);
    const other = await post('Bearer mallory');
    expect([other.status, JSON.parse(other.body).error.message]).toEqual([404, 'Session not found']);
    expect((await post('Bearer alice')).status).toBe(202);
    await waitFor(() => events.includes('"id":1'), 'the owner to get the initialize answer on its stream');
    stream.destroy();
  });

  test('no log line carries a session id, only its fingerprint', async () => {
    const logs = new LogCapture();
    const bridge = await startTestBridge({ ...everything(), poolSize: 0 }, logs);
    const streamable = await connectStreamable(bridge.url);
    const sse = await connectSse(bridge.sseUrl);
    await streamable.client.callTool({ name: 'echo', arguments: { message: 'x' } });
    await sse.client.callTool({ name: 'echo', arguments: { message: 'x' } });
    const ids = [streamable.transport.sessionId!, (sse.transport as unknown as { _endpoint: URL })._endpoint.searchParams.get('sessionId')!];
    // A request that fails on a legacy SSE URL must not log its query string either.
    await send(bridge, 'POST', `/messages?sessionId=${ids[1]}`, { 'host': `127.0.0.1:${bridge.port}`, 'content-type': 'application/json' }, '{not json');
    await disconnect(streamable);
    await disconnect(sse);
    const text = JSON.stringify(logs.lines);
    for (const id of ids) {
      expect(text).not.toContain(id);
      expect(text).toContain(sessionFingerprint(id));
    }
  });
});

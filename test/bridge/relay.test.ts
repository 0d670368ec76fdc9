import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateMessageRequestSchema, InitializeResultSchema, LATEST_PROTOCOL_VERSION, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  connectSse,
  connectStreamable,
  closeBridgesAfterEach,
  disconnect,
  everything,
  descendantsOf,
  filesystem,
  LogCapture,
  metric,
  metricsText,
  processExists,
  startTestBridge,
  tempDir,
  textOf,
  waitFor,
} from './helpers';
import type { BridgeHandle } from '../../lib/bridge';
import { sessionFingerprint } from '../../lib/bridge/access';

// End-to-end relaying through the bridge to real stdio MCP servers, with real SDK clients.

let bridge: BridgeHandle | undefined;

closeBridgesAfterEach();

describe('streamable HTTP', () => {
  test('initialize, tools/list and tools/call reach server-everything; DELETE kills its process', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const conn = await connectStreamable(bridge.url);
    expect(conn.client.getServerVersion()?.name).toBe('mcp-servers/everything');
    expect(conn.transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const tools = await conn.client.listTools();
    expect(tools.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    const echo = await conn.client.callTool({ name: 'echo', arguments: { message: 'hello through the bridge' } });
    expect(textOf(echo)).toBe('Echo: hello through the bridge');
    const sum = await conn.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
    expect(textOf(sum)).toContain('42');

    const [session] = bridge.stats().sessions;
    expect(session).toMatchObject({ transport: 'streamable-http', initialized: true, warm: true });
    const pid = session!.pid!;
    expect(processExists(pid)).toBe(true);

    await disconnect(conn);
    await waitFor(() => !processExists(pid), `session child ${pid} to be killed and reaped`);
    expect(bridge.stats().sessions).toHaveLength(0);

    // The spec's answer to a dead session is 404, and ours says why.
    const late = await fetch(bridge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept': 'application/json, text/event-stream', 'mcp-session-id': session!.id },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(late.status).toBe(404);
    expect(((await late.json()) as { error: { message: string } }).error.message).toBe('Session not found: the client ended the session');
  });

  test('concurrent sessions each get their own server process', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 2 });
    const conns = await Promise.all([0, 1, 2, 3].map(() => connectStreamable(bridge!.url)));
    const answers = await Promise.all(conns.map((conn, i) => conn.client.callTool({ name: 'echo', arguments: { message: `client ${i}` } })));
    expect(answers.map(textOf)).toEqual(['Echo: client 0', 'Echo: client 1', 'Echo: client 2', 'Echo: client 3']);

    const sessions = bridge.stats().sessions;
    expect(sessions).toHaveLength(4);
    const pids = sessions.map((session) => session.pid);
    expect(new Set(pids).size).toBe(4);
    // Every session child is a direct child of the bridge process.
    for (const pid of pids) expect(descendantsOf()).toContain(pid);
    // The pool held two pre-spawned children; later sessions were spawned cold.
    expect(sessions.filter((session) => session.warm).length).toBeGreaterThanOrEqual(2);

    await Promise.all(conns.map(disconnect));
    await waitFor(() => pids.every((pid) => !processExists(pid!)), 'all four session children to exit');
  });

  test('server-to-client requests and progress are routed to the right client stream', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const conn = await connectStreamable(bridge.url, { sampling: {}, roots: { listChanged: true } });
    const rootsAsked = new Promise<void>((resolveRoots) => {
      conn.client.setRequestHandler(ListRootsRequestSchema, () => {
        resolveRoots();
        return { roots: [{ uri: 'file:///workspace', name: 'workspace' }] };
      });
    });
    conn.client.setRequestHandler(CreateMessageRequestSchema, (request) => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: `sampled: ${JSON.stringify(request.params.messages[0]?.content)}` },
    }));

    // server-everything asks for roots on its own, with no request in flight: that rides the GET stream.
    let asked = false;
    void rootsAsked.then(() => (asked = true));
    await waitFor(() => asked, 'server-everything to ask the client for its roots', 5000);

    // Sampling is requested from inside a tool call; the answer flows back to the same child.
    const sampled = await conn.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'ping', maxTokens: 5 } });
    expect(textOf(sampled)).toContain('sampled:');
    expect(textOf(sampled)).toContain('test-model');

    const progress: number[] = [];
    const longRun = await conn.client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(textOf(longRun)).toContain('Long running operation completed');
    expect(progress).toEqual([1, 2, 3]);
    await disconnect(conn);
  });

  test('child stderr is logged as JSON tagged with the session fingerprint, never the session id', async () => {
    const logs = new LogCapture();
    // No pool: the child is spawned for the session, so even its first stderr line is tagged.
    bridge = await startTestBridge({ ...everything(), poolSize: 0 }, logs);
    const conn = await connectStreamable(bridge.url);
    const sessionId = conn.transport.sessionId!;
    const line = await waitFor(
      () => logs.find((entry) => entry.stream === 'stderr' && entry.session === sessionFingerprint(sessionId)),
      'a stderr line tagged with the session fingerprint',
    );
    // The id is a bearer credential: whoever reads the logs must not be able to use the session.
    expect(JSON.stringify(logs.lines)).not.toContain(sessionId);
    expect(line).toMatchObject({ msg: 'Starting default (STDIO) server...', purpose: 'session', transport: 'streamable-http' });
    expect(typeof line.childPid).toBe('number');
    await disconnect(conn);
  });
});

describe('legacy SSE', () => {
  test('GET /sse + POST /messages: initialize, tools/list, tools/call; closing the stream kills the child', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const conn = await connectSse(bridge.sseUrl);
    expect(conn.client.getServerVersion()?.name).toBe('mcp-servers/everything');
    const tools = await conn.client.listTools();
    expect(tools.tools.map((tool) => tool.name)).toContain('echo');
    const echo = await conn.client.callTool({ name: 'echo', arguments: { message: 'legacy' } });
    expect(textOf(echo)).toBe('Echo: legacy');

    const [session] = bridge.stats().sessions;
    expect(session).toMatchObject({ transport: 'sse', initialized: true });
    await conn.client.close();
    await waitFor(() => !processExists(session!.pid!), 'the SSE session child to be killed when the stream closed');
    expect(bridge.stats().sessions).toHaveLength(0);
  });

  test('a second initialize never reaches the child', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const conn = await connectSse(bridge.sseUrl);
    const again = conn.client.request(
      { method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'again', version: '1' } } },
      InitializeResultSchema,
    );
    await expect(again).rejects.toThrow('Invalid Request: the session is already initialized');
    // The child is still serving the first initialize's session.
    expect(textOf(await conn.client.callTool({ name: 'echo', arguments: { message: 'once' } }))).toBe('Echo: once');
    await conn.client.close();
  });

  test('streamable and SSE sessions run side by side on one bridge', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const [a, b] = await Promise.all([connectStreamable(bridge.url), connectSse(bridge.sseUrl)]);
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'echo', arguments: { message: 'a' } }),
      b.client.callTool({ name: 'echo', arguments: { message: 'b' } }),
    ]);
    expect([textOf(ra), textOf(rb)]).toEqual(['Echo: a', 'Echo: b']);
    expect(bridge.stats().sessions.map((session) => session.transport).sort()).toEqual(['sse', 'streamable-http']);
    await Promise.all([disconnect(a), disconnect(b)]);
  });
});

describe('server-filesystem', () => {
  test('reads a file from the directory it was given', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'hello.txt'), 'hello from the filesystem server\n');
    bridge = await startTestBridge({ ...filesystem(dir), poolSize: 1 });
    const conn = await connectStreamable(bridge.url);
    expect(conn.client.getServerVersion()?.name).toBe('secure-filesystem-server');
    const read = await conn.client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'hello.txt') } });
    expect(textOf(read)).toContain('hello from the filesystem server');
    const outside = await conn.client.callTool({ name: 'read_text_file', arguments: { path: '/etc/hostname' } });
    expect(outside.isError).toBe(true);
    await disconnect(conn);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('observability', () => {
  test('/healthz, /readyz and /metrics describe the bridge', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const base = new URL(bridge.url);
    const health = await fetch(new URL('/healthz', base));
    expect(health.status).toBe(200);

    const ready = await waitFor(async () => {
      const res = await fetch(new URL('/readyz', base));
      return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
    }, '/readyz to turn 200');
    expect(ready).toMatchObject({ ready: true, status: 'ready', checkedBy: 'probe', server: { name: 'mcp-servers/everything' } });

    const conn = await connectStreamable(bridge.url);
    await conn.client.callTool({ name: 'echo', arguments: { message: 'm' } });
    await disconnect(conn);

    const res = await fetch(new URL('/metrics', base));
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(metric(text, 'mcp_bridge_sessions_total', { transport: 'streamable-http' })).toBe(1);
    expect(metric(text, 'mcp_bridge_child_spawns_total', { purpose: 'probe' })).toBe(1);
    expect(metric(text, 'mcp_bridge_child_spawns_total', { purpose: 'pool' })).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'mcp_bridge_request_duration_seconds_count', { method: 'tools/call', outcome: 'ok' })).toBe(1);
    expect(metric(text, 'mcp_bridge_request_duration_seconds_count', { method: 'initialize', outcome: 'ok' })).toBe(1);
    await waitFor(async () => metric(await metricsText(bridge!), 'mcp_bridge_sessions_ended_total', { reason: 'deleted' }) === 1, 'the DELETE to be counted');
    expect(metric(await metricsText(bridge), 'mcp_bridge_sessions_active', { transport: 'streamable-http' })).toBe(0);
    expect(text).toContain('mcp_bridge_process_resident_memory_bytes');
    expect(metric(text, 'mcp_bridge_zombie_processes')).toBe(0);

    const unknown = await fetch(new URL('/nope', base));
    expect(unknown.status).toBe(404);
  });
});

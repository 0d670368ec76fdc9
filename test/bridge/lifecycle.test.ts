import { join } from 'node:path';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import {
  connectStreamable,
  closeBridgesAfterEach,
  disconnect,
  EVERYTHING,
  everything,
  descendantsOf,
  fixture,
  FIXTURES,
  LogCapture,
  metric,
  metricsText,
  processExists,
  startTestBridge,
  textOf,
  waitFor,
} from './helpers';
import type { BridgeHandle, ReadinessState } from '../../lib/bridge';

// Failure handling and limits: crashes, hangs, idle clients, capacity, message size, stubborn
// process groups. After every case no process the bridge started may be left behind.

let bridge: BridgeHandle | undefined;

closeBridgesAfterEach();

async function readyz(b: BridgeHandle): Promise<{ status: number; body: ReadinessState }> {
  const res = await fetch(new URL('/readyz', b.url));
  return { status: res.status, body: (await res.json()) as ReadinessState };
}

function initializeBody(id: number): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
}

const MCP_HEADERS = { 'content-type': 'application/json', 'accept': 'application/json, text/event-stream' };

describe('a child that crashes mid-session', () => {
  test('fails the request in flight with the exit reason, ends the session and counts the crash', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1 });
    const conn = await connectStreamable(bridge.url);
    const pid = bridge.stats().sessions[0]!.pid!;
    const call = conn.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } });
    await waitFor(() => bridge!.stats().sessions[0]?.pendingRequests === 1, 'the tool call to be in flight');

    process.kill(pid, 'SIGKILL');
    await expect(call).rejects.toThrow('MCP server process was killed by signal SIGKILL; session closed');
    await waitFor(() => bridge!.stats().sessions.length === 0, 'the session to end');
    expect(processExists(pid)).toBe(false);

    // The next request on the dead session is told what happened.
    await expect(conn.client.listTools()).rejects.toThrow(/Session not found: MCP server process was killed by signal SIGKILL/);
    const text = await metricsText(bridge);
    expect(metric(text, 'mcp_bridge_child_crashes_total', { phase: 'session' })).toBe(1);
    expect(metric(text, 'mcp_bridge_sessions_ended_total', { reason: 'child-exited' })).toBe(1);
    // One crash after a good initialize does not make the server unready.
    expect((await readyz(bridge)).status).toBe(200);
    await conn.client.close();
  });
});

describe('a child that never answers initialize', () => {
  test('the client gets a timeout error, the child is killed and /readyz stays 503', async () => {
    bridge = await startTestBridge({ ...fixture('silent-server.js'), poolSize: 1, initTimeoutMs: 1000, probeRetryMs: 60_000 });
    expect((await readyz(bridge)).status).toBe(503);

    await expect(connectStreamable(bridge.url)).rejects.toThrow('MCP server did not answer initialize within 1000 ms; session closed');
    await waitFor(() => bridge!.stats().sessions.length === 0, 'the session to be ended');

    const probed = await waitFor(async () => {
      const state = await readyz(bridge!);
      return state.body.status === 'not-ready' ? state : undefined;
    }, 'the readiness probe to give up');
    expect(probed.status).toBe(503);
    expect(probed.body.reason).toBe('MCP server did not answer initialize within 1000 ms');
    expect(metric(await metricsText(bridge), 'mcp_bridge_sessions_ended_total', { reason: 'init-timeout' })).toBe(1);
  });
});

describe('a server that cannot start', () => {
  test('one that exits at once: readiness explains why, sessions fail fast, the pool backs off', async () => {
    bridge = await startTestBridge({ ...fixture('exits-at-start.js'), poolSize: 1, probeRetryMs: 60_000 });
    const probed = await waitFor(async () => {
      const state = await readyz(bridge!);
      return state.body.status === 'not-ready' ? state : undefined;
    }, 'the readiness probe to fail');
    expect(probed.status).toBe(503);
    expect(probed.body.reason).toBe('MCP server exited with code 3 before answering initialize (stderr: fatal: API_TOKEN is not set)');

    await expect(connectStreamable(bridge.url)).rejects.toThrow(/MCP server process exited with code 3; session closed \(last stderr: fatal: API_TOKEN is not set\)/);

    await new Promise((r) => setTimeout(r, 1500));
    const spawns = metric(await metricsText(bridge), 'mcp_bridge_child_spawns_total', { purpose: 'pool' })!;
    // Without backoff a dying server would be respawned in a tight loop.
    expect(spawns).toBeGreaterThanOrEqual(2);
    expect(spawns).toBeLessThanOrEqual(6);
  });

  test('a command that does not exist', async () => {
    bridge = await startTestBridge({ command: '/nonexistent/mcp-server', poolSize: 1, probeRetryMs: 60_000 });
    const probed = await waitFor(async () => {
      const state = await readyz(bridge!);
      return state.body.status === 'not-ready' ? state : undefined;
    }, 'the readiness probe to fail');
    expect(probed.body.reason).toBe('MCP server could not be started: spawn /nonexistent/mcp-server ENOENT before answering initialize');
    await expect(connectStreamable(bridge.url)).rejects.toThrow(/could not be started: spawn \/nonexistent\/mcp-server ENOENT/);
  });
});

describe('idle sessions', () => {
  test('a connected client is kept; one that vanished without DELETE is reaped with its child', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 0, idleTimeoutMs: 700 });
    const conn = await connectStreamable(bridge.url);
    const pid = bridge.stats().sessions[0]!.pid!;

    // The SDK client holds the standalone GET stream open: that is a live client, not an idle one.
    await new Promise((r) => setTimeout(r, 1500));
    expect(bridge.stats().sessions).toHaveLength(1);
    expect(textOf(await conn.client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toBe('Echo: still here');

    // close() drops the connections but sends no DELETE: the client is simply gone.
    await conn.client.close();
    await waitFor(() => bridge!.stats().sessions.length === 0, 'the idle session to be reaped', 5000);
    await waitFor(() => !processExists(pid), `child ${pid} to be killed`);
    expect(metric(await metricsText(bridge), 'mcp_bridge_sessions_ended_total', { reason: 'idle-timeout' })).toBe(1);
  });
});

describe('max sessions', () => {
  test('a full bridge answers 503 with a JSON-RPC error until a session ends', async () => {
    bridge = await startTestBridge({ ...everything(), poolSize: 1, maxSessions: 2 });
    const a = await connectStreamable(bridge.url);
    const b = await connectStreamable(bridge.url);

    const refused = await connectStreamable(bridge.url).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(503);

    const raw = await fetch(bridge.url, { method: 'POST', headers: MCP_HEADERS, body: initializeBody(77) });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('5');
    expect(await raw.json()).toEqual({
      jsonrpc: '2.0',
      id: 77,
      error: { code: -32000, message: 'The bridge is at capacity (2 sessions); retry later', data: { reason: 'capacity' } },
    });
    const sse = await fetch(bridge.sseUrl, { headers: { accept: 'text/event-stream' } });
    expect(sse.status).toBe(503);
    await sse.body?.cancel();
    expect(metric(await metricsText(bridge), 'mcp_bridge_sessions_rejected_total', { reason: 'capacity' })).toBe(3);
    expect(bridge.stats().sessions).toHaveLength(2);

    await disconnect(a);
    await waitFor(() => bridge!.stats().sessions.length === 1, 'a slot to free up');
    const c = await connectStreamable(bridge.url);
    expect(textOf(await c.client.callTool({ name: 'echo', arguments: { message: 'third' } }))).toBe('Echo: third');
    await Promise.all([disconnect(b), disconnect(c)]);
  });
});

describe('max message size', () => {
  test('an oversized request gets 413; an oversized server message ends the session with a clear error', async () => {
    // server-everything's initialize result is ~2 KB and its tools/list result ~7.5 KB.
    bridge = await startTestBridge({ ...everything(), poolSize: 1, maxMessageBytes: 4096 });
    const conn = await connectStreamable(bridge.url);

    const big = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(5000) } } });
    const res = await fetch(bridge.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': conn.transport.sessionId!, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
      body: big,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('Payload Too Large: a message must not exceed 4096 bytes');
    // The session survived the refused request.
    expect(textOf(await conn.client.callTool({ name: 'echo', arguments: { message: 'small' } }))).toBe('Echo: small');

    await expect(conn.client.listTools()).rejects.toThrow('MCP server sent a message larger than the bridge limit of 4096 bytes');
    await waitFor(() => bridge!.stats().sessions.length === 0, 'the session to end');
    expect(metric(await metricsText(bridge), 'mcp_bridge_sessions_ended_total', { reason: 'protocol-error' })).toBe(1);
    await conn.client.close();
  });
});

describe('process groups', () => {
  test('a wrapper that ignores SIGTERM is SIGKILLed with its grandchild after the grace period', async () => {
    const logs = new LogCapture();
    bridge = await startTestBridge({ command: process.execPath, args: [join(FIXTURES, 'stubborn-wrapper.js'), EVERYTHING, 'stdio'], poolSize: 0, killGraceMs: 500 }, logs);
    const conn = await connectStreamable(bridge.url);
    expect(textOf(await conn.client.callTool({ name: 'echo', arguments: { message: 'via wrapper' } }))).toBe('Echo: via wrapper');
    const wrapper = bridge.stats().sessions[0]!.pid!;
    const [grandchild] = descendantsOf(wrapper);
    expect(grandchild).toBeDefined();

    await disconnect(conn);
    await waitFor(() => !processExists(wrapper) && !processExists(grandchild!), 'wrapper and grandchild to be gone', 5000);
    expect(logs.find((line) => line.msg === 'MCP server ignored SIGTERM; sending SIGKILL to its process group' && line.childPid === wrapper)).toBeDefined();
  });
});

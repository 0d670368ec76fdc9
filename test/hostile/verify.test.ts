/**
 * `verify` against hostile MCP servers: bodies and events are bounded (fail fast, memory bounded),
 * redirects stay on the origin, 200k tools do not crash it, and nothing the server says can act on
 * the terminal.
 */
import { initializeResult, startMcpPeer } from './support/net-mcp';
import { HostilePeer, MIB } from './support/net-servers';
import { formatVerifyResult } from '../../lib/bridge/format';
import { verifyServer } from '../../lib/bridge/verify';

jest.setTimeout(60_000);

const peers: HostilePeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});
async function mcp(script: Parameters<typeof startMcpPeer>[0]): Promise<HostilePeer> {
  const peer = await startMcpPeer(script);
  peers.push(peer);
  return peer;
}

describe('bounded reads', () => {
  test('an endless JSON body fails fast as too-large, memory bounded', async () => {
    const server = await mcp((r) => (r.method === 'initialize' ? { kind: 'endless-json' } : undefined));
    const heapBefore = process.memoryUsage().heapUsed;
    const result = await verifyServer(`${server.url}/mcp`, { timeoutMs: 30_000, transport: 'streamable-http' });
    expect(result.ok).toBe(false);
    expect(result.error).toEqual({ kind: 'too-large', message: `${server.url}/mcp: the MCP message is larger than 4 MiB; refusing to read more` });
    expect(result.durationMs).toBeLessThan(10_000);
    expect(server.bytesSent).toBeLessThan(4 * MIB + 16 * MIB);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MIB);
  });

  test('one endless SSE event fails fast as too-large, memory bounded', async () => {
    const server = await mcp((r) => (r.method === 'initialize' ? { kind: 'endless-sse-event' } : undefined));
    const heapBefore = process.memoryUsage().heapUsed;
    const result = await verifyServer(`${server.url}/mcp`, { timeoutMs: 30_000, transport: 'streamable-http' });
    expect(result.ok).toBe(false);
    expect(result.error).toEqual({ kind: 'too-large', message: `${server.url}/mcp: one event of the event stream is larger than 4 MiB; refusing to read more` });
    // Well before the 30 s deadline: the limit ends the attempt, not the timeout.
    expect(result.durationMs).toBeLessThan(10_000);
    expect(server.bytesSent).toBeLessThan(4 * MIB + 16 * MIB);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MIB);
  });

  test('limits are configurable, and all answers of an attempt share a total', async () => {
    const server = await mcp((r) => {
      if (r.method !== 'tools/list') return undefined;
      const page = Number(r.params?.cursor ?? '0');
      const tools = Array.from({ length: 5_000 }, (_, i) => ({ name: `t${page}-${i}`, inputSchema: { type: 'object' } }));
      return { kind: 'result', result: { tools, nextCursor: String(page + 1) } };
    });
    const result = await verifyServer(`${server.url}/mcp`, { timeoutMs: 30_000, transport: 'streamable-http', limits: { maxTotalBytes: 2 * MIB } });
    expect(result.ok).toBe(false);
    expect(result.error).toEqual({ kind: 'too-large', message: `${server.url}/mcp: the answers together are larger than 2 MiB; refusing to read more` });
  });
});

describe('redirects', () => {
  test('a redirect to another origin is not followed; the other host is never asked', async () => {
    const elsewhere = await mcp(() => undefined);
    const server = await mcp(() => ({ kind: 'redirect', location: `${elsewhere.url}/mcp` }));
    const result = await verifyServer(`${server.url}/mcp`, { timeoutMs: 10_000, transport: 'streamable-http' });
    expect(result.ok).toBe(false);
    expect(result.error?.message).toContain(`Redirect to ${elsewhere.url}/mcp not followed`);
    expect(elsewhere.requests).toBe(0);
  });
});

describe('many tools and hostile text', () => {
  test('200k tools over 40 pages: verified, counted and printed without a stack overflow', async () => {
    const server = await mcp((r) => {
      if (r.method !== 'tools/list') return undefined;
      const page = Number(r.params?.cursor ?? '0');
      const tools = Array.from({ length: 5_000 }, (_, i) => ({ name: `t${page}-${i}`, inputSchema: { type: 'object' } }));
      return { kind: 'result', result: { tools, ...(page < 39 ? { nextCursor: String(page + 1) } : {}) } };
    });
    const result = await verifyServer(`${server.url}/mcp`, { timeoutMs: 30_000, transport: 'streamable-http' });
    expect(result.error).toBeUndefined();
    expect(result.tools).toHaveLength(200_000);
    const text = formatVerifyResult(result, 'text');
    expect(text.endsWith('\n200000 tools\n')).toBe(true);
  });

  test('escape sequences from the server never reach the terminal: no fake "OK" line', async () => {
    const fake = '\x1b[1A\x1b[2K\rOK      https://trusted.example/mcp\n';
    const server = await mcp((r) => {
      if (r.method === 'initialize') return initializeResult(r, { name: `evil${fake}`, version: '1.0\x1b]0;title\x07', title: '\x9b2J' });
      if (r.method === 'tools/list') return { kind: 'result', result: { tools: [{ name: `tool${fake}`, description: `desc${fake}`, inputSchema: { type: 'object' } }] } };
      return undefined;
    });
    const result = await verifyServer(`${server.url}/mcp`, { timeoutMs: 10_000, transport: 'streamable-http' });
    expect(result.ok).toBe(true);
    const text = formatVerifyResult(result, 'text');
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\x1b\x07\r\x9b]/);
    expect(text.split('\n').filter((l) => l.startsWith('OK '))).toEqual([`OK      ${server.url}/mcp`]);
    expect(text).toContain('evilOK      https://trusted.example/mcp\\x0a'.replace('evil', 'evil\\x0d'));
    // Machine-readable output keeps the exact text, JSON-escaped.
    expect(JSON.parse(formatVerifyResult(result, 'json')).server.name).toBe(`evil${fake}`);
  });
});

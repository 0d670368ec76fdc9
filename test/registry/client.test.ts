import { fastClient } from './helpers';
import { metricsRegistry } from '../../lib/metrics';
import { errorDetail, parseRetryAfter, RegistryClient } from '../../lib/registry/client';
import { RegistryError } from '../../lib/registry/errors';
import { officialMeta } from '../../lib/registry/types';
import { FakeRegistry } from '../support/registry-server';

const TERRAFORM = 'io.github.hashicorp/terraform-mcp-server';
const CONTEXT7 = 'io.github.upstash/context7';

const registry = FakeRegistry.forTestFile();

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error('expected a RegistryError');
}

describe('listing', () => {
  test('follows nextCursor across the three pages and stops at the page without one', async () => {
    const { client } = fastClient(registry.url);
    const pages = [];
    for await (const page of client.pages({ limit: 3, version: 'latest' })) pages.push(page);
    expect(pages.map((p) => p.servers.length)).toEqual([3, 3, 2]);
    expect(pages.map((p) => p.metadata.nextCursor)).toEqual(['io.github.domdomegg/time-mcp-pypi:1.0.6', 'io.github.upstash/context7:2.0.0', undefined]);
    // The cursor goes back exactly as received (percent-encoded in the query).
    expect(registry.requests.map((r) => r.url.searchParams.get('cursor'))).toEqual([null, 'io.github.domdomegg/time-mcp-pypi:1.0.6', 'io.github.upstash/context7:2.0.0']);
    expect(registry.requests[1]!.rawPath).toContain('cursor=io.github.domdomegg%2Ftime-mcp-pypi%3A1.0.6');
    expect(registry.requests.every((r) => r.url.searchParams.get('limit') === '3' && r.url.searchParams.get('version') === 'latest')).toBe(true);
  });

  test('servers() yields every server of every page, in order', async () => {
    const { client } = fastClient(registry.url);
    const names: string[] = [];
    for await (const s of client.servers({ limit: 3 })) names.push(s.server.name);
    expect(names).toHaveLength(8);
    expect(names[0]).toBe('io.github.domdomegg/airtable-mcp-server');
    expect(names[7]).toBe('io.modelcontextprotocol.anonymous/multi-tenant-server');
  });

  test('search sends the text and returns the matching servers', async () => {
    const { client } = fastClient(registry.url);
    const page = await client.listServers({ search: 'HashiCorp', version: 'latest' });
    expect(page.servers.map((s) => s.server.name)).toEqual([TERRAFORM]);
    expect(page.metadata.nextCursor).toBeUndefined();
    expect(registry.requests[0]!.url.searchParams.get('search')).toBe('HashiCorp');
  });

  test('updated_since and include_deleted are sent with the registry\'s parameter names', async () => {
    const { client } = fastClient(registry.url);
    await client.listServers({ updatedSince: new Date('2026-01-02T03:04:05Z'), includeDeleted: true });
    const q = registry.requests[0]!.url.searchParams;
    expect(q.get('updated_since')).toBe('2026-01-02T03:04:05.000Z');
    expect(q.get('include_deleted')).toBe('true');
  });

  test('a cursor handed out twice stops the iteration instead of looping', async () => {
    const page = { servers: [], metadata: { nextCursor: 'again' } };
    const client = new RegistryClient({ baseUrl: 'http://127.0.0.1:9', fetch: async () => new Response(JSON.stringify(page)) });
    const pages = async () => {
      for await (const _ of client.pages()) void _;
    };
    await expect(pages()).rejects.toMatchObject({ kind: 'malformed', message: expect.stringContaining('cursor "again" twice') });
  });
});

describe('versions', () => {
  test('getVersions lists every version newest first; the name travels as one %2F-encoded segment', async () => {
    const { client } = fastClient(registry.url);
    const versions = await client.getVersions(TERRAFORM);
    expect(versions.map((v) => v.server.version)).toEqual(['1.2.0', '1.1.0', '1.0.0']);
    expect(registry.requests[0]!.rawPath).toBe('/v0.1/servers/io.github.hashicorp%2Fterraform-mcp-server/versions');
  });

  test('getVersion of an exact version and of latest', async () => {
    const { client } = fastClient(registry.url);
    expect((await client.getVersion(TERRAFORM, '1.1.0')).server.version).toBe('1.1.0');
    const latest = await client.getVersion(CONTEXT7, 'latest');
    expect(latest.server.version).toBe('2.0.0');
    expect(officialMeta(latest)?.isLatest).toBe(true);
    expect(registry.requests.map((r) => r.rawPath)).toEqual([
      '/v0.1/servers/io.github.hashicorp%2Fterraform-mcp-server/versions/1.1.0',
      '/v0.1/servers/io.github.upstash%2Fcontext7/versions/latest',
    ]);
  });

  test('build metadata in a version is sent as %2B', () => {
    const { client } = fastClient(registry.url);
    expect(client.url(['servers', 'a.b/c', 'versions', '1.0.0+20130313144700'])).toBe(`${registry.url}/v0.1/servers/a.b%2Fc/versions/1.0.0%2B20130313144700`);
  });

  test('a deprecated version is returned with a warning that carries the status message', async () => {
    const { client, warnings } = fastClient(registry.url);
    const v = await client.getVersion(TERRAFORM, '1.0.0');
    expect(v.server.version).toBe('1.0.0');
    expect(warnings).toEqual([`${TERRAFORM}@1.0.0 is deprecated: Superseded by 1.1.0; please upgrade.`]);
  });

  test('a deleted version is an error', async () => {
    registry.setStatus(TERRAFORM, '1.1.0', 'deleted', 'malware');
    const { client } = fastClient(registry.url);
    const err = await failure(client.getVersion(TERRAFORM, '1.1.0'));
    expect(err.kind).toBe('deleted');
    expect(err.message).toContain(`${TERRAFORM}@1.1.0 is marked deleted`);
    expect(err.message).toContain('malware');
  });

  test('a snake_case (2025-07-09) document comes back in the camelCase shape', async () => {
    const { client } = fastClient(registry.url);
    const v = await client.getVersion('io.github.mobile-next/mobile-mcp', '0.0.26');
    expect(v.server.packages?.[0]).toMatchObject({ registryType: 'npm', registryBaseUrl: 'https://registry.npmjs.org', identifier: '@mobilenext/mobile-mcp' });
    expect(v.server.packages?.[0]).toHaveProperty('environmentVariables');
  });
});

describe('404', () => {
  test.each(['error', 'problem'] as const)('unknown server, %s body shape: not-found naming the server and URL', async (shape) => {
    registry.errorShape = shape;
    const { client } = fastClient(registry.url);
    const err = await failure(client.getVersion('io.example/nope', 'latest'));
    expect(err.kind).toBe('not-found');
    expect(err.status).toBe(404);
    expect(err.message).toContain('server io.example/nope not found');
    expect(err.message).toContain(`${registry.url}/v0.1/servers/io.example%2Fnope/versions/latest`);
    expect(err.message).toContain('Server not found');
    expect(registry.requests).toHaveLength(1);
  });

  test('unknown version of a known server: unknown-version, listing what exists', async () => {
    const { client } = fastClient(registry.url);
    const err = await failure(client.getVersion(TERRAFORM, '9.9.9'));
    expect(err.kind).toBe('unknown-version');
    expect(err.available).toEqual(['1.2.0', '1.1.0', '1.0.0']);
    expect(err.message).toContain(`${TERRAFORM} has no version 9.9.9`);
  });

  test('unknown server asked for an exact version stays not-found', async () => {
    const { client } = fastClient(registry.url);
    expect((await failure(client.getVersion('io.example/nope', '1.0.0'))).kind).toBe('not-found');
  });
});

describe('rate limiting (429)', () => {
  test('HTML page with Retry-After in seconds: waits that long, then succeeds', async () => {
    registry.rateLimitNext(1, '7');
    const { client, sleeps } = fastClient(registry.url);
    expect((await client.getVersion(CONTEXT7, 'latest')).server.version).toBe('2.0.0');
    expect(sleeps).toEqual([7000]);
  });

  test('Retry-After as an HTTP date is measured against the injected clock', async () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    registry.rateLimitNext(1, new Date(now + 5000).toUTCString());
    const { client, sleeps } = fastClient(registry.url, { now: () => now });
    await client.getVersion(CONTEXT7, 'latest');
    expect(sleeps).toEqual([5000]);
  });

  test('no Retry-After (as the hosted nginx answers): exponential backoff from the rate-limit base', async () => {
    registry.rateLimitNext(2);
    const { client, sleeps } = fastClient(registry.url, { rateLimitBackoffMs: 2000 });
    await client.getVersion(CONTEXT7, 'latest');
    // equal jitter with random() = 0.5: 3/4 of 2 s, then of 4 s
    expect(sleeps).toEqual([1500, 3000]);
  });

  test('still limited after every attempt: rate-limited, with the page title', async () => {
    registry.rateLimitNext(3);
    const { client } = fastClient(registry.url);
    const err = await failure(client.getVersion(CONTEXT7, 'latest'));
    expect(err.kind).toBe('rate-limited');
    expect(err.message).toContain('429 Too Many Requests');
    expect(err.message).toContain('gave up after 3 attempts');
    expect(registry.requests).toHaveLength(3);
  });

  test('a Retry-After beyond the cap is reported at once instead of slept through', async () => {
    registry.rateLimitNext(1, '3600');
    const { client, sleeps } = fastClient(registry.url, { maxRetryAfterMs: 30_000 });
    const err = await failure(client.getVersion(CONTEXT7, 'latest'));
    expect(err.kind).toBe('rate-limited');
    expect(err.message).toContain('asks to wait 3600 s');
    expect(sleeps).toEqual([]);
  });
});

describe('server errors, timeouts, bad bodies, no server', () => {
  test('500 twice, then success: retried with growing backoff', async () => {
    registry.failNext(2);
    const { client, sleeps } = fastClient(registry.url, { backoffMs: 500 });
    expect((await client.getVersions(TERRAFORM)).length).toBe(3);
    expect(sleeps).toEqual([375, 750]);
    expect(registry.requests).toHaveLength(3);
  });

  test('500 on every attempt: server error, bounded attempts', async () => {
    registry.failNext(5, 503);
    const { client } = fastClient(registry.url, { maxAttempts: 3 });
    const err = await failure(client.getVersions(TERRAFORM));
    expect(err).toMatchObject({ kind: 'server', status: 503, transient: true });
    expect(err.message).toContain('injected failure');
    expect(registry.requests).toHaveLength(3);
  });

  test('a 4xx other than 404/429 is not retried', async () => {
    const { client } = fastClient(registry.url);
    const err = await failure(client.listServers({ cursor: 'bogus' }));
    expect(err).toMatchObject({ kind: 'server', status: 400, transient: false });
    expect(registry.requests).toHaveLength(1);
  });

  test('an answer slower than the timeout is aborted and retried', async () => {
    registry.delayNext(1, 3000);
    const { client } = fastClient(registry.url, { timeoutMs: 150 });
    const started = Date.now();
    expect((await client.getVersion(CONTEXT7, 'latest')).server.version).toBe('2.0.0');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  test('timing out on every attempt: timeout error', async () => {
    registry.delayNext(3, 3000);
    const { client } = fastClient(registry.url, { timeoutMs: 100 });
    const err = await failure(client.getVersion(CONTEXT7, 'latest'));
    expect(err.kind).toBe('timeout');
    expect(err.message).toContain('no complete answer within 100 ms');
  });

  test('malformed JSON: malformed, not retried', async () => {
    registry.malformedNext(1);
    const { client } = fastClient(registry.url);
    const err = await failure(client.getVersions(TERRAFORM));
    expect(err.kind).toBe('malformed');
    expect(err.message).toContain('not JSON');
    expect(registry.requests).toHaveLength(1);
  });

  test('JSON of the wrong shape (injected fetch): malformed', async () => {
    const client = new RegistryClient({ baseUrl: 'http://127.0.0.1:9', fetch: async () => new Response('{"servers": [{"nope": 1}]}') });
    await expect(client.getVersions('a.b/c')).rejects.toMatchObject({ kind: 'malformed', message: expect.stringContaining('servers[0] has no server object') });
  });

  test('registry down: network error after bounded attempts', async () => {
    await registry.stop();
    const { client, sleeps } = fastClient(registry.url);
    const err = await failure(client.getVersion(CONTEXT7, 'latest'));
    expect(err.kind).toBe('network');
    expect(err.message).toContain('ECONNREFUSED');
    expect(sleeps).toHaveLength(2);
  });
});

async function metricValue(name: string, labels: Record<string, string>, suffix = ''): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric(name)!.get();
  // Histogram values carry their series name (_bucket, _sum, _count); counter values do not.
  const found = metric.values.find((v) => (suffix === '' || (v as { metricName?: string }).metricName === `${name}${suffix}`)
    && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return found?.value ?? 0;
}

test('each HTTP attempt is counted by operation and outcome, and timed', async () => {
  const counter = 'mcp_operator_registry_requests_total';
  const histogram = 'mcp_operator_registry_request_duration_seconds';
  const before = {
    failed: await metricValue(counter, { operation: 'get_versions', outcome: 'server' }),
    ok: await metricValue(counter, { operation: 'get_versions', outcome: 'ok' }),
    timed: await metricValue(histogram, { operation: 'get_versions' }, '_count'),
  };
  registry.failNext(1);
  const { client } = fastClient(registry.url);
  await client.getVersions(TERRAFORM);
  expect(await metricValue(counter, { operation: 'get_versions', outcome: 'server' })).toBe(before.failed + 1);
  expect(await metricValue(counter, { operation: 'get_versions', outcome: 'ok' })).toBe(before.ok + 1);
  expect(await metricValue(histogram, { operation: 'get_versions' }, '_count')).toBe(before.timed + 2);
});

describe('helpers', () => {
  test('parseRetryAfter: seconds, HTTP date, past date, garbage', () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test('errorDetail reads both JSON error shapes and nginx HTML', () => {
    expect(errorDetail('{"error": "Server not found"}')).toBe('Server not found');
    expect(errorDetail('{"title":"Not Found","status":404,"detail":"Server not found"}')).toBe('Server not found');
    expect(errorDetail('{"title":"Unprocessable Entity","status":422,"errors":[{"message":"bad limit"}]}')).toBe('Unprocessable Entity; bad limit');
    expect(errorDetail('<html>\r\n<head><title>429 Too Many Requests</title></head></html>')).toBe('429 Too Many Requests');
  });
});

/**
 * A stand-in for the MCP Registry API (`/v0.1`), serving the shared fixtures on 127.0.0.1 with knobs
 * for the failures a client must survive: 5xx, 429 (nginx's HTML page, with or without Retry-After),
 * slow answers, malformed JSON, and the server going away and coming back on the same port.
 *
 * Data: `api/list-page-{1,2,3}.json` for listing (followed by cursor), `api/versions-*.json` and
 * `api/server-latest-*.json` where they exist, and otherwise versions built from `server-json/real`
 * (`<name with / as .>[@<version>].json`), newest version latest.
 *
 * Fixtures: `MCP_REGISTRY_FIXTURES`, else `/work/shared/fixtures/registry` relative to this repository.
 */
import { existsSync, readdirSync, readFileSync } from 'fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { join, resolve } from 'path';

export function fixturesDir(): string {
  return process.env.MCP_REGISTRY_FIXTURES ?? resolve(__dirname, '../../../shared/fixtures/registry');
}

type Json = Record<string, any>;

export interface RecordedRequest {
  readonly method: string;
  /** As sent, with its percent-encoding intact. */
  readonly rawPath: string;
  readonly url: URL;
}

type Fault =
  | { readonly kind: 'fail'; readonly status: number }
  | { readonly kind: 'rate-limit'; readonly retryAfter?: string }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'malformed' };

export type ErrorShape = 'error' | 'problem';

const OFFICIAL = 'io.modelcontextprotocol.registry/official';

export class FakeRegistry {
  public static async start(dir: string = fixturesDir()): Promise<FakeRegistry> {
    const registry = new FakeRegistry(dir);
    await registry.listen();
    return registry;
  }

  /**
   * One registry for a whole test file: listening before the first test, restarted and reset before
   * each (so faults and overrides never leak between tests), stopped after the last.
   */
  public static forTestFile(dir: string = fixturesDir()): FakeRegistry {
    const registry = new FakeRegistry(dir);
    beforeAll(() => registry.listen());
    afterAll(() => registry.stop());
    beforeEach(async () => {
      await registry.restart();
      registry.reset();
    });
    return registry;
  }

  public readonly requests: RecordedRequest[] = [];
  /** `{"error": ...}` as openapi.yaml documents it, or problem+json as the hosted registry sends. */
  public errorShape: ErrorShape = 'problem';
  private readonly faults: Fault[] = [];
  private readonly statusOverrides = new Map<string, { status: string; statusMessage?: string }>();
  private readonly latestOverrides = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server?: Server;
  private port = 0;

  private constructor(private readonly dir: string) {}

  public get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `n` requests answer `status` (default 500) with a problem+json body. */
  public failNext(n: number, status = 500): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'fail', status });
  }

  /** The next `n` requests get nginx's 429 HTML page, with `Retry-After: retryAfter` when given. */
  public rateLimitNext(n: number, retryAfter?: string): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'rate-limit', retryAfter });
  }

  /** The next `n` requests are answered only after `ms`. */
  public delayNext(n: number, ms: number): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'delay', ms });
  }

  /** The next `n` requests get a 200 whose body is not JSON. */
  public malformedNext(n: number): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'malformed' });
  }

  /** Overrides the official status of one version (e.g. `deleted`). */
  public setStatus(name: string, version: string, status: string, statusMessage?: string): void {
    this.statusOverrides.set(`${name}@${version}`, { status, statusMessage });
  }

  /** Makes `latest` of `name` answer with `version` (which must exist). */
  public setLatest(name: string, version: string | undefined): void {
    if (version === undefined) this.latestOverrides.delete(name);
    else this.latestOverrides.set(name, version);
  }

  public reset(): void {
    this.faults.length = 0;
    this.requests.length = 0;
    this.statusOverrides.clear();
    this.latestOverrides.clear();
    this.errorShape = 'problem';
  }

  /** Stops listening and drops open connections; `restart()` brings it back on the same port. */
  public async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  public async restart(): Promise<void> {
    if (!this.server) await this.listen();
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(this.port, '127.0.0.1', () => done());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const rawPath = req.url ?? '/';
    const url = new URL(rawPath, 'http://127.0.0.1');
    this.requests.push({ method: req.method ?? 'GET', rawPath, url });
    const fault = this.faults.shift();
    if (fault?.kind === 'delay') {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!res.destroyed) this.answer(req, res, url);
      }, fault.ms);
      this.timers.add(timer);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (fault?.kind === 'fail') return this.send(res, fault.status, { title: 'Internal Server Error', status: fault.status, detail: 'injected failure' }, 'application/problem+json');
    if (fault?.kind === 'rate-limit') {
      const headers: Record<string, string> = { 'content-type': 'text/html' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      res.writeHead(429, headers).end(readFileSync(join(this.dir, 'api', 'rate-limited-429.html')));
      return;
    }
    if (fault?.kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"servers": [ {"server": ');
      return;
    }
    this.answer(req, res, url);
  }

  private answer(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== 'GET') return this.notFound(res, 'Method not allowed');
    // Split before decoding: a name's "/" arrives as %2F and must stay inside its segment.
    const segments = (req.url ?? '/').split('?')[0]!.split('/').slice(1).map((s) => decodeURIComponent(s));
    if (segments[0] !== 'v0.1' || segments[1] !== 'servers') return this.notFound(res, 'Not found');
    if (segments.length === 2) return this.list(res, url);
    const name = segments[2]!;
    if (segments[3] !== 'versions') return this.notFound(res, 'Not found');
    const versions = this.versionsOf(name);
    if (!versions) return this.notFound(res, 'Server not found');
    if (segments.length === 4) return this.send(res, 200, { servers: versions, metadata: { count: versions.length } });
    const wanted = segments[4]!;
    const found = this.pick(name, versions, wanted);
    if (!found) return this.notFound(res, 'Server not found');
    this.send(res, 200, found);
  }

  private list(res: ServerResponse, url: URL): void {
    const pages = [1, 2, 3].map((n) => this.readJson(join('api', `list-page-${n}.json`)));
    const search = url.searchParams.get('search');
    if (search !== null) {
      const servers = pages.flatMap((p) => p.servers as Json[]).filter((s) => String(s.server.name).toLowerCase().includes(search.toLowerCase()));
      return this.send(res, 200, { servers: servers.map((s) => this.withOverrides(s)), metadata: { count: servers.length } });
    }
    const cursor = url.searchParams.get('cursor');
    const index = cursor === null ? 0 : pages.findIndex((_p, i) => i > 0 && pages[i - 1]!.metadata.nextCursor === cursor);
    if (index < 0) return this.send(res, 400, { title: 'Bad Request', status: 400, detail: `invalid cursor ${cursor}` }, 'application/problem+json');
    const page = pages[index]!;
    this.send(res, 200, { ...page, servers: (page.servers as Json[]).map((s) => this.withOverrides(s)) });
  }

  private pick(name: string, versions: Json[], wanted: string): Json | undefined {
    if (wanted !== 'latest') return versions.find((v) => v.server.version === wanted);
    const override = this.latestOverrides.get(name);
    if (override) return versions.find((v) => v.server.version === override);
    const file = join('api', `server-latest-${fileStem(name)}.json`);
    if (existsSync(join(this.dir, file))) return this.withOverrides(this.readJson(file));
    return versions.find((v) => v._meta?.[OFFICIAL]?.isLatest) ?? versions[0];
  }

  /** Every version of `name`, newest first, or undefined for an unknown server. */
  private versionsOf(name: string): Json[] | undefined {
    const file = join('api', `versions-${fileStem(name)}.json`);
    if (existsSync(join(this.dir, file))) return (this.readJson(file).servers as Json[]).map((s) => this.withOverrides(s));
    const real = join(this.dir, 'server-json', 'real');
    const docs = readdirSync(real)
      .filter((f) => f === `${fileStem(name)}.json` || f.startsWith(`${fileStem(name)}@`))
      .map((f) => JSON.parse(readFileSync(join(real, f), 'utf8')) as Json)
      .sort((a, b) => compareVersions(String(b.version), String(a.version)));
    if (docs.length === 0) return undefined;
    return docs.map((server, i) => this.withOverrides({
      server,
      _meta: { [OFFICIAL]: { status: 'active', publishedAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', statusChangedAt: '2026-01-01T00:00:00Z', isLatest: i === 0 } },
    }));
  }

  private withOverrides(item: Json): Json {
    const override = this.statusOverrides.get(`${item.server.name}@${item.server.version}`);
    if (!override) return item;
    return { ...item, _meta: { ...item._meta, [OFFICIAL]: { ...item._meta?.[OFFICIAL], ...override } } };
  }

  private notFound(res: ServerResponse, detail: string): void {
    if (this.errorShape === 'error') this.send(res, 404, { error: detail });
    else this.send(res, 404, { title: 'Not Found', status: 404, detail }, 'application/problem+json');
  }

  private send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
    res.writeHead(status, { 'content-type': contentType }).end(JSON.stringify(body));
  }

  private readJson(file: string): Json {
    return JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as Json;
  }
}

function fileStem(name: string): string {
  return name.replace('/', '.');
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

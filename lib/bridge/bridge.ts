import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, isInitializeRequest, isJSONRPCRequest, type InitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AccessPolicy, requestIdentity, sessionFingerprint } from './access';
import { McpChild, type ChildPurpose } from './child';
import { header, readJsonBody, sendBodyError, sendJson, sendJsonRpcError } from './http-util';
import { createLogger } from './logger';
import { MemoryAdmission } from './memory';
import { createMetrics, type BridgeMetrics } from './metrics';
import { resolveOptions, type BridgeOptions, type ResolvedOptions } from './options';
import { WarmPool } from './pool';
import { countZombieChildren } from './proc';
import { Readiness, type ReadinessState } from './readiness';
import { Session, type SessionEndReason, type SessionInfo, type TransportKind } from './session';
import { boundResponse, sendWebResponse, webRequest } from './streams';

export interface BridgeStats {
  readonly sessions: readonly SessionInfo[];
  readonly poolIdle: number;
  /** Every child process the bridge currently owns: sessions, pool and probe. */
  readonly children: number;
  readonly draining: boolean;
}

export interface BridgeHandle {
  /** The streamable HTTP endpoint, e.g. `http://127.0.0.1:8080/mcp`. */
  readonly url: string;
  /** The legacy SSE endpoint, e.g. `http://127.0.0.1:8080/sse`. */
  readonly sseUrl: string;
  readonly port: number;
  readonly metrics: Registry;
  readiness(): ReadinessState;
  stats(): BridgeStats;
  /**
   * Stops accepting sessions, lets requests in flight finish for up to `graceMs` (default
   * `drainGraceMs`), then ends every session and kills every child. Idempotent.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Serves a stdio MCP server over streamable HTTP and legacy SSE, one child per session. */
export async function startBridge(options: BridgeOptions): Promise<BridgeHandle> {
  const bridge = new Bridge(resolveOptions(options), options.logger ?? createLogger(options.logLevel));
  await bridge.listen();
  return bridge.handle();
}

const SSE_KEEPALIVE_MS = 15_000;
const TCP_KEEPALIVE_MS = 30_000;
const TOMBSTONES = 1000;
const RETRY_AFTER_SECONDS = '5';

interface Refusal {
  readonly reason: 'capacity' | 'memory' | 'draining';
  readonly message: string;
}

class Bridge {
  private readonly sessions = new Map<string, Session>();
  /** Why recently ended sessions ended, so a late request gets a 404 that explains itself. */
  private readonly tombstones = new Map<string, string>();
  private readonly children = new Set<McpChild>();
  private readonly server: Server;
  private readonly metrics: BridgeMetrics;
  private readonly pool: WarmPool;
  private readonly readiness: Readiness;
  private readonly access: AccessPolicy;
  /** Refuses sessions that would push the container past its memory limit (a no-op outside a limited cgroup). */
  private readonly memory = new MemoryAdmission();
  private draining = false;
  private closing: Promise<void> | undefined;
  private onSessionsGone: (() => void) | undefined;
  private port = 0;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly log: Logger,
  ) {
    this.metrics = createMetrics(() => countZombieChildren(process.pid, new Set([...this.children].map((child) => child.pid ?? -1))));
    this.access = new AccessPolicy(opts.host, opts.allowedHosts, opts.allowedOrigins);
    this.server = createServer((req, res) => void this.route(req, res));
    this.server.on('connection', (socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_MS));
    this.pool = new WarmPool({
      size: opts.poolSize,
      killGraceMs: opts.killGraceMs,
      spawn: (purpose) => this.spawnChild(purpose),
      logger: log,
      metrics: this.metrics,
      onUnhealthy: (reason) => this.readiness.reportFailure(reason),
    });
    this.readiness = new Readiness({
      spawn: () => this.spawnChild('probe'),
      initTimeoutMs: opts.initTimeoutMs,
      killGraceMs: opts.killGraceMs,
      retryMs: opts.probeRetryMs,
      logger: log,
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    // Children are only started once the port is ours, so a failed start leaks nothing.
    process.on('exit', this.killAllNow);
    if (process.pid === 1) {
      this.log.warn(
        'running as PID 1: Node cannot reap grandchildren orphaned by an MCP server (npx, uvx, sh -c); ' +
          'give the pod an init (shareProcessNamespace: true, or tini) and watch mcp_bridge_zombie_processes',
      );
    }
    this.readiness.start();
    this.pool.start();
    this.log.info(
      {
        url: this.url(this.opts.path),
        command: this.opts.child.command,
        args: this.opts.child.args,
        pool: this.opts.poolSize,
        allowedHosts: this.opts.allowedHosts,
        allowedOrigins: this.opts.allowedOrigins,
      },
      'mcp bridge listening',
    );
  }

  handle(): BridgeHandle {
    return {
      url: this.url(this.opts.path),
      sseUrl: this.url(this.opts.ssePath),
      port: this.port,
      metrics: this.metrics.registry,
      readiness: () => this.readinessState(),
      stats: () => this.stats(),
      close: (options) => this.close(options?.graceMs ?? this.opts.drainGraceMs),
    };
  }

  private url(path: string): string {
    const host = this.opts.host === '0.0.0.0' ? '127.0.0.1' : this.opts.host === '::' ? '::1' : this.opts.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}${path}`;
  }

  private spawnChild(purpose: ChildPurpose): McpChild {
    const child = McpChild.spawn(this.opts.child, {
      logger: this.log,
      maxMessageBytes: this.opts.maxMessageBytes,
      maxBufferedBytes: this.opts.maxBufferedBytes,
      logBudget: { linesPerSecond: this.opts.stderrLinesPerSecond, bytesPerSecond: this.opts.stderrBytesPerSecond },
      purpose,
    });
    this.metrics.childSpawns.inc({ purpose });
    this.children.add(child);
    // Kept until terminated, not merely exited: what an exited server started may still run,
    // and the exit hook must reach it too.
    void child.finished.then(() => this.children.delete(child));
    return child;
  }

  /** A bridge that dies without close() must not orphan its children's process groups. */
  private readonly killAllNow = (): void => {
    for (const child of this.children) child.killNow();
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://bridge.invalid');
      // Every endpoint, probes included: the kubelet sends the pod IP, which is always allowed.
      const refused = this.access.check(req);
      if (refused !== undefined) {
        this.metrics.requestsRefused.inc({ reason: refused.reason });
        this.log.warn({ reason: refused.reason, host: req.headers.host, origin: req.headers.origin, path: url.pathname }, 'refused a request');
        return sendJsonRpcError(res, refused.status, ErrorCode.ConnectionClosed, refused.message, { data: { reason: refused.reason } });
      }
      switch (url.pathname) {
        case '/healthz':
          return sendJson(res, 200, { status: 'ok' });
        case '/readyz':
          return this.serveReadiness(res);
        case '/metrics':
          return await this.serveMetrics(res);
        case this.opts.path:
          return await this.serveStreamable(req, res);
        case this.opts.ssePath:
          return await this.serveSseConnect(req, res);
        case this.opts.messagesPath:
          return await this.serveSseMessage(req, res, url);
        default:
          return sendJson(res, 404, { error: `no such endpoint; MCP is served at ${this.opts.path} (streamable HTTP) and ${this.opts.ssePath} (legacy SSE)` });
      }
    } catch (err) {
      // The path only: a legacy SSE query string carries the session id.
      this.log.error({ err, method: req.method, path: url?.pathname }, 'request failed');
      if (!res.headersSent) sendJsonRpcError(res, 500, ErrorCode.InternalError, 'Internal bridge error');
      else res.end();
    }
  }

  private readinessState(): ReadinessState {
    if (this.draining) return { ready: false, status: 'draining', reason: 'the bridge is shutting down' };
    return this.readiness.snapshot();
  }

  private serveReadiness(res: ServerResponse): void {
    const state = this.readinessState();
    const body = { ...state, sessions: { active: this.sessions.size, max: this.opts.maxSessions }, poolIdle: this.pool.idleCount };
    sendJson(res, state.ready ? 200 : 503, body);
  }

  private async serveMetrics(res: ServerResponse): Promise<void> {
    const text = await this.metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
    res.end(text);
  }

  private async serveStreamable(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined) return this.serveStreamableSession(req, res, sessionId);
    if (req.method === 'POST') return this.openStreamableSession(req, res);
    if (req.method === 'GET' || req.method === 'DELETE') {
      return sendJsonRpcError(res, 400, ErrorCode.ConnectionClosed, 'Bad Request: Mcp-Session-Id header is required');
    }
    return sendJsonRpcError(res, 405, ErrorCode.ConnectionClosed, 'Method not allowed', { headers: { Allow: 'GET, POST, DELETE' } });
  }

  private async serveStreamableSession(req: IncomingMessage, res: ServerResponse, sessionId: string): Promise<void> {
    const session = this.sessionFor(req, sessionId);
    if (session === undefined || !(session.transport instanceof WebStandardStreamableHTTPServerTransport)) {
      return this.sessionNotFound(res, sessionId);
    }
    const transport = session.transport;
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readJsonBody(req, this.opts.maxMessageBytes);
      if (!read.ok) return sendBodyError(req, res, read);
      body = read.value;
    }
    const standalone = req.method === 'GET';
    session.attach(res, standalone);
    const response = await transport.handleRequest(webRequest(req), { parsedBody: body });
    await this.stream(res, response, session, standalone ? 'GET stream' : 'POST answer stream');
  }

  /**
   * Relays a transport response. A client that stops reading one of its streams loses that
   * stream (the session stays; the client may open it again), instead of the bridge buffering
   * what it does not read.
   */
  private stream(res: ServerResponse, response: Response, session: Session, what: string): Promise<void> {
    return sendWebResponse(res, response, this.opts.maxBufferedBytes, (unsent) => {
      this.metrics.streamsCut.inc({ transport: session.kind });
      session.logger.warn({ unsentBytes: unsent, limitBytes: this.opts.maxBufferedBytes }, `the client does not read its ${what}; disconnected it`);
    });
  }

  /**
   * The live session `sessionId` names, if the request may use it: one opened with credentials
   * answers only requests with the same credentials, and to anyone else looks like no session
   * at all (a 404 does not confirm that a guessed or stolen id exists).
   */
  private sessionFor(req: IncomingMessage, sessionId: string): Session | undefined {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return undefined;
    if (session.acceptsIdentity(requestIdentity(req, this.opts.identityHeaders))) return session;
    this.metrics.requestsRefused.inc({ reason: 'identity-mismatch' });
    session.logger.warn({ method: req.method }, 'refused a request on a session with credentials other than the ones that opened it');
    return undefined;
  }

  private async openStreamableSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readJsonBody(req, this.opts.maxMessageBytes);
    if (!read.ok) return sendBodyError(req, res, read);
    const initialize = findInitialize(read.value);
    if (initialize === undefined) {
      return sendJsonRpcError(res, 400, ErrorCode.ConnectionClosed, 'Bad Request: Mcp-Session-Id header is required (only initialize opens a session)');
    }
    if (Array.isArray(read.value) && read.value.length > 1) {
      return sendJsonRpcError(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: initialize must be sent on its own', { id: initialize.id });
    }
    const refusal = this.refusal();
    if (refusal !== undefined) return this.refuse(res, refusal, initialize);

    const id = randomUUID();
    let session: Session | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessionclosed: () => session?.markDeleted(),
    });
    session = this.openSession(id, 'streamable-http', transport, requestIdentity(req, this.opts.identityHeaders));
    session.attach(res);
    const response = await transport.handleRequest(webRequest(req), { parsedBody: read.value });
    // The transport answered without adopting the session (wrong Accept or Content-Type).
    if (transport.sessionId === undefined) void session.end('init-rejected', 'the initialize request was rejected by the transport');
    await this.stream(res, response, session, 'initialize answer stream');
  }

  private async serveSseConnect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // POST here must fail with 4xx so that streamable-first clients fall back to SSE.
    if (req.method !== 'GET') {
      return sendJsonRpcError(res, 405, ErrorCode.ConnectionClosed, 'Method not allowed: open the legacy SSE stream with GET', { headers: { Allow: 'GET' } });
    }
    const refusal = this.refusal();
    if (refusal !== undefined) return this.refuse(res, refusal);
    const transport = new SSEServerTransport(this.opts.messagesPath, res);
    const session = this.openSession(transport.sessionId, 'sse', transport, requestIdentity(req, this.opts.identityHeaders));
    // On legacy SSE every answer rides this one stream: a client that does not read it cannot
    // use the session, and every POST would otherwise get its 202 while the answers pile up here.
    boundResponse(res, this.opts.maxBufferedBytes, (unsent) => {
      this.metrics.streamsCut.inc({ transport: 'sse' });
      void session.end('slow-client', `the client did not read its SSE stream (${unsent} bytes unsent, limit ${this.opts.maxBufferedBytes}); session closed`);
    });
    session.attach(res, true);
    await transport.start();
    // SSEServerTransport sends nothing while idle; proxies cut silent streams, and only a
    // failed write tells us a client vanished without closing its socket.
    const keepalive = setInterval(() => {
      if (!res.writableEnded) res.write(': keepalive\n\n');
    }, SSE_KEEPALIVE_MS);
    res.once('close', () => clearInterval(keepalive));
  }

  private async serveSseMessage(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST') {
      return sendJsonRpcError(res, 405, ErrorCode.ConnectionClosed, 'Method not allowed', { headers: { Allow: 'POST' } });
    }
    const sessionId = url.searchParams.get('sessionId') ?? '';
    const session = this.sessionFor(req, sessionId);
    if (session === undefined || !(session.transport instanceof SSEServerTransport)) return this.sessionNotFound(res, sessionId);
    const transport = session.transport;
    const read = await readJsonBody(req, this.opts.maxMessageBytes);
    if (!read.ok) return sendBodyError(req, res, read);
    session.attach(res);
    await transport.handlePostMessage(req, res, read.value);
  }

  private refusal(): Refusal | undefined {
    if (this.draining) return { reason: 'draining', message: 'The bridge is shutting down; open the session again (another replica will take it)' };
    if (this.sessions.size >= this.opts.maxSessions) {
      return { reason: 'capacity', message: `The bridge is at capacity (${this.opts.maxSessions} sessions); retry later` };
    }
    const memory = this.memory.admit();
    if (memory) return { reason: 'memory', message: memory.message };
    return undefined;
  }

  private refuse(res: ServerResponse, refusal: Refusal, initialize?: InitializeRequestMessage): void {
    this.metrics.sessionsRejected.inc({ reason: refusal.reason });
    this.log.warn({ reason: refusal.reason, sessions: this.sessions.size }, 'refused a new session');
    sendJsonRpcError(res, 503, ErrorCode.ConnectionClosed, refusal.message, {
      id: initialize?.id ?? null,
      headers: { 'Retry-After': RETRY_AFTER_SECONDS },
      data: { reason: refusal.reason },
    });
  }

  private sessionNotFound(res: ServerResponse, sessionId: string): void {
    const why = this.tombstones.get(sessionId);
    // 404 is what the spec prescribes: it tells the client to initialize a new session.
    sendJsonRpcError(res, 404, -32001, why === undefined ? 'Session not found' : `Session not found: ${why}`);
  }

  private openSession<T extends Transport>(id: string, kind: TransportKind, transport: T, identity: string | undefined): Session<T> {
    const { child, warm } = this.pool.take();
    const session = new Session<T>({
      id,
      kind,
      transport,
      identity,
      child,
      warm,
      idleTimeoutMs: this.opts.idleTimeoutMs,
      initTimeoutMs: this.opts.initTimeoutMs,
      killGraceMs: this.opts.killGraceMs,
      logger: this.log,
      metrics: this.metrics,
      hooks: {
        onInitialized: (result) => this.readiness.reportSuccess(result),
        onInitFailure: (reason) => this.readiness.reportFailure(reason),
        onEnd: (ended, reason, detail) => this.forget(ended, reason, detail),
      },
    });
    this.sessions.set(id, session);
    this.metrics.sessionsActive.inc({ transport: kind });
    this.metrics.sessionsTotal.inc({ transport: kind });
    session.start();
    this.log.info({ session: sessionFingerprint(id), transport: kind, childPid: child.pid, warm, boundToCredentials: identity !== undefined }, 'session opened');
    return session;
  }

  private forget(session: Session, reason: SessionEndReason, detail: string): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.tombstones.set(session.id, detail);
    if (this.tombstones.size > TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.metrics.sessionsActive.dec({ transport: session.kind });
    this.metrics.sessionsEnded.inc({ reason });
    if (this.sessions.size === 0) this.onSessionsGone?.();
  }

  private stats(): BridgeStats {
    return {
      sessions: [...this.sessions.values()].map((session) => session.info()),
      poolIdle: this.pool.idleCount,
      children: this.children.size,
      draining: this.draining,
    };
  }

  private close(graceMs: number): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    this.log.info({ sessions: this.sessions.size, graceMs }, 'draining');
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions.values()) session.requestDrain();
    await this.sessionsGone(graceMs);
    await Promise.all([...this.sessions.values()].map((session) => session.end('shutdown')));
    await Promise.all([this.pool.close(), this.readiness.stop()]);
    await Promise.all([...this.children].map((child) => child.terminate(this.opts.killGraceMs)));
    this.server.closeAllConnections();
    await serverClosed;
    process.removeListener('exit', this.killAllNow);
    this.log.info('mcp bridge stopped');
  }

  private sessionsGone(graceMs: number): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, graceMs);
      this.onSessionsGone = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

type InitializeRequestMessage = InitializeRequest & { id: string | number };

function findInitialize(body: unknown): InitializeRequestMessage | undefined {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.find((message): message is InitializeRequestMessage => isJSONRPCRequest(message) && isInitializeRequest(message));
}

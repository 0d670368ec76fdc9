import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  InitializeResultSchema,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type InitializeResult,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCResultResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { sessionFingerprint } from './access';
import { describeExit, type ChildExit, type McpChild } from './child';
import { methodLabel, type BridgeMetrics } from './metrics';

export type TransportKind = 'streamable-http' | 'sse';

export type SessionEndReason =
  | 'deleted' // the client sent DELETE
  | 'client-gone' // the legacy SSE stream closed
  | 'idle-timeout' // no HTTP exchange open for idleTimeoutMs
  | 'child-exited' // the server process died on its own
  | 'init-timeout' // the server never answered initialize
  | 'init-rejected' // the transport refused the initialize request (bad headers, batch, ...)
  | 'protocol-error' // the server broke stdio framing
  | 'slow-client' // the client did not read its legacy SSE stream
  | 'shutdown'; // the bridge is stopping

export interface SessionHooks {
  onInitialized(result: InitializeResult): void;
  onInitFailure(reason: string): void;
  onEnd(session: Session, reason: SessionEndReason, detail: string): void;
}

export interface SessionDeps<T extends Transport> {
  readonly id: string;
  readonly kind: TransportKind;
  readonly transport: T;
  /** Digest of the credentials the session's first request carried; undefined when it carried none. */
  readonly identity: string | undefined;
  readonly child: McpChild;
  /** Whether the child came pre-spawned from the pool. */
  readonly warm: boolean;
  readonly idleTimeoutMs: number;
  readonly initTimeoutMs: number;
  readonly killGraceMs: number;
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;
  readonly hooks: SessionHooks;
}

export interface SessionInfo {
  readonly id: string;
  /** What the logs call the session (the id itself is a credential and never logged). */
  readonly fingerprint: string;
  readonly transport: TransportKind;
  readonly pid: number | undefined;
  readonly warm: boolean;
  readonly initialized: boolean;
  readonly createdAt: string;
  readonly pendingRequests: number;
  readonly openExchanges: number;
}

interface PendingRequest {
  readonly method: string;
  readonly startedAt: number;
  readonly progressToken: string | number | undefined;
}

// Not a JSON-RPC reserved code the SDK defines; LSP uses it for the same situation.
const REQUEST_CANCELLED = -32800;

/**
 * One MCP session: one HTTP transport (streamable or legacy SSE) relaying to one child
 * process that nobody else talks to. The session owns the child and kills it when it ends.
 */
export class Session<T extends Transport = Transport> {
  readonly id: string;
  readonly fingerprint: string;
  readonly kind: TransportKind;
  readonly transport: T;
  readonly createdAt = new Date();

  private readonly pending = new Map<RequestId, PendingRequest>();
  private readonly log: Logger;
  private openExchanges = 0;
  private standaloneStreams = 0;
  private initialized = false;
  private initializeSent = false;
  private deletedByClient = false;
  private drainRequested = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private initTimer: NodeJS.Timeout | undefined;
  private ending: Promise<void> | undefined;

  constructor(private readonly deps: SessionDeps<T>) {
    this.id = deps.id;
    this.fingerprint = sessionFingerprint(deps.id);
    this.kind = deps.kind;
    this.transport = deps.transport;
    this.log = deps.logger.child({ session: this.fingerprint, transport: deps.kind });
  }

  /** Logger tagged with the session's fingerprint. */
  get logger(): Logger {
    return this.log;
  }

  get child(): McpChild {
    return this.deps.child;
  }

  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** Wires transport and child together. Call before the transport handles its first request. */
  start(): void {
    const { transport, child } = this.deps;
    child.setLogger(this.log);
    transport.onmessage = (message) => this.fromClient(message);
    transport.onclose = () => void this.end(this.deletedByClient ? 'deleted' : 'client-gone');
    transport.onerror = (err) => this.log.debug({ err }, 'transport rejected a request');
    child.bind({
      message: (message) => this.fromChild(message),
      exit: (exit) => this.onChildExit(exit),
      fatal: (err) => void this.end('protocol-error', err.message),
    });
    this.armIdleTimer();
  }

  /**
   * Whether a request with `identity` may use this session: a session opened with credentials
   * stays with them, so holding its id is not enough (ids leak: logs, proxies, browser history).
   */
  acceptsIdentity(identity: string | undefined): boolean {
    return this.deps.identity === undefined || this.deps.identity === identity;
  }

  /** The client sent DELETE: the transport is about to close for that reason. */
  markDeleted(): void {
    this.deletedByClient = true;
  }

  /**
   * Counts an HTTP exchange (a POST waiting for its answer, a GET/SSE stream) against the idle
   * timer. A session is idle only while no exchange is open: a connected client is never
   * reaped, a vanished one (its sockets closed) is after idleTimeoutMs.
   */
  attach(res: ServerResponse, standaloneStream = false): void {
    this.openExchanges++;
    if (standaloneStream) this.standaloneStreams++;
    clearTimeout(this.idleTimer);
    res.once('close', () => {
      this.openExchanges--;
      if (standaloneStream) this.standaloneStreams--;
      if (this.openExchanges === 0) this.armIdleTimer();
    });
  }

  /** Ends the session as soon as no request is in flight (now, if none is). */
  requestDrain(): void {
    this.drainRequested = true;
    if (this.pending.size === 0) void this.end('shutdown', 'the bridge is shutting down');
  }

  /** Idempotent: the first reason wins and every caller awaits the same teardown. */
  end(reason: SessionEndReason, detail?: string): Promise<void> {
    if (this.ending === undefined) {
      // Set before teardown runs: its first steps write to the client, and a write can end the
      // session again (a stream over its limit) before an assignment of teardown()'s promise.
      let done!: () => void;
      this.ending = new Promise((resolve) => (done = resolve));
      void this.teardown(reason, detail ?? defaultDetail(reason, this.deps)).finally(done);
    }
    return this.ending;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      fingerprint: this.fingerprint,
      transport: this.kind,
      pid: this.deps.child.pid,
      warm: this.deps.warm,
      initialized: this.initialized,
      createdAt: this.createdAt.toISOString(),
      pendingRequests: this.pending.size,
      openExchanges: this.openExchanges,
    };
  }

  private fromClient(message: JSONRPCMessage): void {
    if (this.ended) return;
    if (isJSONRPCRequest(message) && message.method === 'initialize' && this.initializeSent) {
      // The streamable transport refuses this itself; legacy SSE would pass it through.
      this.sendToClient({ jsonrpc: '2.0', id: message.id, error: { code: ErrorCode.InvalidRequest, message: 'Invalid Request: the session is already initialized' } });
      return;
    }
    if (isJSONRPCRequest(message)) {
      this.pending.set(message.id, {
        method: message.method,
        startedAt: performance.now(),
        progressToken: progressTokenOf(message.params),
      });
      if (message.method === 'initialize') {
        this.initializeSent = true;
        this.armInitTimer();
      }
    } else if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      this.releaseCancelled(message.params?.requestId);
    }
    // A dead child cannot take the message; its exit handler fails what is pending.
    if (this.deps.child.send(message) === 'full') this.refuseUnread(message);
  }

  /**
   * The child has not read what it was sent: queueing more would only grow our memory, so a
   * request is answered with an error at once (a notification is dropped, with a log line).
   */
  private refuseUnread(message: JSONRPCMessage): void {
    const unread = this.deps.child.unreadInputBytes;
    this.log.warn({ unreadBytes: unread, method: 'method' in message ? message.method : undefined }, 'MCP server is not reading its input; message refused');
    if (!isJSONRPCRequest(message)) return;
    const pending = this.pending.get(message.id);
    if (pending !== undefined) this.observe(pending, 'refused');
    this.pending.delete(message.id);
    this.sendToClient({
      jsonrpc: '2.0',
      id: message.id,
      error: { code: ErrorCode.InternalError, message: `MCP server is not reading its input (${unread} bytes unread); request refused`, data: { reason: 'server-busy' } },
    });
  }

  private fromChild(message: JSONRPCMessage): void {
    if (this.ended) return;
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      this.relayResponse(message);
      return;
    }
    this.sendToClient(message, this.routeFor(message));
  }

  private relayResponse(message: JSONRPCResultResponse | JSONRPCErrorResponse): void {
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (message.id === undefined || pending === undefined) {
      // Late answers to cancelled requests land here; the client no longer expects them.
      this.log.debug({ id: message.id }, 'dropping answer to a request that is not pending');
      return;
    }
    this.pending.delete(message.id);
    const outcome = isJSONRPCErrorResponse(message) ? 'error' : 'ok';
    this.observe(pending, outcome);
    if (pending.method === 'initialize') this.onInitializeAnswered(message);
    this.sendToClient(message);
    if (this.drainRequested && this.pending.size === 0) void this.end('shutdown', 'the bridge is shutting down');
  }

  /**
   * The child cannot say which client request a notification or server-to-client request
   * belongs to, and the streamable transport silently drops messages that have neither a
   * related request nor an open GET stream. Progress is matched by its token; anything else
   * goes to the GET stream when the client holds one, else rides the oldest request in flight
   * (server requests such as sampling are made from inside a tool call, which is in flight).
   */
  private routeFor(message: JSONRPCMessage): RequestId | undefined {
    if (this.kind === 'sse') return undefined;
    if (isJSONRPCNotification(message) && message.method === 'notifications/progress') {
      const token = message.params?.progressToken;
      for (const [id, pending] of this.pending) if (pending.progressToken === token) return id;
    }
    if (this.standaloneStreams > 0) return undefined;
    return this.pending.keys().next().value;
  }

  private sendToClient(message: JSONRPCMessage, relatedRequestId?: RequestId): void {
    this.deps.transport
      .send(message, relatedRequestId === undefined ? undefined : { relatedRequestId })
      .catch((err: unknown) => this.log.debug({ err }, 'client stream gone; message not delivered'));
  }

  private onInitializeAnswered(message: JSONRPCResultResponse | JSONRPCErrorResponse): void {
    clearTimeout(this.initTimer);
    if (isJSONRPCErrorResponse(message)) {
      this.log.info({ error: message.error }, 'MCP server rejected the client initialize');
      return;
    }
    const parsed = InitializeResultSchema.safeParse(message.result);
    if (!parsed.success) {
      this.log.warn('MCP server answered initialize with a malformed result');
      return;
    }
    this.initialized = true;
    this.deps.hooks.onInitialized(parsed.data);
    this.log.info(
      { childPid: this.deps.child.pid, warm: this.deps.warm, server: parsed.data.serverInfo, protocolVersion: parsed.data.protocolVersion },
      'session initialized',
    );
  }

  /** The client gave up on a request; answer it ourselves so its HTTP stream can close. */
  private releaseCancelled(requestId: unknown): void {
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const pending = this.pending.get(requestId);
    if (pending === undefined) return;
    this.pending.delete(requestId);
    this.observe(pending, 'cancelled');
    this.sendToClient({ jsonrpc: '2.0', id: requestId, error: { code: REQUEST_CANCELLED, message: 'Request cancelled by the client' } });
  }

  private onChildExit(exit: ChildExit): void {
    if (this.ended) return;
    const tail = this.deps.child.stderrTail;
    const detail = `MCP server process ${describeExit(exit)}; session closed${tail.length ? ` (last stderr: ${tail.at(-1)!.slice(0, 300)})` : ''}`;
    this.deps.metrics.childCrashes.inc({ phase: 'session' });
    this.log.error({ exit, stderrTail: tail }, 'MCP server process died during the session');
    if (!this.initialized) this.deps.hooks.onInitFailure(detail);
    void this.end('child-exited', detail);
  }

  private armIdleTimer(): void {
    if (this.ended) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.end('idle-timeout'), this.deps.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private armInitTimer(): void {
    clearTimeout(this.initTimer);
    this.initTimer = setTimeout(() => {
      const detail = `MCP server did not answer initialize within ${this.deps.initTimeoutMs} ms; session closed`;
      this.deps.hooks.onInitFailure(detail);
      void this.end('init-timeout', detail);
    }, this.deps.initTimeoutMs);
    this.initTimer.unref();
  }

  private async teardown(reason: SessionEndReason, detail: string): Promise<void> {
    clearTimeout(this.idleTimer);
    clearTimeout(this.initTimer);
    this.deps.child.bind({});
    this.deps.hooks.onEnd(this, reason, detail);
    await this.failPending(reason, detail);
    await this.deps.transport.close().catch((err: unknown) => this.log.debug({ err }, 'transport close failed'));
    await this.deps.child.terminate(this.deps.killGraceMs);
    const level = reason === 'child-exited' || reason === 'init-timeout' || reason === 'protocol-error' ? 'warn' : 'info';
    this.log[level]({ reason, detail, durationMs: Date.now() - this.createdAt.getTime() }, 'session ended');
  }

  /** Answers every request still in flight, so no client waits for its own timeout. */
  private async failPending(reason: SessionEndReason, detail: string): Promise<void> {
    const code = reason === 'init-timeout' ? ErrorCode.RequestTimeout : ErrorCode.ConnectionClosed;
    const sends: Promise<void>[] = [];
    for (const [id, pending] of this.pending) {
      this.observe(pending, 'aborted');
      const message: JSONRPCMessage = { jsonrpc: '2.0', id, error: { code, message: detail, data: { reason } } };
      sends.push(this.deps.transport.send(message).catch(() => undefined));
    }
    this.pending.clear();
    await Promise.all(sends);
  }

  private observe(pending: PendingRequest, outcome: string): void {
    const seconds = (performance.now() - pending.startedAt) / 1000;
    this.deps.metrics.requestDuration.observe({ method: methodLabel(pending.method), outcome }, seconds);
  }
}

function defaultDetail(reason: SessionEndReason, deps: { idleTimeoutMs: number }): string {
  switch (reason) {
    case 'deleted':
      return 'the client ended the session';
    case 'client-gone':
      return 'the client disconnected';
    case 'idle-timeout':
      return `no client activity for ${deps.idleTimeoutMs} ms`;
    case 'shutdown':
      return 'the bridge is shutting down';
    default:
      return reason;
  }
}

function progressTokenOf(params: unknown): string | number | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  const meta = (params as { _meta?: unknown })._meta;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const token = (meta as { progressToken?: unknown }).progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

import {
  InitializeResultSchema,
  LATEST_PROTOCOL_VERSION,
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  type Implementation,
  type InitializeResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { describeExit, type McpChild } from './child';

export interface ReadinessState {
  readonly ready: boolean;
  readonly status: 'starting' | 'ready' | 'not-ready' | 'draining';
  /** Why the bridge is (not) ready, for humans reading `kubectl describe` or curl output. */
  readonly reason: string;
  readonly server?: Implementation;
  readonly protocolVersion?: string;
  /** What last proved or disproved readiness: the startup/retry probe or a real session. */
  readonly checkedBy?: 'probe' | 'session';
  readonly checkedAt?: string;
}

export interface ReadinessDeps {
  readonly spawn: () => McpChild;
  readonly initTimeoutMs: number;
  readonly killGraceMs: number;
  readonly retryMs: number;
  readonly logger: Logger;
}

const MAX_RETRY_MS = 60_000;
const PROBE_REQUEST_ID = 'mcp-bridge-readiness-probe';

/**
 * Readiness means "a child of this exact command completed the MCP initialize handshake":
 * a process that merely started proves nothing (wrong args, missing credentials and broken
 * images all start fine). Probe children are killed afterwards, never reused: they have been
 * initialized, and a child must not see a second `initialize`.
 */
export class Readiness {
  private state: ReadinessState = { ready: false, status: 'starting', reason: 'readiness probe has not completed yet' };
  private probing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private stopped = false;
  private probeChild: McpChild | undefined;

  constructor(private readonly deps: ReadinessDeps) {}

  start(): void {
    void this.probe();
  }

  snapshot(): ReadinessState {
    return this.state;
  }

  /** A real session completed initialize: as good a proof as the probe. */
  reportSuccess(result: InitializeResult): void {
    if (this.stopped) return;
    this.consecutiveFailures = 0;
    this.state = readyState(result, 'session');
  }

  /** Something suggests the server no longer starts; re-probe rather than trust one event. */
  reportFailure(reason: string): void {
    if (this.stopped || this.probing || this.retryTimer !== undefined) return;
    this.deps.logger.info({ reason }, 're-checking readiness');
    void this.probe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.probeChild?.terminate(this.deps.killGraceMs);
  }

  private async probe(): Promise<void> {
    this.probing = true;
    const child = this.deps.spawn();
    this.probeChild = child;
    try {
      const result = await initializeHandshake(child, this.deps.initTimeoutMs);
      if (!this.stopped) this.onProbeSuccess(result);
    } catch (err) {
      if (!this.stopped) this.onProbeFailure((err as Error).message);
    } finally {
      this.probing = false;
      await child.terminate(this.deps.killGraceMs);
      this.probeChild = undefined;
    }
  }

  private onProbeSuccess(result: InitializeResult): void {
    this.consecutiveFailures = 0;
    this.state = readyState(result, 'probe');
    this.deps.logger.info({ server: result.serverInfo, protocolVersion: result.protocolVersion }, 'MCP server is ready');
  }

  private onProbeFailure(reason: string): void {
    this.consecutiveFailures++;
    const retryMs = Math.min(MAX_RETRY_MS, this.deps.retryMs * 2 ** (this.consecutiveFailures - 1));
    this.state = { ready: false, status: 'not-ready', reason, checkedBy: 'probe', checkedAt: new Date().toISOString() };
    this.deps.logger.warn({ reason, retryMs }, 'MCP server readiness probe failed');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.probe();
    }, retryMs);
    this.retryTimer.unref();
  }
}

function readyState(result: InitializeResult, checkedBy: 'probe' | 'session'): ReadinessState {
  return {
    ready: true,
    status: 'ready',
    reason: `${result.serverInfo.name} ${result.serverInfo.version} completed initialize`,
    server: result.serverInfo,
    protocolVersion: result.protocolVersion,
    checkedBy,
    checkedAt: new Date().toISOString(),
  };
}

/** Runs initialize + notifications/initialized against a fresh child, as any client would. */
export function initializeHandshake(child: McpChild, timeoutMs: number): Promise<InitializeResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`MCP server did not answer initialize within ${timeoutMs} ms`), timeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      child.bind({});
    };
    const fail = (message: string): void => {
      settle();
      reject(new Error(message));
    };
    child.bind({
      message: (message) => {
        if (isJSONRPCErrorResponse(message) && message.id === PROBE_REQUEST_ID) {
          fail(`MCP server rejected initialize: ${message.error.message}`);
        } else if (isJSONRPCResultResponse(message) && message.id === PROBE_REQUEST_ID) {
          const parsed = InitializeResultSchema.safeParse(message.result);
          if (!parsed.success) return fail('MCP server answered initialize with a malformed result');
          child.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          settle();
          resolve(parsed.data);
        }
      },
      exit: (exit) => fail(`MCP server ${describeExit(exit)} before answering initialize${lastLine(child)}`),
      fatal: (err) => fail(err.message),
    });
    child.send({
      jsonrpc: '2.0',
      id: PROBE_REQUEST_ID,
      method: 'initialize',
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'mcp-bridge-readiness-probe', version: '1' },
      },
    });
  });
}

function lastLine(child: McpChild): string {
  const line = child.stderrTail.at(-1);
  return line === undefined ? '' : ` (stderr: ${line.slice(0, 300)})`;
}

import type { Logger } from 'pino';
import { describeExit, type ChildExit, type ChildPurpose, type McpChild } from './child';
import type { BridgeMetrics } from './metrics';

export interface PoolDeps {
  readonly size: number;
  readonly killGraceMs: number;
  readonly spawn: (purpose: ChildPurpose) => McpChild;
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;
  /** A pooled child died on its own: the server may be broken, so readiness should re-check. */
  readonly onUnhealthy: (reason: string) => void;
}

const MAX_BACKOFF_MS = 30_000;
const BASE_BACKOFF_MS = 250;
const DEFERRED_REFILL_MS = 250;

/**
 * Keeps `size` children started but NOT initialized, so a new session skips process start
 * and module loading, while the client's own `initialize` (its protocol version, capabilities
 * and clientInfo) is still the first and only one the child ever sees.
 */
export class WarmPool {
  private idle: McpChild[] = [];
  private closed = false;
  private consecutiveFailures = 0;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PoolDeps) {}

  start(): void {
    this.fill();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** A child for a new session: a warm one when the pool has one, else a fresh spawn. */
  take(): { child: McpChild; warm: boolean } {
    for (let child = this.idle.shift(); child !== undefined; child = this.idle.shift()) {
      if (!child.alive) continue;
      this.consecutiveFailures = 0;
      this.afterChange();
      return { child, warm: true };
    }
    this.afterChange();
    return { child: this.deps.spawn('session'), warm: false };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    const children = this.idle;
    this.idle = [];
    this.deps.metrics.poolIdle.set(0);
    await Promise.all(children.map((child) => child.terminate(this.deps.killGraceMs)));
  }

  private afterChange(): void {
    this.deps.metrics.poolIdle.set(this.idle.length);
    // Starting a server runtime costs a burst of CPU that would land in the handshake of the
    // session that just took a warm child. While another warm child remains, refill a moment
    // later; with none left, a burst of sessions needs the replacement at once.
    const delayMs = this.idle.length > 0 ? DEFERRED_REFILL_MS : 0;
    setTimeout(() => this.fill(), delayMs).unref();
  }

  private fill(): void {
    if (this.closed || this.refillTimer !== undefined) return;
    while (this.idle.length < this.deps.size) {
      const child = this.deps.spawn('pool');
      child.bind({ exit: (exit) => this.onIdleExit(child, exit) });
      this.idle.push(child);
    }
    this.deps.metrics.poolIdle.set(this.idle.length);
  }

  private onIdleExit(child: McpChild, exit: ChildExit): void {
    const index = this.idle.indexOf(child);
    if (index === -1 || this.closed) return;
    this.idle.splice(index, 1);
    this.deps.metrics.poolIdle.set(this.idle.length);
    this.deps.metrics.childCrashes.inc({ phase: 'pool' });
    this.consecutiveFailures++;
    const reason = `a pre-spawned MCP server ${describeExit(exit)} before any session used it`;
    this.deps.logger.warn({ pid: child.pid, stderrTail: child.stderrTail }, reason);
    this.deps.onUnhealthy(reason);
    // The server is gone, but not necessarily what it started.
    void child.terminate(this.deps.killGraceMs);
    // Back off so a server that dies at start does not turn the bridge into a fork loop.
    const delayMs = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (this.consecutiveFailures - 1));
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.fill();
    }, delayMs);
    this.refillTimer.unref();
  }
}

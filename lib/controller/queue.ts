/**
 * The work queue of controller-runtime/client-go, for string keys: a key is queued at most once,
 * never handed to two workers at once (a key added while it is processed is queued again once,
 * when the worker is done), and failed keys come back after a per-key exponential backoff.
 */
import { backoffDelay } from './backoff';

export interface WorkQueueOptions {
  /** First retry delay of a failing key (controller-runtime: 5 ms). */
  readonly baseDelayMs?: number;
  /** Cap of the retry delay (controller-runtime: 1000 s). */
  readonly maxDelayMs?: number;
  /** Called whenever the number of keys waiting for a worker changes. */
  readonly onDepth?: (depth: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000_000;
  }

  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds the key after `delayMs`; an earlier pending add of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const due = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { timer, due });
  }

  /** Re-adds a failed key after its backoff, which doubles with every failure until `forget`. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const ceiling = backoffDelay(this.baseDelayMs, this.maxDelayMs, n);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Must follow every `get` that returned a key. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  /** Stops handing out keys (workers finish what they hold); pending and delayed keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const resolve of this.waiters.splice(0)) resolve(undefined);
    this.queue.length = 0;
    this.dirty.clear();
    this.opts.onDepth?.(0);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take(key));
      return;
    }
    this.queue.push(key);
    this.opts.onDepth?.(this.queue.length);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    this.opts.onDepth?.(this.queue.length);
    return key;
  }
}

/** Exponential backoff with jitter, so many clients failing together do not retry together. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** The delay before the next retry: between half and all of min(base·2^n, max). */
  next(): number {
    const ceiling = backoffDelay(this.baseMs, this.maxMs, this.attempt);
    this.attempt++;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

export function backoffDelay(baseMs: number, maxMs: number, attempt: number): number {
  // 2^attempt overflows to Infinity long after min() has capped it, which Math.min handles.
  return Math.min(maxMs, baseMs * 2 ** attempt);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

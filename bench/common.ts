/** What every benchmark script here reads and prints the same way. */

/** An integer knob from the environment (e.g. BENCH_N), or its default. */
export function intEnv(name: string, fallback: number): number {
  const value = process.env[name];
  return value === undefined ? fallback : Number.parseInt(value, 10);
}

/** Progress goes to stderr, so a script's stdout stays its result. */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

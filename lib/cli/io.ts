export interface CliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  /** Set by a command that finished without throwing but must not report success. */
  exitCode?: number;
  readStdin(): string;
}

export enum ExitCode {
  Ok = 0,
  /** Invalid input, or the operation failed. */
  Failure = 1,
  /** The command line itself is wrong. */
  Usage = 2,
}

/** A wrong command line (conflicting flags, a bad flag value): exit 2, like commander's own errors. */
export class UsageError extends Error {}

export type OutputFormat = 'yaml' | 'json';

export function parseFormat(value: string): OutputFormat {
  if (value !== 'yaml' && value !== 'json') throw new UsageError(`-o/--output must be yaml or json (got ${JSON.stringify(value)})`);
  return value;
}

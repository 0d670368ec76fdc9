import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { LineFramer, StderrLines } from './framing';

/** The stdio MCP server to run, one process per session. */
export interface ChildCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Full environment of the child; the bridge's own environment when omitted. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Why a child was started: shows up in logs and the spawn metric. */
export type ChildPurpose = 'pool' | 'session' | 'probe';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES, ...). */
  readonly spawnError?: string;
}

export interface ChildHandlers {
  message?(message: JSONRPCMessage): void;
  exit?(exit: ChildExit): void;
  /** The child broke the stdio framing (an over-long line); it cannot be trusted any more. */
  fatal?(error: Error): void;
}

export interface ChildOptions {
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  readonly purpose: ChildPurpose;
}

const STDERR_TAIL_LINES = 20;
const BACKLOG_LIMIT = 100;
// After 'exit', stdout may still hold the child's last answer; give it this long to drain
// before declaring the child gone, so a reply written just before exiting is not lost.
const STDOUT_DRAIN_MS = 200;
const GROUP_POLL_MS = 25;
// After SIGKILL only a zombie can remain; do not let one hold up a shutdown.
const AFTER_KILL_WAIT_MS = 1000;

/** Describes an exit for humans: "exit code 1", "signal SIGKILL", "spawn failed: ...". */
export function describeExit(exit: ChildExit): string {
  if (exit.spawnError !== undefined) return `could not be started: ${exit.spawnError}`;
  if (exit.signal !== null) return `was killed by signal ${exit.signal}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

/**
 * One stdio MCP server process, spawned as the leader of its own process group so that
 * everything it starts (npx → node, uvx → python, sh -c ...) can be signalled at once.
 */
export class McpChild {
  static spawn(cmd: ChildCommand, options: ChildOptions): McpChild {
    return new McpChild(cmd, options);
  }

  readonly pid: number | undefined;
  readonly purpose: ChildPurpose;
  readonly spawnedAt = Date.now();
  /** Resolves once the process is gone and its stdout has drained (or the drain timed out). */
  readonly exited: Promise<ChildExit>;

  private readonly proc: ChildProcess;
  private readonly framer: LineFramer;
  private readonly stderr = new StderrLines();
  private readonly stderrTailLines: string[] = [];
  private handlers: ChildHandlers = {};
  private backlog: JSONRPCMessage[] = [];
  private exitInfo: ChildExit | undefined;
  private exitNotified = false;
  private fatalError: Error | undefined;
  private terminating: Promise<void> | undefined;
  private log: Logger;

  private constructor(cmd: ChildCommand, options: ChildOptions) {
    this.purpose = options.purpose;
    this.framer = new LineFramer(options.maxMessageBytes);
    this.proc = spawn(cmd.command, [...cmd.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: cmd.env ?? process.env,
      cwd: cmd.cwd,
    });
    this.pid = this.proc.pid;
    this.log = options.logger.child({ childPid: this.pid, purpose: this.purpose });
    let resolveExited!: (exit: ChildExit) => void;
    this.exited = new Promise((resolve) => (resolveExited = resolve));
    this.wire(resolveExited);
  }

  get alive(): boolean {
    return this.exitInfo === undefined && this.pid !== undefined;
  }

  /** The last lines the child wrote to stderr: the usual explanation of a crash. */
  get stderrTail(): readonly string[] {
    return this.stderrTailLines;
  }

  /** Tags further log lines (stderr included) with the owning session. */
  setLogger(logger: Logger): void {
    this.log = logger.child({ childPid: this.pid, purpose: this.purpose });
  }

  /**
   * Installs the handlers of the new owner. Messages and an exit that happened while nobody
   * was listening are delivered now, so a hand-over from the pool loses nothing.
   */
  bind(handlers: ChildHandlers): void {
    this.handlers = handlers;
    const backlog = this.backlog;
    this.backlog = [];
    for (const message of backlog) handlers.message?.(message);
    if (this.fatalError !== undefined) handlers.fatal?.(this.fatalError);
    if (this.exitInfo !== undefined && this.exitNotified) handlers.exit?.(this.exitInfo);
  }

  /** Writes one message to the child's stdin; false when the child can no longer take it. */
  send(message: JSONRPCMessage): boolean {
    const stdin = this.proc.stdin;
    if (!this.alive || stdin === null || !stdin.writable) return false;
    stdin.write(serializeMessage(message));
    return true;
  }

  /**
   * Ends the whole process group: SIGTERM, then SIGKILL to whatever is left after `graceMs`.
   * Idempotent; every caller gets the same promise.
   */
  terminate(graceMs: number): Promise<void> {
    this.terminating ??= this.killGroup(graceMs);
    return this.terminating;
  }

  /** Last-resort synchronous kill for process exit, when no timer will ever fire again. */
  killNow(): void {
    if (this.pid !== undefined) signalGroup(this.pid, 'SIGKILL');
  }

  private wire(resolveExited: (exit: ChildExit) => void): void {
    const proc = this.proc;
    proc.stdin?.on('error', (err) => this.log.debug({ err }, 'stdin of MCP server closed'));
    proc.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk));
    proc.stderr?.on('data', (chunk: Buffer) => this.logStderr(this.stderr.push(chunk)));
    proc.stderr?.on('end', () => this.logStderr(this.stderr.flush()));
    proc.on('error', (err) => {
      // 'error' also reports failed kill() calls; only a missing pid means the spawn failed.
      if (this.pid === undefined) this.onExit({ code: null, signal: null, spawnError: err.message }, resolveExited);
      else this.log.debug({ err }, 'child process error');
    });
    proc.on('exit', (code, signal) => this.onExit({ code, signal }, resolveExited));
  }

  private onStdout(chunk: Buffer): void {
    if (this.fatalError !== undefined) return;
    let lines: string[];
    try {
      lines = this.framer.push(chunk);
    } catch (err) {
      this.fatalError = err as Error;
      this.log.error({ err }, 'MCP server broke stdio framing');
      if (this.handlers.fatal) this.handlers.fatal(this.fatalError);
      else void this.terminate(0);
      return;
    }
    for (const line of lines) this.onLine(line);
  }

  private onLine(line: string): void {
    if (line.trim().length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.log.warn({ line: line.slice(0, 512) }, 'ignoring non-JSON line on MCP server stdout');
      return;
    }
    const checked = JSONRPCMessageSchema.safeParse(parsed);
    if (!checked.success) {
      this.log.warn({ line: line.slice(0, 512) }, 'ignoring stdout line that is not a JSON-RPC message');
      return;
    }
    this.deliver(checked.data);
  }

  private deliver(message: JSONRPCMessage): void {
    if (this.handlers.message) {
      this.handlers.message(message);
    } else if (this.backlog.length < BACKLOG_LIMIT) {
      this.backlog.push(message);
    } else {
      this.log.warn('dropping unsolicited message from an MCP server nobody is attached to');
    }
  }

  private logStderr(lines: string[]): void {
    for (const line of lines) {
      this.stderrTailLines.push(line);
      if (this.stderrTailLines.length > STDERR_TAIL_LINES) this.stderrTailLines.shift();
      this.log.info({ stream: 'stderr' }, line);
    }
  }

  private onExit(exit: ChildExit, resolveExited: (exit: ChildExit) => void): void {
    if (this.exitInfo !== undefined) return;
    this.exitInfo = exit;
    const stdout = this.proc.stdout;
    const drained = stdout && !stdout.readableEnded ? onceOrTimeout(stdout, 'end', STDOUT_DRAIN_MS) : Promise.resolve();
    void drained.then(() => {
      this.exitNotified = true;
      resolveExited(exit);
      this.handlers.exit?.(exit);
    });
  }

  private async killGroup(graceMs: number): Promise<void> {
    const pgid = this.pid;
    if (pgid === undefined) return;
    this.proc.stdin?.end();
    if (signalGroup(pgid, 'SIGTERM')) {
      const deadline = Date.now() + graceMs;
      while (groupExists(pgid) && Date.now() < deadline) await delay(GROUP_POLL_MS);
      if (groupExists(pgid)) {
        this.log.warn({ graceMs }, 'MCP server ignored SIGTERM; sending SIGKILL to its process group');
        signalGroup(pgid, 'SIGKILL');
      }
    }
    await Promise.race([this.exited, delay(AFTER_KILL_WAIT_MS, undefined, { ref: false })]);
  }
}

/** Signals every process in the group; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // EPERM means members exist that we may not signal; still a live group.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function groupExists(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

function onceOrTimeout(emitter: NodeJS.EventEmitter, event: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    emitter.once(event, done);
    function done(): void {
      clearTimeout(timer);
      emitter.removeListener(event, done);
      resolve();
    }
  });
}

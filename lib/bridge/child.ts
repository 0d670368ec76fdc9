import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { escapeControl, LineFramer, LogBudget, StderrLines, truncate, type LogBudgetOptions } from './framing';
import { PROC_SNAPSHOTS, PROCESS_TAG_VARIABLE, ProcessTree, signalProcess, snapshotProcs, type ProcEntry } from './proc';

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
  /** Bytes that may wait in the child's stdin; past that, `send` refuses (the child is not reading). */
  readonly maxBufferedBytes: number;
  /** How much of the child's stderr (and stdout junk) reaches the log. */
  readonly logBudget: LogBudgetOptions;
  readonly purpose: ChildPurpose;
}

/** What became of a message handed to {@link McpChild.send}. */
export type SendResult = 'sent' | 'gone' | 'full';

const STDERR_TAIL_LINES = 20;
const BACKLOG_LIMIT = 100;
// After 'exit', stdout may still hold the child's last answer; give it this long to drain
// before declaring the child gone, so a reply written just before exiting is not lost.
const STDOUT_DRAIN_MS = 200;
const TREE_POLL_MS = 50;
const KILL_ROUNDS = 20;
// After SIGKILL only a zombie can remain; do not let one hold up a shutdown.
const AFTER_KILL_WAIT_MS = 1000;
// How often live children's process trees are re-scanned, so a `setsid` descendant is known by
// its ids before its parent exits (the environment tag also finds it, unless it cleared its env).
const TREE_SCAN_MS = 2000;
const SUPPRESSED_SUMMARY_MS = 1000;

/** Describes an exit for humans: "exit code 1", "signal SIGKILL", "spawn failed: ...". */
export function describeExit(exit: ChildExit): string {
  if (exit.spawnError !== undefined) return `could not be started: ${exit.spawnError}`;
  if (exit.signal !== null) return `was killed by signal ${exit.signal}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

/**
 * One stdio MCP server process, spawned as the leader of its own session and process group,
 * with a {@link ProcessTree} following everything it starts (npx → node, uvx → python,
 * sh -c ..., and whatever leaves the group with setpgid/setsid), so all of it ends with it.
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
  /** Resolves once {@link terminate} has ended the child and everything it started. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  private readonly proc: ChildProcess;
  private readonly framer: LineFramer;
  private readonly stderr = new StderrLines();
  private readonly stderrTailLines: string[] = [];
  private readonly logBudget: LogBudget;
  private readonly maxBufferedBytes: number;
  private readonly tree: ProcessTree | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
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
    this.logBudget = new LogBudget(options.logBudget);
    this.maxBufferedBytes = options.maxBufferedBytes;
    const tag = `${process.pid}-${randomBytes(12).toString('hex')}`;
    this.proc = spawn(cmd.command, [...cmd.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // setsid(): the child leads a new session and process group, so its ids name its tree.
      detached: true,
      env: { ...(cmd.env ?? process.env), [PROCESS_TAG_VARIABLE]: tag },
      cwd: cmd.cwd,
    });
    this.pid = this.proc.pid;
    if (this.pid !== undefined) {
      this.tree = new ProcessTree(this.pid, tag);
      LIVE_TREES.add(this.tree);
      ensureTreeScan();
    }
    this.log = options.logger.child({ childPid: this.pid, purpose: this.purpose });
    let resolveExited!: (exit: ChildExit) => void;
    this.exited = new Promise((resolve) => (resolveExited = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
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

  /**
   * Writes one message to the child's stdin: `gone` when the child can no longer take it,
   * `full` when it has not read what it was already given (the message is not queued).
   */
  send(message: JSONRPCMessage): SendResult {
    const stdin = this.proc.stdin;
    if (!this.alive || stdin === null || !stdin.writable) return 'gone';
    const line = serializeMessage(message);
    if (stdin.writableLength > 0 && stdin.writableLength + Buffer.byteLength(line) > this.maxBufferedBytes) return 'full';
    stdin.write(line);
    return 'sent';
  }

  /** Bytes written to the child's stdin that it has not read yet. */
  get unreadInputBytes(): number {
    return this.proc.stdin?.writableLength ?? 0;
  }

  /**
   * Ends everything the child started: SIGTERM to its process group and every process of its
   * tree, then SIGKILL to whatever is left after `graceMs`. Idempotent; every caller gets the
   * same promise.
   */
  terminate(graceMs: number): Promise<void> {
    this.terminating ??= this.killTree(graceMs).finally(() => this.resolveFinished());
    return this.terminating;
  }

  /** Last-resort synchronous kill for process exit, when no timer will ever fire again. */
  killNow(): void {
    if (this.pid === undefined) return;
    signalGroup(this.pid, 'SIGKILL');
    killAll(this.tree?.observe(snapshotProcs()) ?? [], 'SIGKILL');
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
      this.logJunk('ignoring non-JSON line on MCP server stdout', line);
      return;
    }
    const checked = JSONRPCMessageSchema.safeParse(parsed);
    if (!checked.success) {
      this.logJunk('ignoring stdout line that is not a JSON-RPC message', line);
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
      if (this.logBudget.take(line.length)) this.log.info({ stream: 'stderr' }, line);
      else this.armSuppressedSummary();
    }
  }

  /** Child output that is not a message: logged within the same budget as stderr. */
  private logJunk(message: string, line: string): void {
    const shown = truncate(escapeControl(line.slice(0, 1024)), 512);
    if (this.logBudget.take(shown.length)) this.log.warn({ stream: 'stdout', line: shown }, message);
    else this.armSuppressedSummary();
  }

  /** While output is being suppressed, say so once a second (and once more when it stops). */
  private armSuppressedSummary(): void {
    if (this.summaryTimer !== undefined) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      const suppressed = this.logBudget.drainSuppressed();
      if (suppressed === undefined) return;
      this.log.warn(
        { stream: 'stderr', suppressedLines: suppressed.lines, suppressedBytes: suppressed.bytes },
        `suppressed ${suppressed.lines} lines (${suppressed.bytes} bytes) of MCP server output over the log budget`,
      );
    }, SUPPRESSED_SUMMARY_MS);
    this.summaryTimer.unref();
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

  private async killTree(graceMs: number): Promise<void> {
    const pgid = this.pid;
    if (pgid === undefined || this.tree === undefined) return;
    const tree = this.tree;
    this.proc.stdin?.end();
    let members = tree.observe(PROC_SNAPSHOTS.fresh());
    signalGroup(pgid, 'SIGTERM');
    killAll(members, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while ((members.length > 0 || groupExists(pgid)) && Date.now() < deadline) {
      await delay(TREE_POLL_MS);
      members = tree.observe(PROC_SNAPSHOTS.get());
    }
    members = tree.observe(PROC_SNAPSHOTS.fresh());
    if (members.length > 0 || groupExists(pgid)) {
      this.log.warn({ graceMs, survivors: members.length, escapedGroups: new Set(members.map((m) => m.pgid)).size }, 'MCP server ignored SIGTERM; sending SIGKILL to its process group');
      // Rounds, because a member may fork between our scan and its kill.
      for (let round = 0; round < KILL_ROUNDS && (members.length > 0 || groupExists(pgid)); round++) {
        signalGroup(pgid, 'SIGKILL');
        killAll(members, 'SIGKILL');
        await delay(round === 0 ? 0 : TREE_POLL_MS);
        members = tree.observe(PROC_SNAPSHOTS.fresh());
      }
      if (members.length > 0) this.log.error({ survivors: members.map((m) => m.pid) }, 'MCP server processes survived SIGKILL');
    }
    LIVE_TREES.delete(tree);
    await Promise.race([this.exited, delay(AFTER_KILL_WAIT_MS, undefined, { ref: false })]);
  }
}

/** Trees of children not yet terminated, re-scanned together from one snapshot. */
const LIVE_TREES = new Set<ProcessTree>();
let treeScanTimer: NodeJS.Timeout | undefined;

function ensureTreeScan(): void {
  if (treeScanTimer !== undefined) return;
  treeScanTimer = setInterval(() => {
    if (LIVE_TREES.size === 0) {
      clearInterval(treeScanTimer);
      treeScanTimer = undefined;
      return;
    }
    const snapshot = PROC_SNAPSHOTS.get();
    // A tree with nothing left to follow is done; terminate() still does a full scan of its own.
    for (const tree of LIVE_TREES) if (tree.observe(snapshot, false).length === 0) LIVE_TREES.delete(tree);
  }, TREE_SCAN_MS);
  treeScanTimer.unref();
}

/** SIGKILL/SIGTERM to every member and to every process group a member leads or belongs to. */
function killAll(members: readonly ProcEntry[], signal: NodeJS.Signals): void {
  const groups = new Set<number>();
  for (const member of members) {
    signalProcess(member, signal);
    groups.add(member.pgid);
  }
  // Members' groups hold only members (a group never spans sessions, and members' sessions are
  // tracked), and catch a process forked after the snapshot.
  if (signal === 'SIGKILL') for (const group of groups) signalGroup(group, signal);
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

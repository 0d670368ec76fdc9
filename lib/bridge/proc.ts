import { readdirSync, readFileSync } from 'node:fs';

/** One line of `/proc/<pid>/stat`, the fields process tracking needs. */
export interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly state: string;
  /** Clock ticks since boot: with the pid, it names one process (pids are reused, this pair is not). */
  readonly startTime: number;
}

/** Every process on the machine at one instant (empty where there is no `/proc`). */
export type ProcSnapshot = ReadonlyMap<number, ProcEntry>;

export function snapshotProcs(): ProcSnapshot {
  const snapshot = new Map<number, ProcEntry>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return snapshot; // not Linux
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== undefined) snapshot.set(stat.pid, stat);
  }
  return snapshot;
}

export function readStat(pid: number): ProcEntry | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited while we listed /proc
  }
  // The command name (field 2) may contain spaces and ')': fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); ppid 4, pgrp 5, session 6, starttime 22.
  return {
    pid,
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    sid: Number(fields[3]),
    startTime: Number(fields[19]),
  };
}

/**
 * Counts zombie processes whose parent is this process.
 *
 * When the bridge is PID 1 of a container, grandchildren orphaned by a dying MCP server
 * (npx → node, uvx → python) are re-parented to it, and Node only ever reaps the children it
 * spawned itself. Their zombies then pile up until the pod's PID limit is hit. This number makes
 * that visible; the fix is an init in the pod (shareProcessNamespace, or tini).
 */
export function countZombieChildren(parent: number, ownChildren: ReadonlySet<number>, snapshot: ProcSnapshot = snapshotProcs()): number {
  let zombies = 0;
  for (const stat of snapshot.values()) {
    // A child we spawned is a zombie only until libuv's SIGCHLD handler reaps it: not a leak.
    if (stat.ppid === parent && stat.state === 'Z' && !ownChildren.has(stat.pid)) zombies++;
  }
  return zombies;
}

/**
 * The environment variable every child carries with a value unique to it. Descendants inherit
 * it, so a process that both left the child's session (`setsid`) and lost its parent (a
 * double fork) is still recognised as the child's.
 */
export const PROCESS_TAG_VARIABLE = 'MCP_BRIDGE_PROCESS_TAG';

/**
 * Everything one child process started, however it tried to leave: the child is the leader of
 * its own session and process group, so this tracks
 *
 * - every process of the child's session, and of any session or process group a member has
 *   (`setpgid` jobs, `setsid` daemons, groups whose leader already exited),
 * - every process whose parent is a member (a `setsid` child while its parent lives),
 * - every process started after the child whose environment carries the child's tag
 *   (a double-forked `setsid` daemon whose parent is gone),
 *
 * re-evaluated against each fresh snapshot of `/proc`. Session and group ids count only while a
 * member still carries them: Linux does not hand out such an id to a new process until its last
 * member is gone, so a live id cannot name a stranger, a stale one could.
 */
export class ProcessTree {
  /** pid → start time of every process seen as a member and not yet seen gone. */
  private readonly members = new Map<number, number>();
  /** Session and process-group ids of members, kept only while some process still carries them. */
  private readonly ids = new Set<number>();
  private readonly rootStartTime: number | undefined;

  constructor(
    readonly rootPid: number,
    private readonly tag: string,
    snapshot: ProcSnapshot = new Map(),
  ) {
    const root = snapshot.get(rootPid) ?? readStat(rootPid);
    this.rootStartTime = root?.startTime;
    if (root !== undefined) {
      this.members.set(rootPid, root.startTime);
      this.ids.add(rootPid);
    }
  }

  /**
   * Updates membership from `snapshot` and returns the members alive in it (zombies excluded).
   * `byTag` also reads the environment of every unattributed newer process: costly, so it is
   * for cleanup, where a missed orphan would survive; periodic scans only follow ids and parents.
   */
  observe(snapshot: ProcSnapshot, byTag = true): ProcEntry[] {
    const since = this.rootStartTime;
    if (since === undefined) return [];
    const carried = new Set<number>();
    for (const entry of snapshot.values()) carried.add(entry.sid).add(entry.pgid);
    for (const id of this.ids) if (!carried.has(id)) this.ids.delete(id);

    const found = new Map<number, ProcEntry>();
    const adopt = (entry: ProcEntry): void => {
      found.set(entry.pid, entry);
      this.ids.add(entry.sid).add(entry.pgid);
    };
    for (const entry of snapshot.values()) if (this.members.get(entry.pid) === entry.startTime) adopt(entry);
    // Fixpoint: each new member may bring its session, group and children along. A descendant
    // cannot have started before the child, which also keeps strangers with a reused id out.
    for (let grew = true; grew; ) {
      grew = false;
      for (const entry of snapshot.values()) {
        if (found.has(entry.pid) || entry.startTime < since) continue;
        const parent = found.get(entry.ppid);
        if (this.ids.has(entry.sid) || this.ids.has(entry.pgid) || (parent !== undefined && entry.startTime >= parent.startTime)) {
          adopt(entry);
          grew = true;
        }
      }
    }
    // Last resort for orphans that left the session: the inherited tag (readable for our own uid).
    for (const entry of byTag ? snapshot.values() : []) {
      if (!found.has(entry.pid) && entry.startTime >= since && entry.state !== 'Z' && carriesTag(entry.pid, this.tag)) adopt(entry);
    }
    this.members.clear();
    for (const entry of found.values()) this.members.set(entry.pid, entry.startTime);
    return [...found.values()].filter((entry) => entry.state !== 'Z');
  }
}

function carriesTag(pid: number, tag: string): boolean {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false; // another user's process, or gone
  }
  const entry = Buffer.from(`${PROCESS_TAG_VARIABLE}=${tag}\0`);
  return environ.indexOf(entry) === 0 || environ.includes(Buffer.concat([Buffer.from([0]), entry]));
}

/**
 * One `/proc` snapshot shared by every caller within `maxAgeMs`: a shutdown terminates all
 * children at once, and each polling its own snapshot would read `/proc` hundreds of times a second.
 */
export class SharedSnapshots {
  private latest: { at: number; snapshot: ProcSnapshot } | undefined;

  constructor(private readonly maxAgeMs = 40) {}

  get(): ProcSnapshot {
    const now = Date.now();
    if (this.latest === undefined || now - this.latest.at > this.maxAgeMs) this.latest = { at: now, snapshot: snapshotProcs() };
    return this.latest.snapshot;
  }

  /** A snapshot taken now, for decisions that must not act on a stale view (the last kill round). */
  fresh(): ProcSnapshot {
    this.latest = { at: Date.now(), snapshot: snapshotProcs() };
    return this.latest.snapshot;
  }
}

export const PROC_SNAPSHOTS = new SharedSnapshots();

/** Signals one process if it is still the one we saw (same start time); false when it is gone. */
export function signalProcess(entry: ProcEntry, signal: NodeJS.Signals): boolean {
  const now = readStat(entry.pid);
  if (now === undefined || now.startTime !== entry.startTime) return false;
  try {
    process.kill(entry.pid, signal);
    return true;
  } catch {
    return false;
  }
}

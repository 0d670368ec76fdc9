import { readdirSync, readFileSync } from 'node:fs';

/**
 * Counts zombie processes whose parent is this process.
 *
 * When the bridge is PID 1 of a container, grandchildren orphaned by a dying MCP server
 * (npx → node, uvx → python) are re-parented to it, and Node only ever reaps the children it
 * spawned itself. Their zombies then pile up until the pod's PID limit is hit. This number makes
 * that visible; the fix is an init in the pod (shareProcessNamespace, or tini).
 */
export function countZombieChildren(parent: number, ownChildren: ReadonlySet<number>): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0; // not Linux
  }
  let zombies = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    // A child we spawned is a zombie only until libuv's SIGCHLD handler reaps it: not a leak.
    if (stat !== undefined && stat.ppid === parent && stat.state === 'Z' && !ownChildren.has(Number(entry))) zombies++;
  }
  return zombies;
}

function readStat(pid: string): { state: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and ')': fields resume after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return undefined; // exited while we listed /proc
  }
}

/**
 * Admission by memory: a new session starts a server process, and a container that passes its memory
 * limit is OOM-killed with every session in it. So the bridge reads its own cgroup (the container's)
 * and refuses a session that would take the working set past a share of the limit: a clear 503 for
 * the one client, long before the kernel would end them all.
 */
import { readFileSync } from 'fs';

export interface MemoryReading {
  /** Bytes the kernel would count toward an OOM kill: usage less reclaimable file cache (what the kubelet calls the working set). */
  readonly workingSet: number;
  readonly limit: number;
}

/** Limits at or above this are "no limit" (cgroup v1 writes 2^63 rounded down to a page). */
const UNLIMITED = 2 ** 60;

function readNumber(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === 'max') return Infinity;
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function statField(path: string, field: string): number {
  try {
    const line = readFileSync(path, 'utf8').split('\n').find((l) => l.startsWith(`${field} `));
    return line ? Number(line.slice(field.length + 1)) || 0 : 0;
  } catch {
    return 0;
  }
}

/**
 * The memory limit and working set of the cgroup this process is in, as seen inside a container
 * (cgroup v2 at /sys/fs/cgroup, v1 at /sys/fs/cgroup/memory); undefined without a limit.
 */
export function readCgroupMemory(root = '/sys/fs/cgroup'): MemoryReading | undefined {
  const v2Limit = readNumber(`${root}/memory.max`);
  if (v2Limit !== undefined) {
    const usage = readNumber(`${root}/memory.current`);
    if (usage === undefined || v2Limit >= UNLIMITED) return undefined;
    return { limit: v2Limit, workingSet: Math.max(0, usage - statField(`${root}/memory.stat`, 'inactive_file')) };
  }
  const v1Limit = readNumber(`${root}/memory/memory.limit_in_bytes`);
  const v1Usage = readNumber(`${root}/memory/memory.usage_in_bytes`);
  if (v1Limit === undefined || v1Usage === undefined || v1Limit >= UNLIMITED) return undefined;
  return { limit: v1Limit, workingSet: Math.max(0, v1Usage - statField(`${root}/memory/memory.stat`, 'total_inactive_file')) };
}

export interface MemoryAdmissionOptions {
  /** Share of the limit the working set may reach with the new session counted. Default 0.85. */
  readonly maxShare?: number;
  /** Memory a session is assumed to add until one is measured. Default 96 MiB (server-everything takes about 85). */
  readonly sessionBytes?: number;
  /** How long a new session's process is still growing, so it is counted at its estimate. Default 5 s. */
  readonly growthMs?: number;
  readonly read?: () => MemoryReading | undefined;
  readonly now?: () => number;
}

export interface MemoryRefusal {
  readonly message: string;
}

export class MemoryAdmission {
  private readonly maxShare: number;
  private sessionBytes: number;
  private readonly growthMs: number;
  private readonly read: () => MemoryReading | undefined;
  private readonly now: () => number;
  /** When sessions were admitted recently: their processes may not show their full size yet. */
  private readonly recent: number[] = [];

  constructor(options: MemoryAdmissionOptions = {}) {
    this.maxShare = options.maxShare ?? 0.85;
    this.sessionBytes = options.sessionBytes ?? 96 * 1024 * 1024;
    this.growthMs = options.growthMs ?? 5_000;
    this.read = options.read ?? (() => readCgroupMemory());
    this.now = options.now ?? Date.now;
  }

  /** undefined to admit (and count) a session, or why not. */
  admit(): MemoryRefusal | undefined {
    const reading = this.read();
    if (!reading) return undefined;
    const now = this.now();
    while (this.recent.length > 0 && now - this.recent[0]! > this.growthMs) this.recent.shift();
    const projected = reading.workingSet + (this.recent.length + 1) * this.sessionBytes;
    const budget = reading.limit * this.maxShare;
    if (projected > budget) {
      return {
        message: `The MCP server's container is near its memory limit (${mib(reading.workingSet)} of ${mib(reading.limit)} in use; `
          + `a session needs about ${mib(this.sessionBytes)}); retry later, or raise resources.limits.memory or replicas`,
      };
    }
    this.recent.push(now);
    return undefined;
  }

  /** A measured session process: later estimates use the largest seen, so a big server is not under-counted. */
  observeSession(bytes: number): void {
    if (bytes > this.sessionBytes) this.sessionBytes = bytes;
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/**
 * Why a server's pods are not ready, in the words `kubectl describe mcpserver` should show: read from
 * the pods the Deployment owns (a label-selected informer, so no list per reconcile), pure so the
 * status it feeds stays a function of what was observed.
 */
import { KubeObject } from './kube';
import { terminalSafe } from '../util/terminal';

export interface PodIssue {
  /** A Kubernetes reason (CrashLoopBackOff, ImagePullBackOff, Unschedulable, OOMKilled, …) or NotReady. */
  readonly reason: string;
  readonly message: string;
}

interface ContainerState {
  readonly waiting?: { reason?: string; message?: string };
  readonly running?: { startedAt?: string };
  readonly terminated?: { reason?: string; message?: string; exitCode?: number; signal?: number };
}

interface ContainerStatus {
  readonly name: string;
  readonly ready?: boolean;
  readonly restartCount?: number;
  readonly state?: ContainerState;
  readonly lastState?: ContainerState;
}

interface PodStatus {
  readonly phase?: string;
  readonly conditions?: { type: string; status: string; reason?: string; message?: string }[];
  readonly containerStatuses?: ContainerStatus[];
  readonly initContainerStatuses?: ContainerStatus[];
}

/** Waiting reasons that mean the container will not start without a change (or only after a back-off). */
const STUCK_WAITING = new Set([
  'CrashLoopBackOff', 'ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName',
  'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'PreCreateHookError', 'PostStartHookError',
]);

/** Longest message taken from a pod: termination messages can be 4 KiB of logs. */
const MAX_MESSAGE = 512;

/**
 * A container that runs but is not ready is normal while it starts (readiness probe delay plus a few
 * failed periods); only past this is it reported.
 */
export const NOT_READY_GRACE_MS = 45_000;

/** The first problem among the pods, most severe first; undefined when none is visible (yet). */
export function podIssue(pods: readonly KubeObject[], now = Date.now()): PodIssue | undefined {
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  const issues = live.map((p) => issueOf(p, now)).filter((i): i is PodIssue & { rank: number } => i !== undefined);
  issues.sort((a, b) => a.rank - b.rank);
  const first = issues[0];
  return first && { reason: first.reason, message: first.message };
}

function issueOf(pod: KubeObject, now: number): (PodIssue & { rank: number }) | undefined {
  const status = (pod.status ?? {}) as PodStatus;
  const name = pod.metadata.name;
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { rank: 1, reason: 'Unschedulable', message: `pod ${name} cannot be scheduled: ${clip(scheduled.message ?? 'no node fits')}` };
  }
  for (const [kind, statuses] of [['init container', status.initContainerStatuses], ['container', status.containerStatuses]] as const) {
    for (const c of statuses ?? []) {
      const waiting = c.state?.waiting;
      if (waiting?.reason && STUCK_WAITING.has(waiting.reason)) {
        const last = lastTermination(c.lastState?.terminated);
        const detail = waiting.reason === 'CrashLoopBackOff' ? last ?? clip(waiting.message ?? '') : clip(waiting.message ?? '');
        return {
          rank: 0,
          reason: waiting.reason,
          message: `pod ${name}, ${kind} ${c.name}${c.restartCount ? ` (restarted ${c.restartCount}×)` : ''}: ${detail || waiting.reason}`,
        };
      }
      const terminated = c.state?.terminated ?? c.lastState?.terminated;
      if (terminated?.reason === 'OOMKilled') {
        return { rank: 0, reason: 'OOMKilled', message: `pod ${name}, ${kind} ${c.name} was killed for exceeding its memory limit` };
      }
    }
  }
  const notReady = (status.containerStatuses ?? []).find((c) =>
    c.state?.running && c.ready === false && now - Date.parse(c.state.running.startedAt ?? '') > NOT_READY_GRACE_MS);
  if (notReady) {
    return {
      rank: 2,
      reason: 'NotReady',
      message: `pod ${name}, container ${notReady.name} runs but fails its readiness probe (the MCP endpoint does not answer yet)`,
    };
  }
  return undefined;
}

function lastTermination(t: ContainerState['terminated']): string | undefined {
  if (!t) return undefined;
  const how = t.signal ? `killed by signal ${t.signal}` : `exited with code ${t.exitCode ?? '?'}`;
  const message = t.message?.trim();
  return `last run ${how}${t.reason && t.reason !== 'Error' && t.reason !== 'Completed' ? ` (${t.reason})` : ''}${message ? `: ${clip(message)}` : ''}`;
}

/**
 * The end of a long message (the last log lines say most), on one line, through the same sanitiser
 * the CLI uses for external text: `kubectl describe` prints it to a terminal.
 */
function clip(text: string): string {
  const flat = terminalSafe(text).replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE ? `…${flat.slice(flat.length - MAX_MESSAGE + 1)}` : flat;
}

/**
 * The MCPServer status as a pure function of what one reconcile found, so a resync that finds the
 * same world computes the same status and writes nothing.
 */
import { jsonEqual } from './compare';
import { KubeObject } from './kube';
import { PodIssue } from './pods';
import { MCPServerStatus } from '../spec/mcpserver';

export type Condition = NonNullable<MCPServerStatus['conditions']>[number];
export type ConditionStatus = Condition['status'];
export type Phase = NonNullable<MCPServerStatus['phase']>;

export const CONDITION_ACCEPTED = 'Accepted';
export const CONDITION_REGISTRY_RESOLVED = 'RegistryResolved';
export const CONDITION_AVAILABLE = 'Available';
export const CONDITION_PROGRESSING = 'Progressing';
export const CONDITION_VERIFIED = 'Verified';

export interface ConditionInput {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** A step that failed and keeps the server from running: it makes the phase Failed. */
export interface Failure {
  /** The condition that carries it. */
  readonly condition: typeof CONDITION_ACCEPTED | typeof CONDITION_REGISTRY_RESOLVED | typeof CONDITION_PROGRESSING;
  readonly reason: string;
  readonly message: string;
}

export interface Observed {
  readonly generation: number;
  readonly terminating: boolean;
  readonly failure?: Failure;
  /** The spec references the MCP Registry (status then reports registryVersion). */
  readonly usesRegistry?: boolean;
  readonly deployment?: KubeObject;
  readonly selector: string;
  /** From the objects just applied; undefined (keep the previous value) when nothing was applied. */
  readonly image?: string;
  readonly url?: string;
  readonly registryVersion?: string;
  readonly verification?: { readonly ok: boolean; readonly tools?: number; readonly reason: string; readonly message: string };
  /** Why pods are not ready, from the pods themselves; only looked at while the server is unavailable. */
  readonly podIssue?: PodIssue;
}

interface DeploymentView {
  readonly desired: number;
  readonly replicas: number;
  readonly ready: number;
  readonly observed: boolean;
}

export function deploymentView(deployment: KubeObject | undefined): DeploymentView | undefined {
  if (!deployment) return undefined;
  const spec = deployment.spec as { replicas?: number } | undefined;
  const status = (deployment.status ?? {}) as { replicas?: number; readyReplicas?: number; observedGeneration?: number };
  return {
    desired: spec?.replicas ?? 1,
    replicas: status.replicas ?? 0,
    ready: status.readyReplicas ?? 0,
    observed: (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0),
  };
}

/** Available once the Deployment controller has seen the current spec and enough pods are ready. */
export function isAvailable(view: DeploymentView | undefined): boolean {
  return view !== undefined && view.observed && view.ready >= view.desired;
}

/** Condition timestamps in the seconds precision of metav1.Time, as every Kubernetes controller writes them. */
export function conditionTime(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function computeStatus(previous: MCPServerStatus | undefined, observed: Observed, now: string): MCPServerStatus {
  const view = deploymentView(observed.deployment);
  const available = isAvailable(view);
  const conditions: ConditionInput[] = [
    acceptedCondition(observed),
    registryCondition(observed),
    availableCondition(view, available, observed.podIssue),
    progressingCondition(observed, view, available),
  ];
  if (observed.verification) {
    const v = observed.verification;
    conditions.push({ type: CONDITION_VERIFIED, status: v.ok ? 'True' : 'False', reason: v.reason, message: v.message });
  }
  const status: MCPServerStatus = {
    phase: phaseOf(observed, available),
    replicas: view?.replicas ?? 0,
    readyReplicas: view?.ready ?? 0,
    observedGeneration: observed.generation,
    selector: observed.selector,
  };
  const image = observed.image ?? previous?.image;
  if (image !== undefined) status.image = image;
  const registryVersion = observed.usesRegistry ? observed.registryVersion ?? previous?.registryVersion : undefined;
  if (registryVersion !== undefined) status.registryVersion = registryVersion;
  const url = observed.url ?? previous?.url;
  if (url !== undefined) status.url = url;
  const tools = observed.verification ? observed.verification.tools : undefined;
  if (tools !== undefined) status.tools = tools;
  status.conditions = mergeConditions(previous?.conditions ?? [], conditions, observed.generation, now);
  return status;
}

function phaseOf(observed: Observed, available: boolean): Phase {
  if (observed.terminating) return 'Terminating';
  if (observed.failure) return 'Failed';
  return available ? 'Running' : 'Pending';
}

function acceptedCondition(o: Observed): ConditionInput {
  if (o.failure?.condition === CONDITION_ACCEPTED) return { type: CONDITION_ACCEPTED, status: 'False', reason: o.failure.reason, message: o.failure.message };
  return { type: CONDITION_ACCEPTED, status: 'True', reason: 'Valid', message: 'the spec is valid' };
}

function registryCondition(o: Observed): ConditionInput {
  const type = CONDITION_REGISTRY_RESOLVED;
  if (o.failure?.condition === type) return { type, status: 'False', reason: o.failure.reason, message: o.failure.message };
  if (o.failure?.condition === CONDITION_ACCEPTED) return { type, status: 'Unknown', reason: 'SpecInvalid', message: 'not attempted: the spec is invalid' };
  if (!o.usesRegistry) return { type, status: 'True', reason: 'NotRequired', message: 'spec.registry is not set' };
  return { type, status: 'True', reason: 'Resolved', message: o.registryVersion ? `resolved to version ${o.registryVersion}` : 'resolved' };
}

function availableCondition(view: DeploymentView | undefined, available: boolean, podIssue: PodIssue | undefined): ConditionInput {
  const type = CONDITION_AVAILABLE;
  if (!view) return { type, status: 'False', reason: 'DeploymentMissing', message: 'the Deployment does not exist (yet)' };
  const counts = `${view.ready}/${view.desired} replicas ready`;
  if (available) return { type, status: 'True', reason: 'MinimumReplicasAvailable', message: counts };
  if (!view.observed) return { type, status: 'False', reason: 'DeploymentNotObserved', message: `the Deployment controller has not yet seen the current spec; ${counts}` };
  if (podIssue) return { type, status: 'False', reason: podIssue.reason, message: `${counts}; ${podIssue.message}` };
  return { type, status: 'False', reason: 'ReplicasNotReady', message: counts };
}

function progressingCondition(o: Observed, view: DeploymentView | undefined, available: boolean): ConditionInput {
  const type = CONDITION_PROGRESSING;
  if (o.terminating) return { type, status: 'False', reason: 'Terminating', message: 'the MCPServer is being deleted' };
  if (o.failure) return { type, status: 'False', reason: o.failure.reason, message: o.failure.message };
  if (available) return { type, status: 'False', reason: 'RolloutComplete', message: 'the Deployment is up to date and available' };
  if (!view) return { type, status: 'True', reason: 'Creating', message: 'creating the objects of the server' };
  return { type, status: 'True', reason: 'RollingOut', message: `waiting for the rollout: ${view.ready}/${view.desired} replicas ready` };
}

/** Keeps each condition's lastTransitionTime unless its status changed. */
export function mergeConditions(previous: readonly Condition[], next: readonly ConditionInput[], generation: number, now: string): Condition[] {
  return next.map((c) => {
    const before = previous.find((p) => p.type === c.type);
    const lastTransitionTime = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
    return { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime, observedGeneration: generation };
  });
}

const OUR_CONDITIONS = new Set([CONDITION_ACCEPTED, CONDITION_REGISTRY_RESOLVED, CONDITION_AVAILABLE, CONDITION_PROGRESSING, CONDITION_VERIFIED]);

/**
 * Whether writing `next` would change the live status. Conditions of other writers are not part of
 * what we apply (server-side apply leaves them alone), so they are not compared either.
 */
export function statusDiffers(live: MCPServerStatus | undefined, next: MCPServerStatus): boolean {
  const ours = live ? { ...live, conditions: (live.conditions ?? []).filter((c) => OUR_CONDITIONS.has(c.type)) } : undefined;
  return !jsonEqual(ours, next);
}

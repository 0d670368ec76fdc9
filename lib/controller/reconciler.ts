/**
 * Reconcile(key): bring the objects of one MCPServer in line with `desired()` and report in status.
 * Reads come from the informer caches; every write goes through server-side apply or a
 * resourceVersion-guarded patch, and happens only when something differs.
 */
import { createHash } from 'crypto';
import type { Logger } from 'pino';
import { LABEL_INSTANCE, LABEL_NAME, SELECTOR_NAME_VALUE } from '../construct/mcpserver';
import { DEFAULTS, MCPServerResource, MCPServerStatus } from '../spec/mcpserver';
import { checkResource } from '../spec/validate';
import { desired } from '../synth';
import { firstDifference } from './compare';
import { EventRecorder } from './events';
import { Informer, objectKey } from './informer';
import { ApiError, apiVersionOf, DEPLOYMENT, KubeClient, KubeObject, MCP_SERVER, OwnerReference, ResourceType, SERVICE, typeOf } from './kube';
import { ControllerMetrics, Operation } from './metrics';
import { NOT_READY_GRACE_MS, PodIssue, podIssue } from './pods';
import { isTransient, ResolveHook, resolveErrorMessage, resolveFailureReason } from './resolve';
import {
  CONDITION_ACCEPTED,
  CONDITION_AVAILABLE,
  CONDITION_PROGRESSING,
  CONDITION_REGISTRY_RESOLVED,
  computeStatus,
  conditionTime,
  Condition,
  Failure,
  isAvailable,
  deploymentView,
  Observed,
  statusDiffers,
  CONDITION_VERIFIED,
} from './status';
import { Verification, Verifier } from './verify';

/** Added by releases up to 0.1 and removed on sight since: deletion is left to the garbage collector. */
export const FINALIZER = 'mcp.io/finalizer';

export interface ReconcileContext {
  readonly reconcileID: string;
  readonly log: Logger;
}

export interface ReconcileOutcome {
  /** Run again after this long even if nothing changes (waiting for pods to go, a retry of verification). */
  readonly requeueAfterMs?: number;
  /** Failed in a way worth retrying with backoff (status already says why). */
  readonly retry?: boolean;
}

export interface ReconcilerDeps {
  readonly client: KubeClient;
  readonly servers: Informer<KubeObject>;
  /** Informers of the owned kinds (objects with our managed-by label), by kind. */
  readonly owned: ReadonlyMap<string, Informer<KubeObject>>;
  /** Metadata-only informers of the same kinds without our label: names a server must not take. */
  readonly others: ReadonlyMap<string, Informer<KubeObject>>;
  /** The servers' pods, indexed by server key: what `podIssue` explains unavailability from. */
  readonly pods: Informer<KubeObject>;
  readonly events: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly resolve: ResolveHook;
  readonly bridgeImage?: string;
  /** Verify every server, not only those with spec.verify. */
  readonly verifyAll: boolean;
  readonly verifier: Verifier;
}

interface AppliedMemo {
  readonly hash: string;
  readonly resourceVersion?: string;
}

type Change = { readonly operation: Operation; readonly kind: string; readonly name: string };

/** A live object from the caches; `complete` false when only its metadata is known. */
interface Live {
  readonly obj: KubeObject;
  readonly complete: boolean;
}

interface Plan {
  readonly resolved: MCPServerResource;
  readonly objects: readonly KubeObject[];
  readonly usesRegistry: boolean;
  readonly registryVersion?: string;
}

interface PlanFailure {
  readonly failure: Failure;
  /** What is known despite the failure, for the status. */
  readonly observed: Observed;
  readonly retry?: boolean;
}

const VERIFY_RETRY_MS = 30_000;

/** `<namespace>/<name>` of the MCPServer that controls `obj`, if one does. */
export function ownerKey(obj: KubeObject): string | undefined {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === MCP_SERVER.kind && r.apiVersion === apiVersionOf(MCP_SERVER));
  return ref ? objectKey(obj.metadata.namespace, ref.name) : undefined;
}

export function selectorFor(name: string): string {
  return `${LABEL_INSTANCE}=${name},${LABEL_NAME}=${SELECTOR_NAME_VALUE}`;
}

function controlledBy(obj: KubeObject, uid: string | undefined): boolean {
  return uid !== undefined && (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}

function hasFinalizer(obj: KubeObject): boolean {
  return obj.metadata.finalizers?.includes(FINALIZER) ?? false;
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

function hashOf(obj: unknown): string {
  return createHash('sha256').update(JSON.stringify(obj)).digest('base64url');
}

export class Reconciler {
  /** Per server key: what we last applied per object, to skip comparing when nothing moved since. */
  private readonly applied = new Map<string, Map<string, AppliedMemo>>();
  private readonly verifications = new Map<string, Verification & { generation: number; url: string; image?: string; at: number }>();
  /** `Kind/namespace/name` of a foreign object → the server it keeps from being applied. */
  private readonly blocked = new Map<string, string>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** The server a foreign object blocks (ResourceConflict), to retry it as soon as the object goes. */
  blockedBy(obj: KubeObject): string | undefined {
    return this.blocked.get(`${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`);
  }

  /** An owned object is gone: the next reconcile must compare against the API server, not the memo. */
  forgetObject(obj: KubeObject): void {
    const owner = ownerKey(obj);
    if (owner) this.applied.get(owner)?.delete(memoKey(obj));
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileOutcome> {
    const [namespace, name] = splitKey(key);
    const cached = this.deps.servers.get(namespace, name);
    if (!cached) {
      this.applied.delete(key);
      this.verifications.delete(key);
      return {};
    }
    // Deletion is the garbage collector's work: every owned object carries a controller owner
    // reference, so nothing here blocks it. The finalizer earlier releases added is removed on sight,
    // so their servers delete (and `uninstall --delete-servers` completes) without waiting for us.
    const server = hasFinalizer(cached) ? await this.removeFinalizer(cached, ctx) : cached;
    if (server.metadata.deletionTimestamp) {
      this.applied.delete(key);
      this.verifications.delete(key);
      return {};
    }
    return this.sync(server, ctx);
  }

  private async sync(server: KubeObject, ctx: ReconcileContext): Promise<ReconcileOutcome> {
    const base: Observed = { generation: server.metadata.generation ?? 0, terminating: false, selector: selectorFor(server.metadata.name) };
    const plan = await this.plan(server, base);
    if ('failure' in plan) {
      await this.reportFailure(server, plan.observed, plan.failure, ctx);
      return { retry: plan.retry };
    }
    const observed: Observed = { ...base, usesRegistry: plan.usesRegistry, registryVersion: plan.registryVersion };
    const live = this.liveObjects(plan.objects);
    const foreign = plan.objects.filter((o) => live.has(memoKey(o)) && !controlledBy(live.get(memoKey(o))!.obj, server.metadata.uid));
    const serverKey = objectKey(server.metadata.namespace, server.metadata.name);
    for (const [k, v] of this.blocked) if (v === serverKey) this.blocked.delete(k);
    if (foreign.length > 0) {
      for (const o of foreign) this.blocked.set(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, serverKey);
      const message = foreign.map((o) => `${o.kind} ${o.metadata.name} exists and is not controlled by this MCPServer`).join('; ');
      await this.reportFailure(server, observed, { condition: CONDITION_PROGRESSING, reason: 'ResourceConflict', message }, ctx);
      return {};
    }
    await this.applyAll(server, plan.objects, live, observed, ctx);
    return this.reportProgress(server, plan, observed, ctx);
  }

  /** Validation, registry resolution and synthesis: the objects to apply, or why there are none. */
  private async plan(server: KubeObject, base: Observed): Promise<Plan | PlanFailure> {
    const { resource, issues } = checkResource(server);
    if (!resource) {
      const message = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      return { failure: { condition: CONDITION_ACCEPTED, reason: 'InvalidSpec', message }, observed: base };
    }
    const usesRegistry = resource.spec.registry !== undefined;
    let resolved: MCPServerResource = resource;
    let registryVersion: string | undefined;
    if (usesRegistry) {
      try {
        ({ resource: resolved, registryVersion } = await this.deps.resolve(resource));
      } catch (err) {
        const failure: Failure = { condition: CONDITION_REGISTRY_RESOLVED, reason: resolveFailureReason(err), message: resolveErrorMessage(err) };
        return { failure, observed: { ...base, usesRegistry }, retry: isTransient(err) };
      }
    }
    try {
      const objects = desired(resolved, { bridgeImage: this.deps.bridgeImage }).map((o) => this.owned(o as KubeObject, server));
      return { resolved, objects, usesRegistry, registryVersion };
    } catch (err) {
      return { failure: { condition: CONDITION_ACCEPTED, reason: 'SynthesisFailed', message: (err as Error).message }, observed: { ...base, usesRegistry, registryVersion } };
    }
  }

  /** Applies what differs and prunes what is no longer wanted; one event per kind of change. */
  private async applyAll(
    server: KubeObject,
    objects: readonly KubeObject[],
    live: ReadonlyMap<string, Live>,
    observed: Observed,
    ctx: ReconcileContext,
  ): Promise<void> {
    let changes: Change[];
    try {
      const applied = await Promise.all(objects.map((o) => this.ensure(o, live.get(memoKey(o)), server, ctx)));
      changes = applied.filter((c): c is Change => c !== undefined);
      changes.push(...(await this.prune(server, objects, ctx)));
    } catch (err) {
      // The API server refused what we sent (e.g. a field it rejects): retrying alone will not fix that, so say so in status.
      if (isRejection(err)) await this.reportFailure(server, observed, { condition: CONDITION_PROGRESSING, reason: 'ApplyFailed', message: (err as Error).message }, ctx);
      throw err;
    }
    this.announce(server, changes, ctx);
  }

  /** Status after a successful apply: rollout progress, and the verification when it is asked for. */
  private async reportProgress(server: KubeObject, plan: Plan, observed: Observed, ctx: ReconcileContext): Promise<ReconcileOutcome> {
    const { namespace, name } = server.metadata;
    const current: Observed = {
      ...observed,
      deployment: this.ownedInformer(DEPLOYMENT).get(namespace, name),
      image: mainImage(plan.objects.find((o) => o.kind === DEPLOYMENT.kind)),
      url: serverUrl(plan.resolved, namespace!),
    };
    const view = deploymentView(current.deployment);
    const issue = view && view.observed && !isAvailable(view) ? podIssue(this.deps.pods.byIndex(objectKey(namespace, name))) : undefined;
    const verification = await this.verification(server, plan.resolved, current, ctx);
    const previous = server.status as MCPServerStatus | undefined;
    const status = computeStatus(previous, { ...current, verification, podIssue: issue }, conditionTime());
    if (issue) this.announcePodIssue(server, previous, issue, ctx);
    await this.writeStatus(server, status, ctx);
    if (verification && !verification.ok) return { requeueAfterMs: VERIFY_RETRY_MS };
    // A pod that runs but never gets ready changes nothing the watches see: look again later.
    if (view && !isAvailable(view)) return { requeueAfterMs: NOT_READY_GRACE_MS / 3 };
    return {};
  }

  /** One Warning event when the reason pods are not ready changes (not one per reconcile). */
  private announcePodIssue(server: KubeObject, previous: MCPServerStatus | undefined, issue: PodIssue, ctx: ReconcileContext): void {
    const before = previous?.conditions?.find((c: Condition) => c.type === CONDITION_AVAILABLE);
    if (before?.status === 'False' && before.reason === issue.reason) return;
    this.deps.events.record(server, 'Warning', issue.reason, issue.message, ctx.reconcileID);
  }

  /** Namespace and controller reference on a desired object. */
  private owned(obj: KubeObject, server: KubeObject): KubeObject {
    const owner: OwnerReference = {
      apiVersion: apiVersionOf(MCP_SERVER),
      kind: MCP_SERVER.kind,
      name: server.metadata.name,
      uid: server.metadata.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    return { ...obj, metadata: { ...obj.metadata, namespace: server.metadata.namespace, ownerReferences: [owner] } };
  }

  /**
   * The live version of each desired object, from the caches: in full when it carries our label,
   * as metadata when it does not — a same-named object of someone else must be found, not overwritten.
   */
  private liveObjects(objects: readonly KubeObject[]): ReadonlyMap<string, Live> {
    const found = new Map<string, Live>();
    for (const o of objects) {
      const type = typeOf(o)!;
      const { namespace, name } = o.metadata;
      const full = this.ownedInformer(type).get(namespace, name);
      const meta = full ? undefined : this.deps.others.get(type.kind)?.get(namespace, name);
      if (full) found.set(memoKey(o), { obj: full, complete: true });
      else if (meta) found.set(memoKey(o), { obj: meta, complete: false });
    }
    return found;
  }

  /** Applies `obj` unless the live object already has every field of it; drift is reverted here. */
  private async ensure(obj: KubeObject, current: Live | undefined, server: KubeObject, ctx: ReconcileContext): Promise<Change | undefined> {
    const serverKey = objectKey(server.metadata.namespace, server.metadata.name);
    const memos = this.applied.get(serverKey) ?? new Map<string, AppliedMemo>();
    this.applied.set(serverKey, memos);
    const key = memoKey(obj);
    const hash = hashOf(obj);
    const live = current?.obj;
    if (current && !current.complete) {
      // Ours, but someone removed our label: only its metadata is cached, so apply (which restores the label).
      ctx.log.info({ kind: obj.kind, name: obj.metadata.name }, 'owned object lost its managed-by label; applying');
    } else if (live) {
      const memo = memos.get(key);
      if (memo?.hash === hash && memo.resourceVersion === live.metadata.resourceVersion) return undefined;
      const diff = firstDifference(obj, live);
      if (diff === undefined) {
        memos.set(key, { hash, resourceVersion: live.metadata.resourceVersion });
        return undefined;
      }
      ctx.log.info({ kind: obj.kind, name: obj.metadata.name, field: diff }, 'live object differs from desired; applying');
    }
    const type = typeOf(obj)!;
    const { namespace, name } = obj.metadata;
    const result = await this.ownedInformer(type).write(namespace, name, () => this.deps.client.apply<KubeObject>(type, obj));
    memos.set(key, { hash, resourceVersion: result.metadata.resourceVersion });
    const operation: Operation = live ? 'update' : 'create';
    this.deps.metrics.operations.inc({ operation, kind: type.kind });
    return { operation, kind: type.kind, name: obj.metadata.name };
  }

  /** Deletes objects this server controls that it no longer wants (e.g. the ConfigMap once config is gone). */
  private async prune(server: KubeObject, wanted: readonly KubeObject[], ctx: ReconcileContext): Promise<Change[]> {
    const keep = new Set(wanted.map(memoKey));
    const serverKey = objectKey(server.metadata.namespace, server.metadata.name);
    const changes: Change[] = [];
    for (const informer of this.deps.owned.values()) {
      for (const obj of informer.byIndex(serverKey)) {
        if (keep.has(memoKey(obj)) || !controlledBy(obj, server.metadata.uid) || obj.metadata.deletionTimestamp) continue;
        if (obj.metadata.labels?.[LABEL_INSTANCE] !== server.metadata.name) continue;
        await this.deps.client.delete(informer.type, obj.metadata.namespace!, obj.metadata.name, { uid: obj.metadata.uid, propagationPolicy: 'Background' });
        informer.observeDelete(obj);
        this.forgetObject(obj);
        this.deps.metrics.operations.inc({ operation: 'delete', kind: informer.type.kind });
        ctx.log.info({ kind: informer.type.kind, name: obj.metadata.name }, 'pruned object no longer desired');
        changes.push({ operation: 'delete', kind: informer.type.kind, name: obj.metadata.name });
      }
    }
    return changes;
  }

  /** One event per kind of change, not per object, to keep event writes proportional to reconciles. */
  private announce(server: KubeObject, changes: readonly Change[], ctx: ReconcileContext): void {
    if (changes.length === 0) return;
    const verbs: Record<Operation, [string, string]> = { create: ['Created', 'created'], update: ['Updated', 'updated'], delete: ['Deleted', 'deleted'] };
    for (const operation of ['create', 'update', 'delete'] as const) {
      const these = changes.filter((c) => c.operation === operation);
      if (these.length === 0) continue;
      const [reason, verb] = verbs[operation];
      const message = `${verb} ${these.map((c) => `${c.kind} ${c.name}`).join(', ')}`;
      this.deps.events.record(server, 'Normal', reason, message, ctx.reconcileID);
    }
    ctx.log.info({ changes: changes.map((c) => `${c.operation} ${c.kind} ${c.name}`) }, 'applied changes');
  }

  private async verification(
    server: KubeObject,
    resource: MCPServerResource,
    observed: Observed,
    ctx: ReconcileContext,
  ): Promise<Verification | undefined> {
    if (!this.deps.verifyAll && !resource.spec.verify) return undefined;
    if (!isAvailable(deploymentView(observed.deployment)) || !observed.url) return undefined;
    const key = objectKey(server.metadata.namespace, server.metadata.name);
    const generation = observed.generation;
    const memo = this.verifications.get(key);
    const fresh = memo && memo.generation === generation && memo.url === observed.url && memo.image === observed.image;
    if (fresh && (memo.ok || Date.now() - memo.at < VERIFY_RETRY_MS)) return memo;
    const status = server.status as MCPServerStatus | undefined;
    const recorded = status?.conditions?.find((c: Condition) => c.type === CONDITION_VERIFIED);
    if (!memo && recorded?.status === 'True' && recorded.observedGeneration === generation && status?.url === observed.url) {
      // Verified before a restart of the controller: trust the record rather than reconnect.
      return { ok: true, tools: status?.tools, reason: recorded.reason ?? 'ToolsListed', message: recorded.message ?? '' };
    }
    const target = serviceIpUrl(this.ownedInformer(SERVICE).get(server.metadata.namespace, server.metadata.name), resource) ?? observed.url;
    const result = await this.deps.verifier(target).catch((err: Error) => ({ ok: false, reason: 'Error', message: err.message }) as Verification);
    ctx.log.info({ url: target, ok: result.ok, tools: result.tools, reason: result.reason }, 'verified MCP server');
    this.verifications.set(key, { ...result, generation, url: observed.url, image: observed.image, at: Date.now() });
    return result;
  }

  /** Status Failed with the reason; nothing is applied or pruned, so the last good objects keep running. */
  private async reportFailure(server: KubeObject, base: Observed, failure: Failure, ctx: ReconcileContext): Promise<void> {
    const previous = (server.status as MCPServerStatus | undefined)?.conditions?.find((c) => c.type === failure.condition);
    if (previous?.status !== 'False' || previous.reason !== failure.reason || previous.message !== failure.message) {
      ctx.log.warn({ condition: failure.condition, reason: failure.reason, message: failure.message }, 'reconcile failed');
      this.deps.events.record(server, 'Warning', failure.reason, failure.message, ctx.reconcileID);
    }
    const deployment = this.ownedInformer(DEPLOYMENT).get(server.metadata.namespace, server.metadata.name);
    const observed: Observed = { ...base, failure, deployment: deployment && controlledBy(deployment, server.metadata.uid) ? deployment : undefined };
    await this.writeStatus(server, computeStatus(server.status as MCPServerStatus | undefined, observed, conditionTime()), ctx);
  }

  /**
   * Server-side apply of the whole status, guarded by the resourceVersion we computed it from: a spec
   * that changed meanwhile makes it a 409 and the key is reconciled again.
   */
  private async writeStatus(server: KubeObject, status: MCPServerStatus, ctx: ReconcileContext): Promise<KubeObject> {
    if (!statusDiffers(server.status as MCPServerStatus | undefined, status)) return server;
    const body: KubeObject = {
      apiVersion: apiVersionOf(MCP_SERVER),
      kind: MCP_SERVER.kind,
      metadata: { name: server.metadata.name, namespace: server.metadata.namespace, resourceVersion: server.metadata.resourceVersion },
      status,
    };
    const result = await this.deps.servers.write(server.metadata.namespace, server.metadata.name, () => this.deps.client.apply<KubeObject>(MCP_SERVER, body, 'status'));
    ctx.log.debug({ phase: status.phase, observedGeneration: status.observedGeneration }, 'status written');
    return result;
  }

  private async removeFinalizer(server: KubeObject, ctx: ReconcileContext): Promise<KubeObject> {
    const updated = await this.patchFinalizers(server, (server.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    ctx.log.info('removed the finalizer of an earlier release (the garbage collector deletes owned objects)');
    return updated;
  }

  /** A merge patch guarded by the resourceVersion we read: someone else's concurrent update makes it a 409. */
  private patchFinalizers(server: KubeObject, finalizers: string[]): Promise<KubeObject> {
    const { namespace, name, resourceVersion } = server.metadata;
    const patch = { metadata: { finalizers, resourceVersion } };
    return this.deps.servers.write(namespace, name, () => this.deps.client.mergePatch<KubeObject>(MCP_SERVER, namespace!, name, patch));
  }

  private ownedInformer(type: ResourceType): Informer<KubeObject> {
    const informer = this.deps.owned.get(type.kind);
    if (!informer) throw new Error(`no informer for ${type.kind}`);
    return informer;
  }
}

/** A 4xx other than a conflict or throttling: the request itself is wrong, not the moment. */
function isRejection(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 409 && err.status !== 429;
}

function memoKey(obj: KubeObject): string {
  return `${obj.kind}/${obj.metadata.name}`;
}


/** http://<name>.<namespace>.svc:<port><path>, the address clients in the cluster use. */
export function serverUrl(resource: MCPServerResource, namespace: string): string {
  const port = resource.spec.port ?? DEFAULTS.port;
  const path = resource.spec.transport?.path ?? DEFAULTS.httpPath;
  return `http://${resource.metadata.name}.${namespace}.svc:${port}${path}`;
}

/**
 * The server's endpoint through its Service's ClusterIP. Verification goes there rather than to the
 * DNS name in status.url: kube-proxy routes the ClusterIP exactly as it routes clients, while the
 * name depends on the controller pod's own DNS configuration, which says nothing about the server.
 */
export function serviceIpUrl(service: KubeObject | undefined, resource: MCPServerResource): string | undefined {
  const clusterIP = (service?.spec as { clusterIP?: string } | undefined)?.clusterIP;
  if (!clusterIP || clusterIP === 'None') return undefined;
  const host = clusterIP.includes(':') ? `[${clusterIP}]` : clusterIP;
  return `http://${host}:${resource.spec.port ?? DEFAULTS.port}${resource.spec.transport?.path ?? DEFAULTS.httpPath}`;
}

function mainImage(deployment: KubeObject | undefined): string | undefined {
  type PodTemplateSpec = { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
  const containers = (deployment?.spec as PodTemplateSpec | undefined)?.template?.spec?.containers ?? [];
  return (containers.find((c) => c.name === 'mcp-server') ?? containers[0])?.image;
}

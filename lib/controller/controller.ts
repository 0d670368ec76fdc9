/**
 * Wires the controller together: informers feed a work queue, workers run the reconciler, a resync
 * timer re-queues everything periodically, leader election gates the workers, and the metrics and
 * health servers report on it all.
 */
import { randomUUID } from 'crypto';
import { hostname } from 'os';
import { performance } from 'perf_hooks';
import pino, { type Logger } from 'pino';
import { sleep } from './backoff';
import { EventRecorder } from './events';
import { BoundServer, parseBindAddress, serve } from './http';
import { errorMessage, Informer, objectKey } from './informer';
import { FIELD_MANAGER, isConflict, KubeClient, KubeObject, MCP_SERVER, OWNED_TYPES, POD, podNamespace } from './kube';
import { ClusterConnection, loadConnection } from './kubeconfig';
import { LeaderElector } from './leader';
import { ControllerMetrics, createControllerMetrics, exposition, ReconcileResult } from './metrics';
import { podIssue } from './pods';
import { WorkQueue } from './queue';
import { ownerKey, Reconciler } from './reconciler';
import { noRegistryResolver, ResolveHook } from './resolve';
import { mcpVerifier, Verifier } from './verify';
import { LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, SELECTOR_NAME_VALUE } from '../construct/mcpserver';

export interface LeaderElectionOptions {
  /** Namespace of the Lease. @default the pod's namespace in a cluster, else 'mcp-system' */
  readonly namespace?: string;
  /** Name of the Lease. @default 'mcp-operator' */
  readonly id?: string;
  /** @default 15 s */
  readonly leaseDurationMs?: number;
  /** @default 10 s */
  readonly renewDeadlineMs?: number;
  /** @default 2 s */
  readonly retryPeriodMs?: number;
  /** @default hostname + '_' + a random UUID */
  readonly identity?: string;
}

export interface StartControllerOptions {
  /** A kubeconfig path, or a connection from `loadConnection`. @default KUBECONFIG, else in-cluster */
  readonly kubeconfig?: string | ClusterConnection;
  /** Watch only this namespace. @default all namespaces */
  readonly namespace?: string;
  /** Reconciles running at once (different servers; one server is never reconciled twice at once). @default 4 */
  readonly concurrency?: number;
  /** Every server is reconciled at least this often. @default 10 min */
  readonly resyncPeriodMs?: number;
  /** host:port of /metrics; '0' disables it. @default ':8080' */
  readonly metricsBindAddress?: string;
  /** host:port of /healthz and /readyz; '0' disables it. @default ':8081' */
  readonly healthProbeBindAddress?: string;
  /** Only the holder of a Lease reconciles. @default off */
  readonly leaderElection?: boolean | LeaderElectionOptions;
  /** pino level. @default 'info' */
  readonly logLevel?: string;
  /** Logger to use instead of JSON lines on stdout. */
  readonly logger?: Logger;
  /** Resolves spec.registry references. @default fail them with RegistryResolved=False */
  readonly resolve?: ResolveHook;
  /** Image with the stdio bridge. @default the one of this release */
  readonly bridgeImage?: string;
  /** Verify every server after rollout, not only those with spec.verify. */
  readonly verify?: boolean;
  readonly verifier?: Verifier;
  /** How long stop() waits for reconciles in flight. @default 30 s */
  readonly shutdownTimeoutMs?: number;
  /** Retry backoff of failing keys. @default 5 ms doubling to 1000 s */
  readonly backoff?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number };
}

export type ExitReason = 'stopped' | 'leader-election-lost';

export interface RunningController {
  /** Identity in the leader Lease (and on events). */
  readonly identity: string;
  /** host:port of the metrics server, when enabled. */
  readonly metricsAddress?: string;
  /** host:port of the health server, when enabled. */
  readonly healthAddress?: string;
  readonly metrics: ControllerMetrics;
  /** Settles when the controller has stopped, by stop() or because it lost its lease. */
  readonly done: Promise<ExitReason>;
  isLeader(): boolean;
  /** Informers listed once and watching. */
  isSynced(): boolean;
  /** Graceful: stop watching, finish reconciles in flight, release the lease, close the servers. */
  stop(): Promise<void>;
}

export const DEFAULT_LEASE_NAMESPACE = 'mcp-system';
const API_PING_CACHE_MS = 1_000;

export function createLogger(level = 'info'): Logger {
  return pino({ name: 'mcp-operator', level }, pino.destination({ dest: 1, sync: true }));
}

export async function startController(options: StartControllerOptions = {}): Promise<RunningController> {
  const controller = new Controller(options);
  try {
    await controller.start();
  } catch (err) {
    await controller.stop();
    throw err;
  }
  return controller;
}

class Controller implements RunningController {
  public readonly identity: string;
  public readonly metrics = createControllerMetrics();
  public metricsAddress?: string;
  public healthAddress?: string;
  public readonly done: Promise<ExitReason>;

  private readonly log: Logger;
  private readonly client: KubeClient;
  private readonly queue: WorkQueue;
  private readonly servers: Informer<KubeObject>;
  private readonly owned: Map<string, Informer<KubeObject>>;
  private readonly others: Map<string, Informer<KubeObject>>;
  private readonly pods: Informer<KubeObject>;
  private readonly events: EventRecorder;
  private readonly reconciler: Reconciler;
  private readonly elector?: LeaderElector;
  private readonly httpServers: BoundServer[] = [];
  private readonly stopSignal = new AbortController();
  private workers: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private settle!: (reason: ExitReason) => void;
  private lastPing = { at: 0, ok: false };

  constructor(private readonly options: StartControllerOptions) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.log = options.logger ?? createLogger(options.logLevel ?? 'info');
    const connection = typeof options.kubeconfig === 'object' ? options.kubeconfig : loadConnection(options.kubeconfig);
    this.client = new KubeClient(connection, (verb, resource, code) => this.metrics.apiRequests.inc({ verb, resource, code: String(code) }));
    const le = typeof options.leaderElection === 'object' ? options.leaderElection : {};
    this.identity = le.identity ?? `${hostname()}_${randomUUID()}`;
    this.queue = new WorkQueue({ ...options.backoff, onDepth: (n) => this.metrics.queueDepth.set(n) });

    this.servers = new Informer(this.client, MCP_SERVER, { namespace: options.namespace, log: this.log });
    this.owned = this.kindInformers(`${LABEL_MANAGED_BY}=${FIELD_MANAGER}`, false);
    this.others = this.kindInformers(`${LABEL_MANAGED_BY}!=${FIELD_MANAGER}`, true);
    // Only MCP server pods (the selector label every server's pods carry), indexed by their server.
    this.pods = new Informer<KubeObject>(this.client, POD, {
      namespace: options.namespace,
      labelSelector: `${LABEL_NAME}=${SELECTOR_NAME_VALUE}`,
      log: this.log,
      indexBy: podServerKey,
    });
    this.events = new EventRecorder(this.client, this.identity, this.log);
    this.reconciler = new Reconciler({
      client: this.client,
      servers: this.servers,
      owned: this.owned,
      others: this.others,
      pods: this.pods,
      events: this.events,
      metrics: this.metrics,
      resolve: options.resolve ?? noRegistryResolver,
      bridgeImage: options.bridgeImage,
      verifyAll: options.verify ?? false,
      verifier: options.verifier ?? mcpVerifier,
    });
    this.watchForChanges();
    if (options.leaderElection) this.elector = this.leaderElector(le);
  }

  /**
   * The kinds a server is made of, split by our managed-by label: ours in full (to compare and
   * prune), the rest as metadata only (to know which names are taken). The two sets are disjoint,
   * so our own writes are delivered once.
   */
  private kindInformers(labelSelector: string, metadataOnly: boolean): Map<string, Informer<KubeObject>> {
    return new Map(OWNED_TYPES.map((type) => [type.kind, new Informer<KubeObject>(this.client, type, {
      namespace: this.options.namespace,
      labelSelector,
      log: this.log,
      indexBy: ownerKey,
      metadataOnly,
    })]));
  }

  /** Workers run only while leading; losing the lease stops the controller, as controller-runtime exits. */
  private leaderElector(le: LeaderElectionOptions): LeaderElector {
    const config = {
      namespace: le.namespace ?? podNamespace() ?? DEFAULT_LEASE_NAMESPACE,
      name: le.id ?? 'mcp-operator',
      identity: this.identity,
      leaseDurationMs: le.leaseDurationMs ?? 15_000,
      renewDeadlineMs: le.renewDeadlineMs ?? 10_000,
      retryPeriodMs: le.retryPeriodMs ?? 2_000,
    };
    if (!(config.leaseDurationMs > config.renewDeadlineMs && config.renewDeadlineMs > config.retryPeriodMs)) {
      throw new Error('leader election needs lease duration > renew deadline > retry period');
    }
    return new LeaderElector(this.client, config, this.log, {
      onStartedLeading: () => {
        this.metrics.leader.set(1);
        void this.runWorkers();
      },
      onStoppedLeading: () => {
        this.metrics.leader.set(0);
        void this.shutdown('leader-election-lost');
      },
    });
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader : !this.stopping;
  }

  isSynced(): boolean {
    return this.informers().every((i) => i.synced);
  }

  async start(): Promise<void> {
    const metricsBind = parseBindAddress(this.options.metricsBindAddress ?? ':8080');
    const healthBind = parseBindAddress(this.options.healthProbeBindAddress ?? ':8081');
    if (metricsBind) {
      const server = await serve(metricsBind, { '/metrics': async () => ({ status: 200, ...(await exposition(this.metrics)) }) });
      this.httpServers.push(server);
      this.metricsAddress = server.address;
    }
    if (healthBind) {
      const server = await serve(healthBind, {
        '/healthz': async () => ({ status: 200, body: 'ok\n' }),
        '/readyz': () => this.readiness(),
      });
      this.httpServers.push(server);
      this.healthAddress = server.address;
    }
    void this.startInformers();
    this.log.info({
      namespace: this.options.namespace ?? '(all)',
      identity: this.identity,
      leaderElection: Boolean(this.elector),
      metrics: this.metricsAddress,
      health: this.healthAddress,
    }, 'controller started');
    if (this.elector) {this.elector.start();} else {
      this.metrics.leader.set(1);
      void this.runWorkers();
    }
  }

  stop(): Promise<void> {
    return this.shutdown('stopped');
  }

  /**
   * One initial list at a time: listing every kind at once holds all the list pages in memory
   * together, and that transient peak, not the cache, is what sets the process's resident memory.
   */
  private async startInformers(): Promise<void> {
    for (const informer of this.informers()) {
      if (this.stopping) return;
      informer.start();
      await Promise.race([informer.waitForSync(), sleep(2 ** 31 - 1, this.stopSignal.signal)]);
    }
  }

  private informers(): Informer<KubeObject>[] {
    return [...this.owned.values(), ...this.others.values(), this.pods, this.servers];
  }

  /** Which changes matter: spec (generation), deletion and finalizers of servers; anything of owned objects. */
  private watchForChanges(): void {
    const enqueue = (obj: KubeObject) => this.queue.add(objectKey(obj.metadata.namespace, obj.metadata.name));
    this.servers.on({
      add: enqueue,
      update: (old, obj) => {
        const o = old.metadata;
        const n = obj.metadata;
        // Status-only updates (most of them ours) would only recompute the same status.
        const changed = o.generation !== n.generation || o.deletionTimestamp !== n.deletionTimestamp || String(o.finalizers) !== String(n.finalizers);
        if (changed) enqueue(obj);
      },
      delete: enqueue,
    });
    const enqueueOwner = (obj: KubeObject) => {
      const key = ownerKey(obj);
      if (key) this.queue.add(key);
    };
    for (const informer of this.others.values()) {
      informer.on({
        // Our objects that lost their label show up here: reconcile their owner to restore it.
        add: enqueueOwner,
        update: (_old, obj) => enqueueOwner(obj),
        delete: (obj) => {
          const blocked = this.reconciler.blockedBy(obj);
          if (blocked) this.queue.add(blocked);
        },
      });
    }
    for (const informer of this.owned.values()) {
      informer.on({
        add: enqueueOwner,
        update: (_old, obj) => enqueueOwner(obj),
        delete: (obj) => {
          this.reconciler.forgetObject(obj);
          enqueueOwner(obj);
        },
      });
    }
    // Pods change status often (probes, restarts); only a change in readiness or in what is wrong
    // with them can change the server's status.
    const podSummary = (pod: KubeObject) => JSON.stringify([podIssue([pod]), (pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.find((c) => c.type === 'Ready')?.status]);
    const enqueueServer = (pod: KubeObject) => {
      const key = podServerKey(pod);
      if (key) this.queue.add(key);
    };
    this.pods.on({
      add: enqueueServer,
      update: (old, pod) => {
        if (podSummary(old) !== podSummary(pod)) enqueueServer(pod);
      },
      delete: enqueueServer,
    });
  }

  private async runWorkers(): Promise<void> {
    await Promise.race([Promise.all(this.informers().map((i) => i.waitForSync())), sleep(2 ** 31 - 1, this.stopSignal.signal)]);
    if (this.stopping) return;
    this.log.info({ concurrency: this.options.concurrency ?? 4 }, 'caches synced; starting workers');
    this.resync();
    const period = this.options.resyncPeriodMs ?? 10 * 60_000;
    this.resyncTimer = setInterval(() => this.resync(), period);
    this.workers = Array.from({ length: Math.max(1, this.options.concurrency ?? 4) }, () => this.worker());
  }

  private resync(): void {
    for (const server of this.servers.list()) this.queue.add(objectKey(server.metadata.namespace, server.metadata.name));
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const reconcileID = randomUUID();
    const log = this.log.child({ reconcileID, mcpserver: key });
    const started = performance.now();
    log.debug('reconcile started');
    let result: ReconcileResult;
    try {
      const outcome = await this.reconciler.reconcile(key, { reconcileID, log });
      if (outcome.retry) {
        this.queue.addRateLimited(key);
        result = 'requeue';
      } else {
        this.queue.forget(key);
        if (outcome.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
        result = outcome.requeueAfterMs !== undefined ? 'requeue' : 'success';
      }
    } catch (err) {
      const retryInMs = Math.round(this.queue.addRateLimited(key));
      if (isConflict(err)) {
        result = 'conflict';
        log.info({ err: errorMessage(err), retryInMs }, 'conflict; will retry');
      } else {
        result = 'error';
        this.metrics.reconcileErrors.inc();
        log.error({ err: errorMessage(err), retryInMs }, 'reconcile failed; will retry');
      }
    } finally {
      this.queue.done(key);
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics.reconcileTotal.inc({ result });
    this.metrics.reconcileDuration.observe({ result }, seconds);
    log.debug({ result, durationMs: Math.round(seconds * 1000) }, 'reconcile finished');
  }

  private async readiness(): Promise<{ status: number; body: string }> {
    const unsynced = this.informers().filter((i) => !i.synced).map((i) => i.description);
    const reachable = await this.apiReachable();
    const failures = [
      ...(unsynced.length > 0 ? [`informers not synced: ${unsynced.join(', ')}`] : []),
      ...(reachable ? [] : ['API server unreachable']),
    ];
    return failures.length === 0 ? { status: 200, body: 'ok\n' } : { status: 503, body: `${failures.join('\n')}\n` };
  }

  /** Probes come every few seconds from every kubelet check; one API call per second is plenty. */
  private async apiReachable(): Promise<boolean> {
    if (Date.now() - this.lastPing.at < API_PING_CACHE_MS) return this.lastPing.ok;
    let ok = true;
    try {
      await this.client.ping(2_000);
    } catch {
      ok = false;
    }
    this.lastPing = { at: Date.now(), ok };
    return ok;
  }

  private shutdown(reason: ExitReason): Promise<void> {
    this.stopping ??= this.doShutdown(reason);
    return this.stopping;
  }

  private async doShutdown(reason: ExitReason): Promise<void> {
    const graceful = reason === 'stopped';
    this.log.info({ reason, inFlight: this.queue.inFlight }, 'shutting down');
    this.stopSignal.abort();
    clearInterval(this.resyncTimer);
    this.queue.shutDown();
    const informersStopped = Promise.all(this.informers().map((i) => i.stop()));
    if (graceful) {
      // Reconciles in flight finish (bounded) while we still hold the lease: nobody else writes meanwhile.
      const timeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
      const timer = new AbortController();
      const finished = await Promise.race([Promise.all(this.workers).then(() => true), sleep(timeoutMs, timer.signal).then(() => false)]);
      timer.abort();
      if (!finished) this.log.warn({ timeoutMs, inFlight: this.queue.inFlight }, 'reconciles still running at the shutdown timeout; abandoning them');
      await this.events.flush(2_000);
    } else {
      // Without the lease another instance may already be writing: cut requests in flight now.
      await this.client.close();
    }
    await this.elector?.stop();
    this.metrics.leader.set(0);
    await informersStopped;
    await Promise.all(this.httpServers.map((s) => s.close()));
    await this.client.close();
    this.log.info({ reason }, 'controller stopped');
    this.settle(reason);
  }
}

/** The server a pod belongs to, by the selector label its template gives every pod. */
function podServerKey(pod: KubeObject): string | undefined {
  const server = pod.metadata.labels?.[LABEL_INSTANCE];
  return server ? objectKey(pod.metadata.namespace, server) : undefined;
}

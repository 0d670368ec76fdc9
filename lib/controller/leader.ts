/**
 * Leader election on a coordination.k8s.io/v1 Lease, the algorithm of client-go's leaderelection:
 * a candidate takes the lease when it is free or its holder has not renewed it for leaseDuration
 * (measured on the local clock from when the record last changed, so clock skew between instances
 * does not matter); the leader renews every retryPeriod and gives up when it could not renew for
 * renewDeadline. Writes are guarded by resourceVersion, so two candidates never both win.
 */
import type { Logger } from 'pino';
import { sleep } from './backoff';
import { errorMessage } from './informer';
import { isConflict, KubeClient, KubeObject, LEASE } from './kube';

export interface LeaderElectionConfig {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Leadership lost (could not renew within renewDeadline); not called after `stop()`. */
  onStoppedLeading(): void;
}

/** RFC 3339 with microseconds, the MicroTime format of Lease timestamps. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private observedRecord = '';
  private observedTime = 0;
  private lease?: Lease;
  private loop?: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly config: LeaderElectionConfig,
    private readonly log: Logger,
    private readonly callbacks: LeaderCallbacks,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    await this.loop;
    if (this.leading) await this.release();
    this.leading = false;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) break;
      await sleep(this.config.retryPeriodMs, this.stopSignal.signal);
    }
    if (this.stopped) return;
    this.leading = true;
    this.log.info({ lease: `${this.config.namespace}/${this.config.name}`, identity: this.config.identity }, 'became leader');
    this.callbacks.onStartedLeading();
    await this.renewLoop();
  }

  private async renewLoop(): Promise<void> {
    let lastRenew = Date.now();
    while (!this.stopped) {
      await sleep(this.config.retryPeriodMs, this.stopSignal.signal);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
        continue;
      }
      if (Date.now() - lastRenew >= this.config.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ lease: `${this.config.namespace}/${this.config.name}`, renewDeadlineMs: this.config.renewDeadlineMs }, 'leader election lost: could not renew the lease');
        this.callbacks.onStoppedLeading();
        return;
      }
    }
  }

  /** One attempt; false on any failure, which the caller retries every retryPeriod. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.config;
    const now = new Date();
    const timeoutMs = Math.max(1000, this.config.retryPeriodMs);
    const spec: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.config.leaseDurationMs / 1000)),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    try {
      const current = await this.client.get<Lease>(LEASE, namespace, name, { timeoutMs });
      if (!current) {
        this.lease = await this.client.create<Lease>(LEASE, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec }, { timeoutMs });
        this.observe(this.lease, now);
        return true;
      }
      this.observe(current, now);
      const held = current.spec ?? {};
      const holder = held.holderIdentity ?? '';
      const durationMs = (held.leaseDurationSeconds ?? 0) * 1000;
      if (holder && holder !== identity && this.observedTime + durationMs > now.getTime()) return false;
      const ours = holder === identity;
      const next: Lease = {
        ...current,
        spec: {
          ...spec,
          acquireTime: ours && held.acquireTime ? held.acquireTime : spec.acquireTime,
          leaseTransitions: (held.leaseTransitions ?? 0) + (ours ? 0 : 1),
        },
      };
      this.lease = await this.client.replace<Lease>(LEASE, next, { timeoutMs });
      this.observe(this.lease, now);
      if (!ours) this.log.info({ previousHolder: holder || undefined }, 'acquired the lease');
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.warn({ err: errorMessage(err) }, 'lease acquire/renew failed');
      return false;
    }
  }

  private observe(lease: Lease, now: Date): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedTime = now.getTime();
    }
  }

  /** As client-go's ReleaseOnCancel: an empty holder with a 1 s duration, so standbys need not wait. */
  private async release(): Promise<void> {
    if (!this.lease) return;
    const now = microTime(new Date());
    try {
      await this.client.replace(LEASE, {
        ...this.lease,
        spec: { ...this.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      }, { timeoutMs: 5_000 });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not release the lease');
    }
  }
}

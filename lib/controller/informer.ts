/**
 * List + watch of one resource type into an in-memory store, like client-go's reflector + indexer:
 * paginated list, watch from its resourceVersion with bookmarks, re-list on 410 Gone, reconnect with
 * backoff on any other failure. Handlers see every change exactly once per resourceVersion.
 */
import type { Logger } from 'pino';
import { Backoff, sleep } from './backoff';
import { apiVersionOf, isGone, KubeClient, KubeObject, ResourceType, WatchEvent } from './kube';

export interface InformerHandlers<T extends KubeObject> {
  add?(obj: T): void;
  update?(old: T, obj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly log: Logger;
  /** Server-side watch timeout range in seconds; a new watch starts after each (client-go uses 5-10 min). */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /** Secondary index: objects grouped by the key this returns (undefined: not indexed). */
  readonly indexBy?: (obj: KubeObject) => string | undefined;
  /** Keep only identity and ownership metadata (list and watch PartialObjectMetadata). */
  readonly metadataOnly?: boolean;
}

/**
 * The API server sends a bookmark on every watch about once a minute; three minutes without a byte
 * means the connection is dead (a half-open TCP connection says nothing), so it is replaced.
 */
const WATCH_IDLE_TIMEOUT_MS = 3 * 60_000;
/** Small pages keep the transient memory of a list (body, string, parsed objects) small. */
const PAGE_SIZE = 100;

/**
 * Compares resourceVersions numerically when both are integers (etcd revisions, which every
 * kube-apiserver uses); undefined when either is opaque, in which case callers must not order them.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly index = new Map<string, Set<string>>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion = '';
  private hasSynced = false;
  private stopped = true;
  private abortWatch?: () => void;
  private stopSignal = new AbortController();
  private loop?: Promise<void>;
  private syncWaiters: (() => void)[] = [];
  /** Objects with a write of ours in flight, and the watch events for them held back meanwhile. */
  private readonly writing = new Map<string, { count: number; held?: { old?: T; obj: T } }>();

  constructor(
    private readonly client: KubeClient,
    public readonly type: ResourceType,
    private readonly opts: InformerOptions,
  ) {}

  /** e.g. `deployments` or `deployments (metadata)`, for messages. */
  get description(): string {
    return this.opts.metadataOnly ? `${this.type.plural} (metadata)` : this.type.plural;
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopSignal = new AbortController();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abortWatch?.();
    this.stopSignal.abort();
    await this.loop;
  }

  /** Resolves once the first list is in the store (or at once when it already is). */
  waitForSync(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(objectKey(namespace, name));
  }

  list(): T[] {
    return [...this.store.values()];
  }

  byIndex(indexKey: string): T[] {
    const keys = this.index.get(indexKey);
    if (!keys) return [];
    return [...keys].map((k) => this.store.get(k)).filter((o): o is T => o !== undefined);
  }

  /**
   * Runs our write of one object. Read-your-writes: its result goes into the store at once (when
   * newer than what the watch delivered), so the next reconcile neither writes the same change again
   * nor trips over a stale resourceVersion. And the watch echo of the write is not reported as a
   * change: events for the object are held while the write is in flight, then dropped when they are
   * not newer than its result — the reconcile that wrote it already saw everything before it.
   */
  async write(namespace: string | undefined, name: string, op: () => Promise<T>): Promise<T> {
    const key = objectKey(namespace, name);
    const entry = this.writing.get(key) ?? { count: 0 };
    entry.count++;
    this.writing.set(key, entry);
    let result: T | undefined;
    try {
      result = await op();
      return result;
    } finally {
      if (result) this.upsert(strip(result), false);
      if (--entry.count === 0) {
        this.writing.delete(key);
        this.release(entry.held, result);
      }
    }
  }

  /** Read-your-writes for an object we deleted. */
  observeDelete(obj: T): void {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const current = this.store.get(key);
    if (current && current.metadata.uid === obj.metadata.uid) this.remove(key, current, false);
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(800, 30_000);
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const progressed = await this.watchOnce();
        if (progressed) backoff.reset();
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.opts.log.info({ resource: this.type.plural }, 'resourceVersion expired; re-listing');
          this.resourceVersion = '';
          continue;
        }
        const delay = backoff.next();
        this.opts.log.warn({ resource: this.type.plural, err: errorMessage(err), retryInMs: delay }, 'list/watch failed');
        await sleep(delay, this.stopSignal.signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let listRv = '';
    do {
      const query = { labelSelector: this.opts.labelSelector, limit: PAGE_SIZE, continue: cont };
      const page = await this.client.list<T>(this.type, this.opts.namespace, query, this.opts.metadataOnly);
      for (const item of page.items) items.push(this.normalize(item));
      cont = page.metadata.continue || undefined;
      listRv = page.metadata.resourceVersion ?? '';
    } while (cont && !this.stopped);
    if (this.stopped) return;
    this.replace(items, listRv);
    this.resourceVersion = listRv;
    if (!this.hasSynced) {
      this.hasSynced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  /** Resolves true when the watch ended cleanly after delivering something, false when it was empty. */
  private watchOnce(): Promise<boolean> {
    const [lo, hi] = this.opts.watchTimeoutSeconds ?? [300, 600];
    let progressed = false;
    let gone = false;
    return new Promise<boolean>((resolve, reject) => {
      const onEvent = (event: WatchEvent) => {
        const obj = event.object;
        switch (event.type) {
          case 'ADDED':
          case 'MODIFIED':
            this.upsert(this.normalize(obj as T), true);
            break;
          case 'DELETED': {
            const key = objectKey(obj.metadata.namespace, obj.metadata.name);
            const current = this.store.get(key);
            // A delete older than what we hold is for an incarnation we already replaced.
            if (current && current.metadata.uid === obj.metadata.uid) this.remove(key, current, true);
            break;
          }
          case 'BOOKMARK':
            break;
          case 'ERROR':
            if (obj.code === 410) gone = true;
            else this.opts.log.warn({ resource: this.type.plural, status: obj }, 'watch error event');
            return;
        }
        progressed = true;
        if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
      };
      const onDone = (err?: unknown) => {
        this.abortWatch = undefined;
        if (gone) {
          this.resourceVersion = '';
          resolve(progressed);
        } else if (err && !this.stopped && !isTimeout(err)) {
          reject(err);
        } else {
          resolve(progressed);
        }
      };
      const timeoutSeconds = lo + Math.floor(Math.random() * (hi - lo + 1));
      const query = { resourceVersion: this.resourceVersion, labelSelector: this.opts.labelSelector, timeoutSeconds };
      this.abortWatch = this.client.watch(this.type, this.opts.namespace, query, onEvent, onDone, WATCH_IDLE_TIMEOUT_MS, this.opts.metadataOnly);
    });
  }

  /** List items carry no apiVersion/kind, metadata-only ones a PartialObjectMetadata kind; stored objects have their own. */
  private normalize(obj: T): T {
    if (this.opts.metadataOnly) {
      const { name, namespace, uid, resourceVersion, labels, ownerReferences, deletionTimestamp } = obj.metadata;
      const metadata = { name, namespace, uid, resourceVersion, labels, ownerReferences, deletionTimestamp };
      return { apiVersion: apiVersionOf(this.type), kind: this.type.kind, metadata } as T;
    }
    return strip({ ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(this.type), kind: obj.kind ?? this.type.kind });
  }

  private replace(items: T[], listRv: string): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(objectKey(item.metadata.namespace, item.metadata.name));
      this.upsert(item, true);
    }
    for (const [key, current] of [...this.store]) {
      if (seen.has(key)) continue;
      // Written by us after the list was taken: the list does not know it yet.
      if ((compareResourceVersions(current.metadata.resourceVersion, listRv) ?? -1) > 0) continue;
      this.remove(key, current, true);
    }
  }

  /** A held event is someone else's change when it is newer than our write (or the write failed). */
  private release(held: { old?: T; obj: T } | undefined, result: T | undefined): void {
    if (!held) return;
    const newer = !result || held.obj.metadata.uid !== result.metadata.uid
      || (compareResourceVersions(held.obj.metadata.resourceVersion, result.metadata.resourceVersion) ?? 1) > 0;
    if (!newer) return;
    for (const h of this.handlers) {
      if (held.old) h.update?.(held.old, held.obj);
      else h.add?.(held.obj);
    }
  }

  private upsert(obj: T, notify: boolean): void {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const old = this.store.get(key);
    if (old && old.metadata.uid === obj.metadata.uid) {
      const order = compareResourceVersions(obj.metadata.resourceVersion, old.metadata.resourceVersion);
      if (order !== undefined ? order <= 0 : obj.metadata.resourceVersion === old.metadata.resourceVersion) return;
    }
    this.store.set(key, obj);
    this.reindex(key, old, obj);
    if (!notify) return;
    const writing = this.writing.get(key);
    if (writing) {
      writing.held = { old: writing.held ? writing.held.old : old, obj };
      return;
    }
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }

  private remove(key: string, obj: T, notify: boolean): void {
    this.store.delete(key);
    this.reindex(key, obj, undefined);
    if (!notify) return;
    for (const h of this.handlers) h.delete?.(obj);
  }

  private reindex(key: string, old: T | undefined, obj: T | undefined): void {
    const indexBy = this.opts.indexBy;
    if (!indexBy) return;
    const before = old && indexBy(old);
    const after = obj && indexBy(obj);
    if (before === after) return;
    if (before !== undefined) {
      const set = this.index.get(before);
      set?.delete(key);
      if (set?.size === 0) this.index.delete(before);
    }
    if (after !== undefined) {
      let set = this.index.get(after);
      if (!set) this.index.set(after, (set = new Set()));
      set.add(key);
    }
  }
}

/** managedFields are half of a typical object and nothing here reads them. */
function strip<T extends KubeObject>(obj: T): T {
  if (!obj.metadata.managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function isTimeout(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'TimeoutError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code || cause?.message ? `${err.message} (${cause.code ?? cause.message})` : err.message;
  }
  return String(err);
}

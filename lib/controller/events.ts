/**
 * core/v1 Events on MCPServers. Each carries the reconcile's correlation ID in its message (what
 * `kubectl describe` shows) and in an annotation (for tools), so an event leads to its log lines.
 */
import { randomBytes } from 'crypto';
import type { Logger } from 'pino';
import { errorMessage } from './informer';
import { EVENT, KubeClient, KubeObject } from './kube';

export const RECONCILE_ID_ANNOTATION = 'mcp.io/reconcile-id';
const COMPONENT = 'mcp-operator';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  /** Fire and forget: an event that cannot be written must not fail the reconcile. */
  record(involved: KubeObject, type: EventType, reason: string, message: string, reconcileID: string): void {
    const now = new Date().toISOString();
    const namespace = involved.metadata.namespace ?? 'default';
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${involved.metadata.name}.${randomBytes(8).toString('hex')}`,
        namespace,
        annotations: { [RECONCILE_ID_ANNOTATION]: reconcileID },
      },
      involvedObject: {
        apiVersion: involved.apiVersion,
        kind: involved.kind,
        name: involved.metadata.name,
        namespace,
        uid: involved.metadata.uid,
        resourceVersion: involved.metadata.resourceVersion,
      },
      reason,
      message: `${message} (reconcileID ${reconcileID})`.slice(0, 1024),
      type,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance.slice(0, 128),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const write = this.client
      .create(EVENT, event, { timeoutMs: 10_000 })
      .then(
        () => undefined,
        (err) => this.log.warn({ err: errorMessage(err), reason, reconcileID }, 'could not record event'),
      )
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /** Waits for events still being written, at most `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.pending]), timeout]);
    clearTimeout(timer);
  }
}

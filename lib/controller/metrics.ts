/**
 * Controller metrics. Every controller gets its own registry (two may run in one process — tests of
 * leader election do — and each must count only its own work); /metrics serves it merged with the
 * operator-wide registry of lib/metrics.ts (registry client metrics and whatever joins it later).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricsRegistry as sharedRegistry } from '../metrics';

export type ReconcileResult = 'success' | 'error' | 'conflict' | 'requeue';
export type Operation = 'create' | 'update' | 'delete';

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileErrors: Counter;
  readonly reconcileDuration: Histogram<'result'>;
  readonly operations: Counter<'operation' | 'kind'>;
  readonly queueDepth: Gauge;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly leader: Gauge;
}

export function createControllerMetrics(): ControllerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics = {
    registry,
    reconcileTotal: new Counter({
      name: 'mcp_operator_reconcile_total',
      help: 'Reconciles of MCPServers, by result (success, error, conflict: a 409 from the API server, requeue)',
      labelNames: ['result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'mcp_operator_reconcile_errors_total',
      help: 'Reconciles that failed with an error other than a conflict (they are retried with backoff)',
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'mcp_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile, by result',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    operations: new Counter({
      name: 'mcp_operator_operations_total',
      help: 'Objects the controller created, updated or deleted, by kind',
      labelNames: ['operation', 'kind'],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'mcp_operator_queue_depth',
      help: 'MCPServer keys waiting for a worker',
      registers,
    }),
    apiRequests: new Counter({
      name: 'mcp_operator_api_requests_total',
      help: 'Requests to the Kubernetes API server, by verb (get, list, watch, apply, patch, create, update, delete), resource and HTTP code',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    }),
    leader: new Gauge({
      name: 'mcp_operator_leader',
      help: '1 while this instance holds the leader lease (or runs without leader election)',
      registers,
    }),
  };
  return metrics;
}

/**
 * What /metrics serves: this controller's registry plus the shared one, merged per scrape so that
 * metrics registered in the shared registry after start-up are included too.
 */
export async function exposition(metrics: ControllerMetrics): Promise<{ contentType: string; body: string }> {
  const merged = Registry.merge([metrics.registry, sharedRegistry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

/** Write requests: what "no API write when nothing changed" counts. */
export const WRITE_VERBS: ReadonlySet<string> = new Set(['apply', 'apply/status', 'patch', 'create', 'update', 'delete']);

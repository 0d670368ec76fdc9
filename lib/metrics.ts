/**
 * The operator's own Prometheus registry, shared by everything that runs in the controller process
 * (which serves it on /metrics). It is a dedicated `Registry`, not prom-client's global one, so that
 * embedding mcp-operator as a library never collides with the host application's metrics.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();

export type RegistryOperation = 'list_servers' | 'get_versions' | 'get_version';

/**
 * One count per HTTP attempt, so retries show up: a burst of `rate_limited` next to a few `ok` says
 * the hosted registry's 180 requests/minute limit is being hit.
 */
export const registryRequests = new Counter<'operation' | 'outcome'>({
  name: 'mcp_operator_registry_requests_total',
  help: 'HTTP requests to the MCP Registry, by operation and outcome (ok, not_found, rate_limited, server, timeout, network, malformed)',
  labelNames: ['operation', 'outcome'],
  registers: [metricsRegistry],
});

export const registryRequestDuration = new Histogram<'operation'>({
  name: 'mcp_operator_registry_request_duration_seconds',
  help: 'Duration of one HTTP request to the MCP Registry, including reading the body',
  labelNames: ['operation'],
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});

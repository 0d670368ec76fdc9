import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'mcp_bridge_';

/** MCP methods we label by name; anything else is "other" so clients cannot explode cardinality. */
const KNOWN_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
]);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

export interface BridgeMetrics {
  readonly registry: Registry;
  readonly sessionsActive: Gauge<'transport'>;
  readonly sessionsTotal: Counter<'transport'>;
  readonly sessionsEnded: Counter<'reason'>;
  readonly sessionsRejected: Counter<'reason'>;
  readonly requestsRefused: Counter<'reason'>;
  readonly streamsCut: Counter<'transport'>;
  readonly childSpawns: Counter<'purpose'>;
  readonly childCrashes: Counter<'phase'>;
  readonly poolIdle: Gauge;
  readonly zombies: Gauge;
  readonly requestDuration: Histogram<'method' | 'outcome'>;
}

/**
 * Each bridge gets its own registry: tests (and anyone embedding the bridge) may run several
 * in one process, and the global registry would refuse the second set of names.
 */
export function createMetrics(countZombies: () => number): BridgeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const registers = [registry];
  return {
    registry,
    sessionsActive: new Gauge({
      name: `${PREFIX}sessions_active`,
      help: 'MCP sessions currently open, each backed by its own server process',
      labelNames: ['transport'],
      registers,
    }),
    sessionsTotal: new Counter({
      name: `${PREFIX}sessions_total`,
      help: 'MCP sessions opened since start',
      labelNames: ['transport'],
      registers,
    }),
    sessionsEnded: new Counter({
      name: `${PREFIX}sessions_ended_total`,
      help: 'MCP sessions ended, by reason',
      labelNames: ['reason'],
      registers,
    }),
    sessionsRejected: new Counter({
      name: `${PREFIX}sessions_rejected_total`,
      help: 'New sessions refused (capacity: max sessions reached; memory: the container is near its memory limit; draining: shutting down)',
      labelNames: ['reason'],
      registers,
    }),
    requestsRefused: new Counter({
      name: `${PREFIX}requests_refused_total`,
      help: 'Requests refused before reaching a session (host-not-allowed, origin-not-allowed, host-missing, identity-mismatch)',
      labelNames: ['reason'],
      registers,
    }),
    streamsCut: new Counter({
      name: `${PREFIX}streams_disconnected_total`,
      help: 'Client streams disconnected because the client did not read them (unsent bytes over --max-buffered-bytes)',
      labelNames: ['transport'],
      registers,
    }),
    childSpawns: new Counter({
      name: `${PREFIX}child_spawns_total`,
      help: 'MCP server processes started, by purpose (pool, session, probe)',
      labelNames: ['purpose'],
      registers,
    }),
    childCrashes: new Counter({
      name: `${PREFIX}child_crashes_total`,
      help: 'MCP server processes that exited without being asked to, by phase (pool, session, probe)',
      labelNames: ['phase'],
      registers,
    }),
    poolIdle: new Gauge({
      name: `${PREFIX}pool_idle`,
      help: 'Pre-spawned MCP server processes waiting for a session',
      registers,
    }),
    zombies: new Gauge({
      name: `${PREFIX}zombie_processes`,
      help: 'Unreaped exited processes whose parent is the bridge; grows only when the bridge is PID 1 without an init',
      registers,
      collect() {
        this.set(countZombies());
      },
    }),
    requestDuration: new Histogram({
      name: `${PREFIX}request_duration_seconds`,
      help: 'Time from a client JSON-RPC request reaching the bridge to the server answer leaving it',
      labelNames: ['method', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
  };
}

/**
 * `mcp-operator controller`. The controller module is loaded only when the command runs, so the
 * other commands start as fast as before.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CliIo } from './io';
import { ExitCode } from './io';
import type { ResolveHook } from '../controller/resolve';

export interface ControllerCommandDeps {
  /**
   * Builds the registry resolver from --registry-url (undefined: the registry's default URL) and the
   * --allowed-registry-url list (further registries that spec.registry.url may name).
   */
  readonly makeResolver?: (registryUrl: string | undefined, allowedRegistryUrls: readonly string[]) => ResolveHook;
  /** Signals that stop the controller gracefully. @default SIGTERM and SIGINT */
  readonly signals?: readonly NodeJS.Signals[];
}

interface ControllerFlags {
  kubeconfig?: string;
  namespace?: string;
  registryUrl?: string;
  allowedRegistryUrl: string[];
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  concurrency: number;
  resyncPeriod: number;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  logLevel: string;
  verify: boolean;
  bridgeImage?: string;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Go-style durations as the flags of controller-runtime take them: 500ms, 15s, 10m, 1h30m. */
export function parseDuration(value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw new InvalidArgumentError(`expected a duration such as 500ms, 15s, 10m or 1h30m (got ${JSON.stringify(value)})`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

/** Repeatable: each use adds one registry base URL. */
function collectRegistryUrl(value: string, previous: string[]): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`expected an http(s) URL (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`expected an http(s) URL (got ${JSON.stringify(value)})`);
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer (got ${JSON.stringify(value)})`);
  return n;
}

export function controllerCommand(io: CliIo, deps: ControllerCommandDeps = {}): Command {
  return new Command('controller')
    .description('Watch MCPServer resources and keep their Deployment, Service, ServiceAccount and ConfigMap applied, with status')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, else the in-cluster service account)')
    .option('--namespace <ns>', 'watch only this namespace (default: all namespaces)')
    .option('--registry-url <url>', 'MCP Registry for spec.registry references')
    .addOption(new Option('--allowed-registry-url <url>', 'a further registry that spec.registry.url may name (repeatable); any other URL is refused (default: only --registry-url)')
      .argParser(collectRegistryUrl).default([]))
    .option('--metrics-bind-address <addr>', 'address of /metrics; 0 disables it', ':8080')
    .option('--health-probe-bind-address <addr>', 'address of /healthz and /readyz; 0 disables it', ':8081')
    .addOption(new Option('--concurrency <n>', 'MCPServers reconciled at once').argParser(positiveInt).default(4))
    .addOption(new Option('--resync-period <duration>', 'reconcile every MCPServer at least this often').argParser(parseDuration).default(600_000, '10m'))
    .option('--leader-elect', 'run only while holding a Lease, so several replicas can run with one active', false)
    .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: the pod namespace, else mcp-system)')
    .option('--leader-election-id <name>', 'name of the Lease', 'mcp-operator')
    .addOption(new Option('--lease-duration <duration>', 'how long standbys wait before taking over an unrenewed lease').argParser(parseDuration).default(15_000, '15s'))
    .addOption(new Option('--renew-deadline <duration>', 'how long the leader keeps trying to renew before it gives up').argParser(parseDuration).default(10_000, '10s'))
    .addOption(new Option('--retry-period <duration>', 'interval between lease attempts').argParser(parseDuration).default(2_000, '2s'))
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'))
    .option('--verify', 'after rollout, connect to every server as an MCP client and record its tool count (otherwise only servers with spec.verify)', false)
    .option('--bridge-image <image>', 'image that holds the stdio bridge (default: the one of this release)')
    .addHelpText('after', '\nStops gracefully on SIGTERM or SIGINT (exit 0). Exits 1 when it loses its leader lease or cannot start.')
    .action(async (flags: ControllerFlags) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startController } = require('../controller/controller') as typeof import('../controller/controller');
      const controller = await startController({
        kubeconfig: flags.kubeconfig,
        namespace: flags.namespace,
        concurrency: flags.concurrency,
        resyncPeriodMs: flags.resyncPeriod,
        metricsBindAddress: flags.metricsBindAddress,
        healthProbeBindAddress: flags.healthProbeBindAddress,
        leaderElection: flags.leaderElect && {
          namespace: flags.leaderElectionNamespace,
          id: flags.leaderElectionId,
          leaseDurationMs: flags.leaseDuration,
          renewDeadlineMs: flags.renewDeadline,
          retryPeriodMs: flags.retryPeriod,
        },
        logLevel: flags.logLevel,
        resolve: deps.makeResolver?.(flags.registryUrl, flags.allowedRegistryUrl),
        verify: flags.verify,
        bridgeImage: flags.bridgeImage,
      });
      const signals = deps.signals ?? ['SIGTERM', 'SIGINT'];
      const onSignal = (signal: NodeJS.Signals) => {
        io.stderr.write(`received ${signal}; shutting down\n`);
        void controller.stop();
      };
      for (const s of signals) process.on(s, onSignal);
      try {
        const reason = await controller.done;
        io.exitCode = reason === 'stopped' ? ExitCode.Ok : ExitCode.Failure;
        if (reason !== 'stopped') io.stderr.write(`error: controller stopped: ${reason}\n`);
      } finally {
        for (const s of signals) process.off(s, onSignal);
      }
    });
}

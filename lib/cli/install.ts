import { Command, Option } from 'commander';
import { DEFAULT_INSTALL_NAMESPACE, operatorInstallObjects, OperatorInstallProps } from '../install/operator';
import { toYaml } from '../synth';
import { CliIo, UsageError } from './io';

interface InstallOptions {
  namespace: string;
  image?: string;
  bridgeImage?: string;
  watchNamespace?: string;
  replicas: string;
  registryUrl?: string;
  allowedRegistryUrl?: string[];
  crd: boolean;
  output: 'yaml' | 'json';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function installProps(opts: InstallOptions): OperatorInstallProps {
  for (const [flag, value] of [['--namespace', opts.namespace], ['--watch-namespace', opts.watchNamespace]] as const) {
    if (value !== undefined && (!DNS_LABEL.test(value) || value.length > 63)) throw new UsageError(`${flag} must be a namespace name (got ${JSON.stringify(value)})`);
  }
  const replicas = Number(opts.replicas);
  if (!Number.isInteger(replicas) || replicas < 1) throw new UsageError(`--replicas must be a whole number >= 1 (got ${JSON.stringify(opts.replicas)})`);
  return {
    namespace: opts.namespace,
    image: opts.image,
    bridgeImage: opts.bridgeImage,
    watchNamespace: opts.watchNamespace,
    replicas,
    registryUrl: opts.registryUrl,
    allowedRegistryUrls: opts.allowedRegistryUrl,
    includeCrd: opts.crd,
  };
}

function print(io: CliIo, objects: unknown[], format: 'yaml' | 'json'): void {
  io.stdout.write(format === 'json' ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n` : toYaml(objects));
}

function common(command: Command): Command {
  return command
    .option('--namespace <ns>', 'namespace of the controller', DEFAULT_INSTALL_NAMESPACE)
    .option('--watch-namespace <ns>', 'reconcile only this namespace (a Role there instead of a ClusterRole)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'));
}

export function installCommand(io: CliIo): Command {
  return common(new Command('install'))
    .description('Print the controller install bundle: CRD, namespace, ServiceAccount, least-privilege RBAC, Deployment, metrics Service, PodDisruptionBudget')
    .option('--image <image>', 'controller image (build and push it from the Dockerfile; see the README)')
    .option('--bridge-image <image>', 'image stdio servers copy the bridge from (default: the controller image)')
    .option('--replicas <n>', 'controller replicas (one leader, the rest standby)', '2')
    .option('--registry-url <url>', 'MCP Registry the controller resolves spec.registry against')
    .option('--allowed-registry-url <url...>', 'further registries spec.registry.url may name (others are refused)')
    .option('--no-crd', 'leave the CRD out (when it is managed separately)')
    .addHelpText('after', '\nExample:\n  mcp-operator install | kubectl apply --server-side -f -')
    .action((opts: InstallOptions) => print(io, operatorInstallObjects(installProps(opts)), opts.output));
}

interface UninstallOptions extends InstallOptions {
  deleteServers?: boolean;
  deleteNamespace?: boolean;
}

export function uninstallCommand(io: CliIo): Command {
  return common(new Command('uninstall'))
    .description("Print what to delete to remove the controller. Users' MCPServers (and so the CRD) stay unless --delete-servers is given")
    .option('--delete-servers', 'also delete the CRD, which deletes every MCPServer and, through them, their workloads')
    .option('--delete-namespace', 'also delete the controller namespace')
    .addHelpText('after', '\nExample:\n  mcp-operator uninstall | kubectl delete --ignore-not-found -f -')
    .action((opts: UninstallOptions) => {
      const objects = operatorInstallObjects({ ...installProps({ ...opts, replicas: '1', crd: true }) })
        .filter((o) => o.kind !== 'CustomResourceDefinition' || opts.deleteServers)
        .filter((o) => o.kind !== 'Namespace' || opts.deleteNamespace)
        // Delete the workload before the permissions it runs with.
        .reverse();
      print(io, objects, opts.output);
    });
}

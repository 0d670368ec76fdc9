/**
 * The registry options shared by `synth` and `validate`, and the step between validation and synthesis
 * that fills in MCPServers naming a registry server (lib/registry/resolver.ts, with mcp-lock.yaml as the
 * pin store). Resources without `spec.registry` pass through untouched, and without any of them nothing
 * here reads or writes a file or the network.
 */
import { Command } from 'commander';
import { defaultCacheDir } from '../registry/cache';
import { normalizeBaseUrl } from '../registry/client';
import { defaultLockfilePath, LOCKFILE_NAME } from '../registry/lockfile';
import { resolveRegistryResources } from '../registry/resolver';
import { DEFAULT_REGISTRY_URL } from '../registry/types';
import { ValidatedResource } from '../synth';
import { CliIo, UsageError } from './io';

export interface ResolveCliOptions {
  registryUrl?: string;
  offline?: boolean;
  update?: boolean;
  lockfile?: string;
  cacheDir?: string;
  /** The `-f` inputs; the lockfile defaults to living beside the first one. */
  filename?: readonly string[];
  /** Set by `validate`: check only, write no lockfile. */
  readOnly?: boolean;
}

export const REGISTRY_URL_ENV = 'MCP_REGISTRY_URL';

export function addResolveOptions(command: Command): Command {
  return command
    .option('--registry-url <url>', `MCP Registry for servers whose spec.registry names no url (default: $${REGISTRY_URL_ENV}, else ${DEFAULT_REGISTRY_URL})`)
    .option('--offline', 'resolve registry servers from the lockfile and the cache only; never use the network')
    .option('--update', 're-resolve registry versions (latest) even when the lockfile pins them, and print what changed')
    .option('--lockfile <path>', `lockfile pinning registry versions (default: ${LOCKFILE_NAME} beside the first -f input; in the current directory for stdin)`)
    .option('--cache-dir <dir>', `cache of registry answers (default: ${defaultCacheDir()})`);
}

/**
 * Resolves, then renders each resource with `render`. Rendering happens before the lockfile is
 * written, and a resource that does not render is a problem like any other: the lockfile only ever
 * pins inputs that produce manifests.
 */
export async function resolveResources<T>(
  resources: ValidatedResource[],
  opts: ResolveCliOptions,
  io: CliIo,
  render: (resource: ValidatedResource) => T,
): Promise<T[]> {
  if (opts.offline && opts.update) throw new UsageError('--offline and --update cannot be combined: --update asks the registry again');
  const registryUrl = registryUrlOption(opts.registryUrl);
  if (!resources.some((r) => r.resource.spec.registry)) return resources.map(render);
  const rendered = new Map<ValidatedResource, T>();
  const result = await resolveRegistryResources(resources, {
    registryUrl,
    offline: opts.offline,
    update: opts.update,
    lockfile: opts.lockfile ?? defaultLockfilePath(opts.filename),
    cacheDir: opts.cacheDir,
    writeLockfile: !opts.readOnly,
    warn: (m) => io.stderr.write(`warning: ${m}\n`),
    info: (m) => io.stderr.write(`${m}\n`),
    check: (resource) => void rendered.set(resource, render(resource)),
  });
  return result.resources.map((resource) => rendered.get(resource)!);
}

/** `--registry-url`, else `$MCP_REGISTRY_URL`; a malformed value is a usage error, whichever gave it. */
export function registryUrlOption(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = flag ?? (env[REGISTRY_URL_ENV] || undefined);
  if (value === undefined) return undefined;
  try {
    return normalizeBaseUrl(value);
  } catch (err) {
    throw new UsageError(`${flag !== undefined ? '--registry-url' : `$${REGISTRY_URL_ENV}`}: ${(err as Error).message}`);
  }
}

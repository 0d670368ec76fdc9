/**
 * The registry options shared by `synth` and `validate`, and the step between validation and synthesis
 * that fills in MCPServers naming a registry server. Resources without `spec.registry` pass through
 * untouched, and without any of them nothing here reads or writes a file or the network.
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

export async function resolveResources(resources: ValidatedResource[], opts: ResolveCliOptions, io: CliIo): Promise<ValidatedResource[]> {
  if (opts.offline && opts.update) throw new UsageError('--offline and --update cannot be combined: --update asks the registry again');
  const registryUrl = registryUrlOption(opts.registryUrl);
  if (!resources.some((r) => r.resource.spec.registry)) return resources;
  const result = await resolveRegistryResources(resources, {
    registryUrl,
    offline: opts.offline,
    update: opts.update,
    lockfile: opts.lockfile ?? defaultLockfilePath(opts.filename),
    cacheDir: opts.cacheDir,
    writeLockfile: !opts.readOnly,
    warn: (m) => io.stderr.write(`warning: ${m}\n`),
    info: (m) => io.stderr.write(`${m}\n`),
  });
  return result.resources;
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

import { MCPServerResource } from '../spec/mcpserver';

export interface Resolution {
  /** The resource with what the registry supplies (image, command, env…) filled into its spec. */
  readonly resource: MCPServerResource;
  /** The exact registry version it was resolved to (status.registryVersion). */
  readonly registryVersion?: string;
}

/**
 * Fills a resource's `spec.registry` reference in. Called only for resources that have one; it gets
 * the live resource, status included, so it can keep a `latest` pinned to `status.registryVersion`.
 * Errors whose `transient` property is true are retried with backoff; others (and errors carrying a
 * `problems` list) are reported in status until the spec changes or the next resync.
 */
export type ResolveHook = (resource: MCPServerResource) => Promise<Resolution>;

export class ResolverNotConfiguredError extends Error {
  public readonly transient = false;

  constructor(name: string) {
    super(`spec.registry references ${name}, but this controller has no MCP Registry resolver configured`);
    this.name = 'ResolverNotConfiguredError';
  }
}

/** The default until a registry resolver is wired in: registry references fail clearly. */
export const noRegistryResolver: ResolveHook = async (resource) => {
  throw new ResolverNotConfiguredError(resource.spec.registry?.name ?? '(unnamed)');
};

/** Transient unless the error says otherwise: an unknown failure is worth another try. */
export function isTransient(err: unknown): boolean {
  const e = err as { transient?: unknown; problems?: unknown; name?: unknown } | undefined;
  if (typeof e?.transient === 'boolean') return e.transient;
  if (Array.isArray(e?.problems)) return false;
  return e?.name !== 'NotDeployableError';
}

/**
 * The `RegistryResolved=False` reason: what the error names as its own (`conditionReason`, e.g.
 * `RegistryNotAllowed` for a URL off the allow-list), else the generic `ResolveFailed`.
 */
export function resolveFailureReason(err: unknown): string {
  if (err instanceof ResolverNotConfiguredError) return 'ResolverNotConfigured';
  const reason = (err as { conditionReason?: unknown } | undefined)?.conditionReason;
  return typeof reason === 'string' && /^[A-Za-z][A-Za-z0-9]*$/.test(reason) ? reason : 'ResolveFailed';
}

/** The message to show in status; mapping problems are listed with their field paths. */
export function resolveErrorMessage(err: unknown): string {
  const e = err as { message?: string; problems?: { path: string; message: string }[] };
  if (Array.isArray(e?.problems) && e.problems.length > 0) return e.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  return e?.message ?? String(err);
}

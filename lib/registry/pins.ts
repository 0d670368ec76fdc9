/**
 * Where the version a registry reference resolved to is kept, so that `latest` is resolved once and
 * stays put. The resolver (./resolver.ts) asks its `PinStore` before the registry and tells it what it
 * resolved; the store alone decides what a pin holds and when it is written:
 *
 * - `LockfilePinStore` (the CLI): `mcp-lock.yaml`, every reference with the sha256 of its server.json,
 *   written only when the caller commits (after the whole batch resolved and rendered);
 * - `StatusPinStore` (the controller): one MCPServer's `status.registryVersion`, which the reconciler
 *   writes with the rest of the status.
 */
import { relative } from 'path';
import { LockChange, LockEntry, Lockfile } from './lockfile';
import { MCPServerResource } from '../spec/mcpserver';

/** Which reference a pin is for. */
export interface PinKey {
  /** Normalised base URL of the registry. */
  readonly registry: string;
  readonly name: string;
  /** What the reference asks for: `latest` or an exact version. */
  readonly requested: string;
}

export interface Pin {
  /** The server version to use instead of resolving `requested`. */
  readonly version: string;
  /**
   * `sha256:` of the server.json when it was pinned (see `serverDigest`). Given, the resolver refuses
   * a different document under that version: a published version should never change.
   */
  readonly sha256?: string;
}

export interface PinStore {
  /** Where the pins live, for messages (a lockfile path, `status.registryVersion`). */
  readonly location: string;
  /** How a user accepts a server.json that no longer matches its pinned sha256, for that message. */
  readonly acceptChangeHint?: string;
  /** The pin to honour for this reference, or undefined to resolve `requested` afresh. */
  read(key: PinKey): Pin | undefined;
  /** What the reference resolved to (the full entry, even where the store keeps only the version). */
  record(entry: LockEntry): void;
}

export interface LockfilePinStoreOptions {
  /** Re-resolve every reference (`--update`): existing pins are not read, only replaced. */
  readonly update?: boolean;
}

/**
 * `mcp-lock.yaml`. Recording only stages the entry: `commit()` writes the file, so that a batch with
 * any problem leaves the lockfile as it was.
 */
export class LockfilePinStore implements PinStore {
  /** Throws LockfileError for a file that cannot be read as a lockfile; a missing one is empty. */
  public static open(path: string, options: LockfilePinStoreOptions = {}): LockfilePinStore {
    return new LockfilePinStore(Lockfile.read(path), options);
  }

  public readonly acceptChangeHint = 'run with --update to accept it';
  private readonly staged: LockChange[] = [];

  constructor(public readonly lockfile: Lockfile, private readonly options: LockfilePinStoreOptions = {}) {}

  /** The lockfile's path, relative to the working directory when it lies below it. */
  public get location(): string {
    return displayPath(this.lockfile.path);
  }

  public read(key: PinKey): Pin | undefined {
    if (this.options.update) return undefined;
    const entry = this.lockfile.get(key.registry, key.name, key.requested);
    return entry && { version: entry.version, sha256: entry.sha256 };
  }

  public record(entry: LockEntry): void {
    const change = this.lockfile.set(entry);
    if (change) this.staged.push(change);
  }

  /** What recording changed in the lockfile since it was opened: new pins, and moved ones. */
  public get changes(): readonly LockChange[] {
    return this.staged;
  }

  public get size(): number {
    return this.lockfile.size;
  }

  /** Writes the lockfile (atomically) when anything changed. */
  public commit(): void {
    if (this.staged.length > 0) this.lockfile.write();
  }
}

/** `mcp.io/registry-sync: "true"` on an MCPServer: follow `latest` instead of keeping its pin. */
export const REGISTRY_SYNC_ANNOTATION = 'mcp.io/registry-sync';

/**
 * One MCPServer's `status.registryVersion`: a `latest` reference stays on the version it first
 * resolved to, so a resync or a controller restart never moves a running server to a new release by
 * surprise, unless the resource opts into following `latest` (REGISTRY_SYNC_ANNOTATION). Exact
 * versions need no pin. The store writes nothing: the recorded version is what the reconciler puts
 * into the status it writes anyway (`recordedVersion`).
 */
export class StatusPinStore implements PinStore {
  public readonly location = 'status.registryVersion';
  private recorded?: string;

  constructor(private readonly resource: MCPServerResource) {}

  /** The resource asks to follow `latest` (re-checked whenever the cached answer expires). */
  public get follows(): boolean {
    return this.resource.metadata.annotations?.[REGISTRY_SYNC_ANNOTATION] === 'true';
  }

  public read(key: PinKey): Pin | undefined {
    if (key.requested !== 'latest' || this.follows) return undefined;
    const version = this.resource.status?.registryVersion;
    return version ? { version } : undefined;
  }

  public record(entry: LockEntry): void {
    this.recorded = entry.version;
  }

  /** The version to write to `status.registryVersion`, once a resolution was recorded. */
  public get recordedVersion(): string | undefined {
    return this.recorded;
  }
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || rel === '' ? file : rel;
}

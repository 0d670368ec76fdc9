/** Errors of registry access and of turning a server.json into a deployment, typed for callers to branch on. */

export type RegistryErrorKind =
  | 'not-found'
  | 'unknown-version'
  | 'deleted'
  | 'rate-limited'
  | 'server'
  | 'timeout'
  | 'network'
  | 'malformed'
  /** The answer passed the byte limit of the bounded reader. */
  | 'too-large'
  /** A redirect to another origin, or too many redirects. */
  | 'redirect'
  /** The registry URL is not one the operator allows (controller: `--allowed-registry-url`). */
  | 'not-allowed'
  /** `--offline` and the answer is not in the cache. */
  | 'offline';

/**
 * The `RegistryResolved=False` reason the controller shows for the kinds that are the registry's (or
 * the URL's) fault rather than a passing failure; others get the generic one.
 */
const CONDITION_REASONS: Partial<Record<RegistryErrorKind, string>> = {
  'too-large': 'RegistryAnswerTooLarge',
  'redirect': 'RegistryRedirectRefused',
  'not-allowed': 'RegistryNotAllowed',
};

export interface RegistryErrorDetails {
  readonly url?: string;
  readonly server?: string;
  readonly version?: string;
  readonly status?: number;
  /** For `unknown-version`: the versions the registry does have. */
  readonly available?: readonly string[];
  readonly cause?: unknown;
}

export class RegistryError extends Error {
  public readonly url?: string;
  public readonly server?: string;
  public readonly version?: string;
  public readonly status?: number;
  public readonly available?: readonly string[];

  constructor(public readonly kind: RegistryErrorKind, message: string, details: RegistryErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'RegistryError';
    this.url = details.url;
    this.server = details.server;
    this.version = details.version;
    this.status = details.status;
    this.available = details.available;
  }

  /** For the controller's status condition; undefined: its generic reason. */
  public get conditionReason(): string | undefined {
    return CONDITION_REASONS[this.kind];
  }

  /** Worth trying again later: the registry or the way to it had a bad moment. */
  public get transient(): boolean {
    if (this.kind === 'server') return this.status === undefined || this.status >= 500;
    return this.kind === 'rate-limited' || this.kind === 'timeout' || this.kind === 'network';
  }
}

/** The server exists, but nothing in it can run as a Kubernetes workload. */
export class NotDeployableError extends Error {
  /** Nothing in the server.json will change by asking again. */
  public readonly transient = false;

  constructor(public readonly server: string, public readonly version: string, public readonly reason: string) {
    super(`${server}@${version} is not deployable: ${reason}`);
    this.name = 'NotDeployableError';
  }
}

/** A problem the user can fix in the MCPServer spec; `path` is relative to the resource root. */
export interface MappingProblem {
  readonly path: string;
  readonly message: string;
  /** For `spec.command` / `spec.args`: the list to write, with `<placeholders>` for what is unknown. */
  readonly suggestion?: readonly string[];
}

/** Every problem found while mapping one server.json onto one MCPServer spec. */
export class MappingError extends Error {
  /** The user must change the spec; asking the registry again changes nothing. */
  public readonly transient = false;

  constructor(public readonly server: string, public readonly version: string, public readonly problems: readonly MappingProblem[]) {
    super(`${server}@${version}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'MappingError';
  }
}

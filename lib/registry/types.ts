/**
 * The parts of the MCP Registry's data model that mcp-operator reads, in the camelCase shape of the
 * 2025-09-16 and later server.json schemas. Older documents are converted first (see ./normalize.ts),
 * so nothing past that point needs to know which `$schema` a document declared.
 */

export const DEFAULT_REGISTRY_URL = 'https://registry.modelcontextprotocol.io';
export const OFFICIAL_META_KEY = 'io.modelcontextprotocol.registry/official';

/** A value the user or the publisher supplies: an argument value, an env var, a header, a URL variable. */
export interface Input {
  readonly description?: string;
  readonly isRequired?: boolean;
  readonly isSecret?: boolean;
  readonly format?: string;
  /** A fixed value, possibly with `{var}` references into `variables`. */
  readonly value?: string;
  readonly default?: string;
  readonly placeholder?: string;
  readonly choices?: readonly string[];
  readonly variables?: Readonly<Record<string, Input>>;
}

export interface KeyValueInput extends Input {
  readonly name: string;
}

export interface PositionalArgument extends Input {
  readonly type: 'positional';
  readonly valueHint?: string;
  readonly isRepeated?: boolean;
}

export interface NamedArgument extends Input {
  readonly type: 'named';
  readonly name: string;
  readonly isRepeated?: boolean;
}

export type Argument = PositionalArgument | NamedArgument;

export interface Transport {
  readonly type: string;
  readonly url?: string;
  readonly headers?: readonly KeyValueInput[];
  readonly variables?: Readonly<Record<string, Input>>;
}

export interface Package {
  readonly registryType: string;
  readonly registryBaseUrl?: string;
  readonly identifier: string;
  readonly version?: string;
  readonly fileSha256?: string;
  readonly runtimeHint?: string;
  /** Required by every schema; a document without one is read as stdio. */
  readonly transport?: Transport;
  readonly runtimeArguments?: readonly Argument[];
  readonly packageArguments?: readonly Argument[];
  readonly environmentVariables?: readonly KeyValueInput[];
}

export interface ServerJson {
  readonly $schema?: string;
  readonly name: string;
  readonly description?: string;
  readonly title?: string;
  readonly version: string;
  readonly websiteUrl?: string;
  readonly repository?: { readonly url?: string; readonly source?: string; readonly subfolder?: string; readonly id?: string };
  readonly packages?: readonly Package[];
  readonly remotes?: readonly Transport[];
  /** Only in 2025-07-09 documents; later schemas moved the status into the registry's `_meta`. */
  readonly status?: string;
  readonly _meta?: Readonly<Record<string, unknown>>;
}

export type ServerStatus = 'active' | 'deprecated' | 'deleted';

/** `_meta["io.modelcontextprotocol.registry/official"]`: what the registry itself says about a version. */
export interface OfficialMeta {
  readonly status?: ServerStatus | string;
  readonly statusMessage?: string;
  readonly statusChangedAt?: string;
  readonly publishedAt?: string;
  readonly updatedAt?: string;
  readonly isLatest?: boolean;
}

/** One item of `GET /v0.1/servers` and the body of `GET .../versions/{version}`. */
export interface ServerResponse {
  readonly server: ServerJson;
  readonly _meta?: { readonly [OFFICIAL_META_KEY]?: OfficialMeta; readonly [key: string]: unknown };
}

export interface ServerList {
  readonly servers: readonly ServerResponse[];
  readonly metadata: { readonly nextCursor?: string; readonly count?: number };
}

export function officialMeta(response: ServerResponse): OfficialMeta | undefined {
  return response._meta?.[OFFICIAL_META_KEY];
}

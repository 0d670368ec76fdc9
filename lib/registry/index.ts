/** MCP Registry support: client, cache, lockfile, server.json → MCPServer mapping and resolution. */
export { RegistryClient, checkStatus, parseRetryAfter, normalizeBaseUrl } from './client';
export type { RegistryClientOptions, ListServersParams, GetOptions } from './client';
export { RegistryCache, defaultCacheDir, DEFAULT_TTL_MS } from './cache';
export type { CacheEntry, CacheKind, RegistryCacheOptions } from './cache';
export { RegistrySource } from './source';
export type { RegistrySourceOptions, GetVersionOptions } from './source';
export { Lockfile, LockfileError, LOCKFILE_NAME, defaultLockfilePath, serverDigest, canonicalJson } from './lockfile';
export type { LockEntry, LockChange } from './lockfile';
export { mapServer, choosePackage, notDeployableReason, packageRequirements, NODE_IMAGE, UV_IMAGE, NPM_ENV, UV_ENV, DEPLOYABLE_TYPES } from './mapping';
export type { MappedServer } from './mapping';
export { normalizeServerJson, ServerJsonShapeError } from './normalize';
export { resolveRegistryResources, LockMismatchError, describeChange } from './resolver';
export type { ResolveOptions, Resolution } from './resolver';
export { RegistryError, NotDeployableError, MappingError } from './errors';
export type { RegistryErrorKind, MappingProblem } from './errors';
export { DEFAULT_REGISTRY_URL, OFFICIAL_META_KEY, officialMeta } from './types';
export type * from './types';

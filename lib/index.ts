export * from './construct/mcpserver';
export * from './spec/mcpserver';
export { mcpServerCrd, CRD_NAME } from './spec/crd';
export { checkResource, formatProblem, InvalidInputError } from './spec/validate';
export type { Problem, DocumentOrigin } from './spec/validate';
export type { ValidationIssue } from './spec/schema';
export { desired, toYaml, parseDocuments, validateDocuments, readInputs } from './synth';
export type { KubeObject, SourceDocument, ValidatedResource, DesiredOptions } from './synth';
export { PROJECT_VERSION } from './version';
// Registry resolution before rendering (the resolver `synth` and the controller use; see README).
export { RegistryResolver, ResolvedSpecError, LockMismatchError } from './registry/resolver';
export type { RegistryResolverOptions, ResolveServerOptions, ResolvedServer } from './registry/resolver';
export { LockfilePinStore } from './registry/pins';
export type { PinStore, Pin, PinKey } from './registry/pins';
export type { AnswerCache } from './registry/cache';
export { RegistryError, NotDeployableError, MappingError } from './registry/errors';

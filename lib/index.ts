export * from './construct/mcpserver';
export * from './spec/mcpserver';
export { mcpServerCrd, CRD_NAME } from './spec/crd';
export { checkResource, formatProblem, InvalidInputError } from './spec/validate';
export type { Problem, DocumentOrigin } from './spec/validate';
export type { ValidationIssue } from './spec/schema';
export { desired, toYaml, parseDocuments, validateDocuments, readInputs } from './synth';
export type { KubeObject, SourceDocument, ValidatedResource, DesiredOptions } from './synth';
export { PROJECT_VERSION } from './version';

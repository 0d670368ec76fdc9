import { DNS1123_LABEL } from './k8s';
import { annotations, API_GROUP, API_VERSION, KIND, labels, MCPServerResource, MCPServerSpec, mcpServerMetadata, mcpServerSpec, POD_PATHS } from './mcpserver';
import { ValidationIssue } from './schema';

/** Where a document came from, so every error can point back at it. */
export interface DocumentOrigin {
  readonly file: string;
  /** 0-based index of the document inside a multi-document file. */
  readonly index: number;
  /** Whether the file holds more than one document (only then is the index worth printing). */
  readonly multi?: boolean;
}

export interface Problem {
  readonly origin: DocumentOrigin;
  readonly name?: string;
  readonly path?: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export function formatProblem(p: Problem): string {
  const where = p.line !== undefined ? `${p.origin.file}:${p.line}:${p.column ?? 1}` : p.origin.file;
  const doc = p.origin.multi || p.name ? ` document ${p.origin.index + 1}${p.name ? ` (${p.name})` : ''}:` : '';
  const field = p.path ? ` ${p.path}:` : '';
  return `${where}:${doc}${field} ${p.message}`;
}

/** Thrown when any input is invalid; carries every problem found, not just the first. */
export class InvalidInputError extends Error {
  constructor(public readonly problems: readonly Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InvalidInputError';
  }
}

const API_VERSION_FULL = `${API_GROUP}/${API_VERSION}`;
const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
const NAMESPACE = new RegExp(DNS1123_LABEL);

/**
 * Checks one parsed document and returns it as a typed resource with defaults applied,
 * or the list of issues (dotted paths from the document root).
 */
export function checkResource(doc: unknown): { resource?: MCPServerResource; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { issues: [{ path: '', message: `must be an ${KIND} object (got ${doc === null ? 'an empty document' : Array.isArray(doc) ? 'a list' : typeof doc})` }] };
  }
  const input = doc as Record<string, unknown>;
  if (input.apiVersion !== API_VERSION_FULL) {
    issues.push({ path: 'apiVersion', message: `must be ${API_VERSION_FULL} (got ${JSON.stringify(input.apiVersion ?? null)})` });
  }
  if (input.kind !== KIND) issues.push({ path: 'kind', message: `must be ${KIND} (got ${JSON.stringify(input.kind ?? null)})` });
  const own = (key: string) => (Object.hasOwn(input, key) ? input[key] : undefined);
  for (const key of Object.keys(input)) {
    if (!TOP_LEVEL.has(key)) issues.push({ path: key, message: 'unknown field (known fields: apiVersion, kind, metadata, spec, status)' });
  }
  const metadata = checkMetadata(own('metadata'), issues);
  let spec: MCPServerSpec | undefined;
  const rawSpec = own('spec');
  if (rawSpec === undefined || rawSpec === null) issues.push({ path: 'spec', message: 'is required' });
  else spec = mcpServerSpec.parse(rawSpec, 'spec', issues);
  if (spec) checkSemantics(spec, issues);
  if (issues.length > 0 || !metadata || !spec) return { issues };
  return { issues, resource: { apiVersion: API_VERSION_FULL, kind: KIND, metadata, spec } };
}

/**
 * ObjectMeta fields. The ones a user writes are checked as the API server checks them; the ones the
 * server manages (uid, managedFields, ...) appear on live objects the controller reads and are passed
 * through. Anything else is an unknown field, as strict decoding says.
 */
const SERVER_MANAGED_METADATA = new Set(['generateName', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'ownerReferences', 'finalizers', 'managedFields']);
const USER_METADATA = ['name', 'namespace', 'labels', 'annotations'];
const metadataLabels = labels();
const metadataAnnotations = annotations();

function checkMetadata(value: unknown, issues: ValidationIssue[]): MCPServerResource['metadata'] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path: 'metadata', message: 'is required and must be an object with a name' });
    return undefined;
  }
  const meta = value as Record<string, unknown>;
  const own = (key: string) => (Object.hasOwn(meta, key) ? meta[key] : undefined);
  for (const key of Object.keys(meta)) {
    if (!USER_METADATA.includes(key) && !SERVER_MANAGED_METADATA.has(key)) {
      issues.push({ path: `metadata.${key}`, message: `unknown field (known fields: ${[...USER_METADATA, ...SERVER_MANAGED_METADATA].sort().join(', ')})` });
    }
  }
  const name = own('name');
  if (typeof name !== 'string' || name === '') {
    issues.push({ path: 'metadata.name', message: 'is required' });
    return undefined;
  }
  mcpServerMetadata.parse({ name }, 'metadata', issues);
  const namespace = own('namespace');
  if (namespace !== undefined && (typeof namespace !== 'string' || !NAMESPACE.test(namespace) || namespace.length > 63)) {
    issues.push({ path: 'metadata.namespace', message: `must be a DNS-1123 label (got ${JSON.stringify(namespace)})` });
  }
  if (own('labels') !== undefined) metadataLabels.parse(own('labels'), 'metadata.labels', issues);
  if (own('annotations') !== undefined) metadataAnnotations.parse(own('annotations'), 'metadata.annotations', issues);
  return meta as MCPServerResource['metadata'];
}

/** A namespace name as the API server takes it (`-n` and metadata.namespace). */
export function namespaceProblem(namespace: string): string | undefined {
  return NAMESPACE.test(namespace) && namespace.length <= 63 ? undefined : `must be a DNS-1123 label: lowercase letters, digits and "-", at most 63 (got ${JSON.stringify(namespace)})`;
}

/** Rules across fields that a structural schema cannot state. */
function checkSemantics(spec: MCPServerSpec, issues: ValidationIssue[]): void {
  for (const resource of Object.keys(spec.resources?.requests ?? {})) {
    const request = spec.resources?.requests?.[resource];
    const limit = spec.resources?.limits?.[resource];
    if (request === undefined || limit === undefined) continue;
    const r = quantityValue(request);
    const l = quantityValue(limit);
    if (r !== undefined && l !== undefined && r > l) {
      issues.push({ path: `spec.resources.requests.${resource}`, message: `must be <= limit ${limit} (got ${request})` });
    }
  }
  const mountPath = spec.configMountPath?.replace(/\/+$/, '');
  if (mountPath !== undefined && (Object.values(POD_PATHS) as string[]).includes(mountPath)) {
    issues.push({ path: 'spec.configMountPath', message: `must not be ${mountPath}: the pod mounts its own volume there (got ${JSON.stringify(spec.configMountPath)})` });
  }
  if (spec.transport?.type === 'stdio' && !spec.command?.length && !spec.registry) {
    issues.push({ path: 'spec.command', message: 'is required when transport.type is stdio (the bridge must know what to start)' });
  }
}

const SUFFIX: Record<string, number> = {
  '': 1,
  'n': 1e-9,
  'u': 1e-6,
  'm': 1e-3,
  'k': 1e3,
  'M': 1e6,
  'G': 1e9,
  'T': 1e12,
  'P': 1e15,
  'E': 1e18,
  'Ki': 2 ** 10,
  'Mi': 2 ** 20,
  'Gi': 2 ** 30,
  'Ti': 2 ** 40,
  'Pi': 2 ** 50,
  'Ei': 2 ** 60,
};

/** Numeric value of a quantity, precise enough to compare a request with its limit. */
export function quantityValue(q: string | number): number | undefined {
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9.]+)|([a-zA-Z]*))$/.exec(q);
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return Number(`${m[1]}${m[2]}`);
  const mult = SUFFIX[m[3] ?? ''];
  return mult === undefined ? undefined : base * mult;
}

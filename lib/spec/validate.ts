import { DNS1123_LABEL } from './k8s';
import { API_GROUP, API_VERSION, KIND, MCPServerResource, MCPServerSpec, mcpServerMetadata, mcpServerSpec, POD_PATHS } from './mcpserver';
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
  for (const key of Object.keys(input)) {
    if (!TOP_LEVEL.has(key)) issues.push({ path: key, message: 'unknown field (known fields: apiVersion, kind, metadata, spec, status)' });
  }
  const metadata = checkMetadata(input.metadata, issues);
  let spec: MCPServerSpec | undefined;
  if (input.spec === undefined || input.spec === null) issues.push({ path: 'spec', message: 'is required' });
  else spec = mcpServerSpec.parse(input.spec, 'spec', issues);
  if (spec) checkSemantics(spec, issues);
  if (issues.length > 0 || !metadata || !spec) return { issues };
  return { issues, resource: { apiVersion: API_VERSION_FULL, kind: KIND, metadata, spec } };
}

function checkMetadata(value: unknown, issues: ValidationIssue[]): MCPServerResource['metadata'] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path: 'metadata', message: 'is required and must be an object with a name' });
    return undefined;
  }
  const meta = value as Record<string, unknown>;
  if (typeof meta.name !== 'string' || meta.name === '') {
    issues.push({ path: 'metadata.name', message: 'is required' });
    return undefined;
  }
  mcpServerMetadata.parse({ name: meta.name }, 'metadata', issues);
  if (meta.namespace !== undefined && (typeof meta.namespace !== 'string' || !NAMESPACE.test(meta.namespace) || meta.namespace.length > 63)) {
    issues.push({ path: 'metadata.namespace', message: `must be a DNS-1123 label (got ${JSON.stringify(meta.namespace)})` });
  }
  for (const key of ['labels', 'annotations'] as const) {
    const map = meta[key];
    if (map === undefined) continue;
    if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.values(map).some((v) => typeof v !== 'string')) {
      issues.push({ path: `metadata.${key}`, message: 'must be a map of strings' });
    }
  }
  return meta as MCPServerResource['metadata'];
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

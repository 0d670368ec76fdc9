/**
 * The MCPServer resource, written once. `mcpServerSpec` is where the TS types, the CRD's
 * openAPIV3Schema (see ./crd.ts) and runtime validation (see ./validate.ts) all come from.
 */
import { affinity, configMapKey, DNS1123_SUBDOMAIN, ENV_NAME, envFromSource, envVar, labelValue, qualifiedName, resourceRequirements, toleration } from './k8s';
import { Infer, s } from './schema';

export const API_GROUP = 'mcp.io';
export const API_VERSION = 'v1';
export const KIND = 'MCPServer';
export const PLURAL = 'mcpservers';

/** Defaults the seed documents, plus the ones we add; the CRD carries the same values. */
export const DEFAULTS = {
  tag: 'latest',
  replicas: 1,
  port: 8080,
  serviceType: 'ClusterIP',
  transport: 'http',
  httpPath: '/mcp',
  configMountPath: '/etc/mcp',
  runAsUser: 65532,
  runAsGroup: 65532,
  terminationGracePeriodSeconds: 30,
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
} as const;

/** Where every pod mounts its own volumes; config cannot be mounted on top of them. */
export const POD_PATHS = { tmp: '/tmp', home: '/home/mcp', bridge: '/mcp-bridge' } as const;

const IMAGE_REF = '^[a-zA-Z0-9][a-zA-Z0-9._\\-/:@]*$';

const probeTuning = s.object({
  initialDelaySeconds: s.integer({ minimum: 0 }),
  periodSeconds: s.integer({ minimum: 1 }),
  timeoutSeconds: s.integer({ minimum: 1 }),
  failureThreshold: s.integer({ minimum: 1 }),
  successThreshold: s.integer({ minimum: 1 }),
}, { description: 'Overrides of the probe timing.' });

export const probesSpec = s.object({
  enabled: s.boolean({ description: 'Set false to run without liveness and readiness probes.' }),
  liveness: probeTuning.withRule({
    rule: '!has(self.successThreshold) || self.successThreshold == 1',
    message: 'must be 1 for a liveness probe',
    fieldPath: '.successThreshold',
    check: (v) => v.successThreshold === undefined || v.successThreshold === 1,
  }),
  readiness: probeTuning,
}, { description: 'Liveness and readiness probes. Defaults: TCP on the port (HTTP /healthz and /readyz of the bridge for stdio); liveness 30s/10s/5s, readiness 5s/5s/3s.' });

/** The API server takes user and group ids from 0 to 2^31-1, although the Go fields are int64. */
const ID_MAX = 2 ** 31 - 1;

export const securitySpec = s.object({
  runAsUser: s.integer({ minimum: 1, maximum: ID_MAX, format: 'int64', description: 'Numeric UID (default 65532). 0 is not allowed: pods run as non-root.' }),
  runAsGroup: s.integer({ minimum: 0, maximum: ID_MAX, format: 'int64', description: 'Numeric GID (default 65532).' }),
  fsGroup: s.integer({ minimum: 0, maximum: ID_MAX, format: 'int64', description: 'Group owning mounted volumes (default runAsGroup).' }),
  readOnlyRootFilesystem: s.boolean({ description: 'Default true; /tmp and $HOME are writable emptyDirs either way.' }),
}, { description: 'Overrides of the restricted security context.' });

/** ConfigMap data may hold at most 1 MiB (the API server's MaxSecretSize applies to ConfigMaps too). */
export const CONFIG_MAX_BYTES = 1024 * 1024;

/** Names every JS object inherits (`constructor`, `__proto__`, ...): see the config key rule. */
const INHERITED_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
const INHERITED_NAMES_CEL = INHERITED_NAMES.map((n) => `'${n}'`).join(', ');

/** Annotations: qualified-name keys, and at most 256 KiB of keys and values together. */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;
export const annotations = () => s.map(s.string({ maxLength: ANNOTATIONS_MAX_BYTES }), {
  keys: qualifiedName(),
  keyHint: 'an annotation key',
  maxProperties: 256,
  maxTotalBytes: { bytes: ANNOTATIONS_MAX_BYTES, countKeys: true, what: 'annotations' },
});
export const labels = () => s.map(labelValue(), { keys: qualifiedName(), keyHint: 'a label key', maxProperties: 64 });

export const transportSpec = s.object({
  type: s.enum(['http', 'stdio'] as const, { description: 'http: the server listens on port. stdio: the server speaks MCP on stdin/stdout and the in-pod bridge serves it over streamable HTTP.' }),
  path: s.string({ pattern: '^/[^\\s]*$', patternHint: 'an absolute URL path such as /mcp', description: 'HTTP path of the MCP endpoint (default /mcp).' }),
}, { description: 'How the server speaks MCP (default http).' });

export const registrySpec = s.object({
  name: s.string({
    description: 'Server name in the MCP Registry, e.g. io.github.modelcontextprotocol/filesystem.',
    pattern: '^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$',
    patternHint: 'a registry server name such as io.github.owner/server',
    maxLength: 200,
  }),
  version: s.string({ description: 'Exact version, or latest (default; resolved once and pinned).', minLength: 1, maxLength: 255 }),
  url: s.string({ description: 'Registry base URL (default https://registry.modelcontextprotocol.io).', pattern: '^https?://[^\\s]+$', patternHint: 'an http(s) URL' }),
  package: s.enum(['oci', 'npm', 'pypi'] as const, { description: 'Which package of the server to deploy when it has several (default: oci, then npm, then pypi).' }),
}, { required: ['name'], description: 'Take image, command, arguments and environment from the MCP Registry.' });

export const mcpServerSpec = s.object({
  image: s.string({ description: 'Container image of the MCP server. Required unless registry is set.', pattern: IMAGE_REF, patternHint: 'an image reference such as ghcr.io/org/server', maxLength: 512 }),
  tag: s.string<string>({ description: 'Image tag (default latest). Ignored when image has an @sha256 digest.', pattern: '^[\\w][\\w.-]{0,127}$', patternHint: 'an image tag (letters, digits, "_", ".", "-"; at most 128)', default: DEFAULTS.tag }),
  replicas: s.integer({ minimum: 0, maximum: 1000, default: DEFAULTS.replicas, description: 'Number of pods (default 1).' }),
  port: s.integer({ minimum: 1, maximum: 65535, default: DEFAULTS.port, description: 'Port the server listens on (default 8080).' }),
  serviceType: s.enum(['ClusterIP', 'NodePort', 'LoadBalancer'] as const, { default: DEFAULTS.serviceType, description: 'Type of the Service (default ClusterIP).' }),
  command: s.array(s.string(), { description: 'Entrypoint of the container.' }),
  args: s.array(s.string(), { description: 'Arguments of the entrypoint.' }),
  env: s.array(envVar, { listType: 'map', listMapKeys: ['name'], maxItems: 256, description: 'Environment variables; credentials only through valueFrom.secretKeyRef.' }),
  envFrom: s.array(envFromSource, { maxItems: 64, description: 'Whole ConfigMaps or Secrets as environment.' }),
  resources: resourceRequirements,
  nodeSelector: s.map(labelValue(), { keys: qualifiedName(), keyHint: 'a label key', maxProperties: 64, description: 'Node labels the pods must match.' }),
  tolerations: s.array(toleration, { maxItems: 64 }),
  affinity,
  config: s.map(s.string({ maxLength: CONFIG_MAX_BYTES }), {
    keys: configMapKey().withRule({
      rule: `!(self in [${INHERITED_NAMES_CEL}])`,
      message: 'is a name every JS object inherits; cdk8s-plus cannot store it as a ConfigMap key',
      check: (v: string) => !INHERITED_NAMES.includes(v),
    }),
    keyHint: 'a ConfigMap key (letters, digits, "-", "_", "."; at most 253; not "." nor starting with "..")',
    maxProperties: 1024,
    maxTotalBytes: { bytes: CONFIG_MAX_BYTES, countKeys: false, what: 'ConfigMap data' },
    description: 'Configuration files: a ConfigMap mounted at configMountPath; pods roll when it changes.',
  }),
  configMountPath: s.string({ pattern: '^/[^:]*$', patternHint: 'an absolute path', description: 'Where config is mounted (default /etc/mcp).' }),
  transport: transportSpec,
  registry: registrySpec,
  probes: probesSpec,
  security: securitySpec,
  imagePullPolicy: s.enum(['Always', 'IfNotPresent', 'Never'] as const),
  imagePullSecrets: s.array(s.string({ pattern: DNS1123_SUBDOMAIN, patternHint: 'a Secret name' }), { listType: 'set', description: 'Names of Secrets for pulling the image.' }),
  serviceAccountName: s.string({ pattern: DNS1123_SUBDOMAIN, patternHint: 'a ServiceAccount name', description: 'Use an existing ServiceAccount instead of the one made per server.' }),
  automountServiceAccountToken: s.boolean({ description: 'Mount a Kubernetes API token into the pods (default false).' }),
  terminationGracePeriodSeconds: s.integer({ minimum: 0, maximum: 3600, format: 'int64', description: 'Time for graceful shutdown (default 30).' }),
  podAnnotations: annotations(),
  podLabels: labels(),
  verify: s.boolean({ description: 'Controller only: connect as an MCP client after rollout and record the tool count in status.' }),
}, { description: 'Desired state of an MCP server.' })
  .withRule({
    rule: 'has(self.image) || has(self.registry)',
    message: 'either image or registry must be set',
    fieldPath: '.image',
    check: (v) => v.image !== undefined || v.registry !== undefined,
  });

const condition = s.object({
  type: s.string(),
  status: s.enum(['True', 'False', 'Unknown'] as const),
  reason: s.string(),
  message: s.string(),
  lastTransitionTime: s.string({ format: 'date-time' }),
  observedGeneration: s.integer({ format: 'int64' }),
}, { required: ['type', 'status'] });

export const mcpServerStatus = s.object({
  phase: s.enum(['Pending', 'Running', 'Failed', 'Terminating'] as const),
  replicas: s.integer(),
  readyReplicas: s.integer(),
  observedGeneration: s.integer({ format: 'int64' }),
  selector: s.string({ description: 'Label selector of the pods, for the scale subresource.' }),
  image: s.string({ description: 'The image reference actually deployed.' }),
  registryVersion: s.string({ description: 'The registry version the spec was resolved to.' }),
  url: s.string({ description: 'In-cluster URL of the MCP endpoint.' }),
  tools: s.integer({ description: 'Number of tools the server listed at the last verification.' }),
  conditions: s.array(condition, { listType: 'map', listMapKeys: ['type'] }),
});

export const mcpServerMetadata = s.object({
  name: s.string({
    pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
    patternHint: 'a DNS-1035 label (lowercase letters, digits and "-", starting with a letter), because it names the Service',
    maxLength: 63,
  }),
});

export type MCPServerSpec = Infer<typeof mcpServerSpec>;
export type MCPServerStatus = Infer<typeof mcpServerStatus>;
export type TransportType = 'http' | 'stdio';

export interface MCPServerResource {
  apiVersion: `${typeof API_GROUP}/${typeof API_VERSION}`;
  kind: typeof KIND;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec: MCPServerSpec;
  status?: MCPServerStatus;
}

export { ENV_NAME };

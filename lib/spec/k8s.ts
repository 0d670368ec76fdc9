/**
 * The core/v1 types the MCPServer spec embeds (EnvVar, ResourceRequirements, Toleration, Affinity),
 * written strictly: a field Kubernetes does not know is an error here and in the CRD, instead of being
 * silently pruned by the API server. They follow the Kubernetes 1.28 API that cdk8s-plus-28 renders;
 * newer fields (e.g. podAffinityTerm.matchLabelKeys) would be dropped by its serializer, so they are
 * rejected instead of being lost silently.
 */
import { Infer, s } from './schema';

export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
// Kubernetes' classic env var rule; the API server accepts more since 1.30 but shells do not.
export const ENV_NAME = '^[-._a-zA-Z][-._a-zA-Z0-9]*$';
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
export const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';

/** A label (or taint) value: checked here so a bad one is refused before a Deployment ever carries it. */
export const labelValue = () => s.string({
  maxLength: 63,
  pattern: LABEL_VALUE,
  patternHint: 'a label value (at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit)',
});

/**
 * A qualified name (label, annotation, toleration and topology keys): an optional DNS subdomain
 * prefix of at most 253 characters and `/`, then a name of at most 63 (the pattern bounds the name).
 */
export const qualifiedName = (description?: string) => s.string({
  description,
  minLength: 1,
  maxLength: 253 + 1 + 63,
  pattern: LABEL_KEY,
  patternHint: 'a qualified name such as app.kubernetes.io/name (an optional DNS-subdomain prefix and "/", then at most 63 letters, digits, "-", "_", ".")',
}).withRule({
  rule: "self.indexOf('/') <= 253",
  message: 'the prefix before "/" must be at most 253 characters',
  check: (v: string) => v.indexOf('/') <= 253,
  // Qualified names sit inside lists (affinity terms, selectors); the pattern and maxLength stay in the CRD.
  cliOnly: true,
});

/** A ConfigMap key (and the key of a configMapKeyRef or secretKeyRef), as the API server checks it. */
export const configMapKey = (description?: string) => s.string({
  description,
  minLength: 1,
  maxLength: 253,
  pattern: '^[-._a-zA-Z0-9]+$',
  patternHint: 'a ConfigMap key (letters, digits, "-", "_", ".")',
}).withRule({
  rule: "self != '.' && !self.startsWith('..')",
  message: 'must not be "." or start with ".."',
  check: (v: string) => v !== '.' && !v.startsWith('..'),
});

const objectName = (what: string) =>
  s.string({ description: `Name of the ${what}.`, pattern: DNS1123_SUBDOMAIN, patternHint: 'a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")', maxLength: 253 });

export const secretKeySelector = s.object(
  {
    name: objectName('Secret'),
    key: configMapKey('Key in the Secret.'),
    optional: s.boolean({ description: 'Whether the Secret or its key may be missing.' }),
  },
  { required: ['name', 'key'], description: 'Selects a key of a Secret in the same namespace.' },
);

export const configMapKeySelector = s.object(
  {
    name: objectName('ConfigMap'),
    key: configMapKey('Key in the ConfigMap.'),
    optional: s.boolean({ description: 'Whether the ConfigMap or its key may be missing.' }),
  },
  { required: ['name', 'key'], description: 'Selects a key of a ConfigMap in the same namespace.' },
);

/** The pod fields the API server lets an env var read (validEnvDownwardAPIFieldPathExpressions). */
export const ENV_FIELD_PATHS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'] as const;
const LABEL_KEY_BODY = LABEL_KEY.slice(1, -1);
/** `metadata.labels['key']` and `metadata.annotations['key']` are allowed too, with a valid key. */
export const ENV_FIELD_PATH = `^(${ENV_FIELD_PATHS.map((p) => p.replace(/\./g, '\\.')).join('|')}|metadata\\.(labels|annotations)\\['${LABEL_KEY_BODY}'\\])$`;

/** Container resources an env var can read, and the divisors the API server allows for each. */
const CPU_DIVISORS = ['1m', '1'];
const MEMORY_DIVISORS = ['1', '1k', '1M', '1G', '1T', '1P', '1E', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'];
const ENV_RESOURCES = ['limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage'] as const;

export const envVarSource = s.object(
  {
    secretKeyRef: secretKeySelector,
    configMapKeyRef: configMapKeySelector,
    fieldRef: s.object(
      {
        fieldPath: s.string({
          minLength: 1,
          maxLength: 400,
          pattern: ENV_FIELD_PATH,
          patternHint: `one of ${ENV_FIELD_PATHS.join(', ')}, metadata.labels['<key>'] or metadata.annotations['<key>']`,
        }),
        apiVersion: s.enum(['v1'] as const, { description: 'Only v1 (the default).' }),
      },
      { required: ['fieldPath'], description: 'A field of the pod, e.g. metadata.namespace.' },
    ),
    resourceFieldRef: s.object(
      { resource: s.enum(ENV_RESOURCES), containerName: s.string({ maxLength: 63, pattern: DNS1123_LABEL, patternHint: 'a container name' }), divisor: s.quantity() },
      { required: ['resource'], description: 'A resource of the container, e.g. limits.memory.' },
    ).withRule({
      rule: `!has(self.divisor) || (self.resource.endsWith('.cpu') ? string(self.divisor) in [${CPU_DIVISORS.map((d) => `'${d}'`).join(', ')}] : string(self.divisor) in [${MEMORY_DIVISORS.map((d) => `'${d}'`).join(', ')}])`,
      message: `divisor must be ${CPU_DIVISORS.join(' or ')} for cpu, one of ${MEMORY_DIVISORS.join(', ')} for memory and ephemeral-storage`,
      fieldPath: '.divisor',
      check: (v) => v.divisor === undefined || (String(v.resource).endsWith('.cpu') ? CPU_DIVISORS : MEMORY_DIVISORS).includes(String(v.divisor)),
      // Estimated 8x over the CRD budget (it sits in the env list); the Deployment is refused either way.
      cliOnly: true,
    }),
  },
  { description: 'Where the value comes from; exactly one source.' },
).withRule({
  rule: '(has(self.secretKeyRef) ? 1 : 0) + (has(self.configMapKeyRef) ? 1 : 0) + (has(self.fieldRef) ? 1 : 0) + (has(self.resourceFieldRef) ? 1 : 0) == 1',
  message: 'exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef must be set',
  check: (v) => ['secretKeyRef', 'configMapKeyRef', 'fieldRef', 'resourceFieldRef'].filter((k) => v[k] !== undefined).length === 1,
});

/**
 * Names that by convention hold credentials. A literal value for one of these ends up in the
 * Deployment, in Git and in `kubectl get -o yaml`; it must come from a Secret instead.
 */
export const SECRET_NAME_PATTERN = '(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|ACCESS_?KEY)$';
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|ACCESS_?KEY)$/i;

export function looksLikeSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

export const envVar = s
  .object(
    {
      name: s.string({ description: 'Environment variable name.', pattern: ENV_NAME, patternHint: 'a valid environment variable name (letters, digits, "_", "-", "."; not starting with a digit)', minLength: 1, maxLength: 253 }),
      value: s.string({ description: 'Literal value. Not allowed for names that look like credentials; use valueFrom.secretKeyRef.', maxLength: 32768 }),
      valueFrom: envVarSource,
    },
    { required: ['name'] },
  )
  .withRule({
    rule: '!(has(self.value) && has(self.valueFrom))',
    message: 'value and valueFrom are mutually exclusive',
    check: (v) => !(v.value !== undefined && v.valueFrom !== undefined),
  })
  .withRule({
    rule: `!(has(self.value) && self.value != '' && self.name.matches('${SECRET_NAME_PATTERN}'))`,
    message: 'looks like a credential: give it with valueFrom.secretKeyRef instead of a plain value',
    fieldPath: '.value',
    check: (v) => !(typeof v.value === 'string' && v.value !== '' && looksLikeSecretName(String(v.name))),
  });

export const envFromSource = s
  .object({
    prefix: s.string({ pattern: ENV_NAME, patternHint: 'a valid environment variable prefix' }),
    configMapRef: s.object({ name: objectName('ConfigMap'), optional: s.boolean() }, { required: ['name'] }),
    secretRef: s.object({ name: objectName('Secret'), optional: s.boolean() }, { required: ['name'] }),
  })
  .withRule({
    rule: 'has(self.configMapRef) != has(self.secretRef)',
    message: 'exactly one of configMapRef, secretRef must be set',
    check: (v) => (v.configMapRef !== undefined) !== (v.secretRef !== undefined),
  });

/**
 * Container resource names: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended
 * resource with a domain prefix outside kubernetes.io (the API server refuses other bare names).
 */
const resourceName = s.string({
  maxLength: 253 + 1 + 63,
  pattern: '^(cpu|memory|ephemeral-storage|hugepages-[0-9]+[KMGTPE]i?|([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]([-a-z0-9]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$',
  patternHint: 'cpu, memory, ephemeral-storage, hugepages-<size> or an extended resource such as example.com/gpu',
}).withRule({
  rule: "!self.contains('kubernetes.io/')",
  message: 'an extended resource must not be in the kubernetes.io domain',
  check: (v: string) => !v.includes('kubernetes.io/'),
});
const resourceMap = (description: string) =>
  s.map(s.quantity({ nonNegative: true }), { keys: resourceName, keyHint: 'a resource name', maxProperties: 32, description });
const isOvercommitable = (name: string) => name === 'cpu' || name === 'memory' || name === 'ephemeral-storage';

export const resourceRequirements = s.object(
  {
    limits: resourceMap('Maximum amount of compute resources allowed.'),
    requests: resourceMap('Minimum amount of compute resources required.'),
  },
  { description: 'Compute resources of the MCP server container. Defaults: requests 100m/128Mi, limits 500m/512Mi.' },
).withRule({
  rule: "!has(self.requests) || self.requests.all(k, k in ['cpu', 'memory', 'ephemeral-storage'] || (has(self.limits) && k in self.limits && string(self.limits[k]) == string(self.requests[k])))",
  message: 'hugepages and extended resources cannot be overcommitted: a request needs a limit of the same value',
  fieldPath: '.requests',
  check: (v) => Object.entries(v.requests ?? {}).every(([k, q]) =>
    isOvercommitable(k) || (v.limits !== undefined && Object.hasOwn(v.limits, k) && String(v.limits[k]) === String(q))),
  // Comparing two quantity maps costs more than the CRD budget allows.
  cliOnly: true,
});

export const toleration = s.object({
  key: s.string({ description: 'Taint key; empty with operator Exists matches all taints.', maxLength: 253 + 1 + 63, pattern: `^$|${LABEL_KEY}`, patternHint: 'a qualified name such as example.com/dedicated' }),
  operator: s.enum(['Exists', 'Equal'] as const),
  value: labelValue(),
  effect: s.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const),
  tolerationSeconds: s.integer({ format: 'int64', description: 'Only with effect NoExecute.' }),
}).withRule({
  rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
  message: 'value must be empty when operator is Exists',
  check: (v) => v.operator !== 'Exists' || !v.value,
}).withRule({
  rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
  message: 'operator must be Exists when key is empty (which means "tolerate every taint")',
  fieldPath: '.operator',
  check: (v) => !!v.key || v.operator === 'Exists',
}).withRule({
  rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
  message: 'effect must be NoExecute when tolerationSeconds is set',
  fieldPath: '.effect',
  check: (v) => v.tolerationSeconds === undefined || v.effect === 'NoExecute',
}).withRule({
  rule: "!has(self.key) || self.key.indexOf('/') <= 253",
  message: 'the key prefix before "/" must be at most 253 characters',
  fieldPath: '.key',
  check: (v) => v.key === undefined || v.key.indexOf('/') <= 253,
  cliOnly: true,
});

const INT64_TEXT = /^-?(0|[1-9][0-9]{0,18})$/;

const nodeSelectorRequirement = s.object(
  {
    key: qualifiedName(),
    operator: s.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const),
    values: s.array(s.string({ maxLength: 63 }), { maxItems: 64 }),
  },
  { required: ['key', 'operator'] },
).withRule({
  rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : self.operator in ['Exists', 'DoesNotExist'] ? !has(self.values) || size(self.values) == 0 : has(self.values) && size(self.values) == 1 && self.values[0].matches('^-?(0|[1-9][0-9]{0,18})$')",
  message: 'In and NotIn need values; Exists and DoesNotExist take none; Gt and Lt take exactly one integer',
  fieldPath: '.values',
  check: (v) => {
    const values: string[] = v.values ?? [];
    if (v.operator === 'In' || v.operator === 'NotIn') return values.length > 0;
    if (v.operator === 'Exists' || v.operator === 'DoesNotExist') return values.length === 0;
    return values.length === 1 && INT64_TEXT.test(values[0]!) && BigInt(values[0]!) <= 2n ** 63n - 1n && BigInt(values[0]!) >= -(2n ** 63n);
  },
  // Inside two nested lists its estimated cost exceeds the CRD budget.
  cliOnly: true,
});

/** matchFields can only select on metadata.name, with In or NotIn and exactly one value. */
const nodeFieldRequirement = s.object(
  {
    key: s.enum(['metadata.name'] as const),
    operator: s.enum(['In', 'NotIn'] as const),
    values: s.array(s.string({ maxLength: 253 }), { minItems: 1, maxItems: 1 }),
  },
  { required: ['key', 'operator', 'values'] },
);

const nodeSelectorTerm = s.object({
  matchExpressions: s.array(nodeSelectorRequirement, { maxItems: 64 }),
  matchFields: s.array(nodeFieldRequirement, { maxItems: 64 }),
});

export const labelSelector = s.object({
  // Selectors sit in lists of affinity terms: a per-key CEL rule there exceeds the CRD cost budget.
  matchLabels: s.map(labelValue(), { keys: qualifiedName(), keyHint: 'a label key', maxProperties: 64, keysCliOnly: true }),
  matchExpressions: s.array(
    s.object(
      {
        key: qualifiedName(),
        operator: s.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const),
        values: s.array(labelValue(), { maxItems: 64 }),
      },
      { required: ['key', 'operator'] },
    ).withRule({
      rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
      message: 'In and NotIn need values; Exists and DoesNotExist take none',
      fieldPath: '.values',
      check: (v) => ((v.operator === 'In' || v.operator === 'NotIn') ? (v.values ?? []).length > 0 : (v.values ?? []).length === 0),
      cliOnly: true,
    }),
    { maxItems: 64 },
  ),
});

const podAffinityTerm = s.object(
  {
    labelSelector,
    namespaceSelector: labelSelector,
    namespaces: s.array(s.string({ maxLength: 63, pattern: DNS1123_LABEL, patternHint: 'a namespace name' }), { maxItems: 64 }),
    topologyKey: qualifiedName('Node label key, e.g. kubernetes.io/hostname.'),
  },
  { required: ['topologyKey'] },
);

const weight = s.integer({ minimum: 1, maximum: 100 });

const podAffinity = s.object({
  requiredDuringSchedulingIgnoredDuringExecution: s.array(podAffinityTerm, { maxItems: 32 }),
  preferredDuringSchedulingIgnoredDuringExecution: s.array(
    s.object({ weight, podAffinityTerm }, { required: ['weight', 'podAffinityTerm'] }),
    { maxItems: 32 },
  ),
});

export const affinity = s.object(
  {
    nodeAffinity: s.object({
      requiredDuringSchedulingIgnoredDuringExecution: s.object(
        { nodeSelectorTerms: s.array(nodeSelectorTerm, { minItems: 1, maxItems: 64 }) },
        { required: ['nodeSelectorTerms'] },
      ),
      preferredDuringSchedulingIgnoredDuringExecution: s.array(
        s.object({ weight, preference: nodeSelectorTerm }, { required: ['weight', 'preference'] }),
        { maxItems: 32 },
      ),
    }),
    podAffinity,
    podAntiAffinity: podAffinity,
  },
  { description: 'Pod affinity and anti-affinity, as in a Pod spec.' },
);

export type EnvVar = Infer<typeof envVar>;
export type EnvFromSource = Infer<typeof envFromSource>;
export type ResourceRequirements = Infer<typeof resourceRequirements>;
export type Toleration = Infer<typeof toleration>;
export type Affinity = Infer<typeof affinity>;

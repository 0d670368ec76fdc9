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

const objectName = (what: string) =>
  s.string({ description: `Name of the ${what}.`, pattern: DNS1123_SUBDOMAIN, patternHint: 'a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")', maxLength: 253 });

export const secretKeySelector = s.object(
  {
    name: objectName('Secret'),
    key: s.string({ description: 'Key in the Secret.', minLength: 1 }),
    optional: s.boolean({ description: 'Whether the Secret or its key may be missing.' }),
  },
  { required: ['name', 'key'], description: 'Selects a key of a Secret in the same namespace.' },
);

export const configMapKeySelector = s.object(
  {
    name: objectName('ConfigMap'),
    key: s.string({ description: 'Key in the ConfigMap.', minLength: 1 }),
    optional: s.boolean({ description: 'Whether the ConfigMap or its key may be missing.' }),
  },
  { required: ['name', 'key'], description: 'Selects a key of a ConfigMap in the same namespace.' },
);

export const envVarSource = s.object(
  {
    secretKeyRef: secretKeySelector,
    configMapKeyRef: configMapKeySelector,
    fieldRef: s.object(
      { fieldPath: s.string({ minLength: 1 }), apiVersion: s.string() },
      { required: ['fieldPath'], description: 'A field of the pod, e.g. metadata.namespace.' },
    ),
    resourceFieldRef: s.object(
      { resource: s.string({ minLength: 1 }), containerName: s.string(), divisor: s.quantity() },
      { required: ['resource'], description: 'A resource of the container, e.g. limits.memory.' },
    ),
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

const resourceName = { keyPattern: '^([a-z0-9.-]+/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', keyHint: 'a resource name such as cpu, memory or ephemeral-storage' };

export const resourceRequirements = s.object(
  {
    limits: s.map(s.quantity(), { ...resourceName, description: 'Maximum amount of compute resources allowed.' }),
    requests: s.map(s.quantity(), { ...resourceName, description: 'Minimum amount of compute resources required.' }),
  },
  { description: 'Compute resources of the MCP server container. Defaults: requests 100m/128Mi, limits 500m/512Mi.' },
);

export const toleration = s.object({
  key: s.string({ description: 'Taint key; empty with operator Exists matches all taints.', maxLength: 316 }),
  operator: s.enum(['Exists', 'Equal'] as const),
  value: labelValue(),
  effect: s.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const),
  tolerationSeconds: s.integer({ format: 'int64' }),
}).withRule({
  rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
  message: 'value must be empty when operator is Exists',
  check: (v) => v.operator !== 'Exists' || !v.value,
});

const requirementValues = s.array(s.string());

const nodeSelectorRequirement = s.object(
  {
    key: s.string({ minLength: 1 }),
    operator: s.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const),
    values: requirementValues,
  },
  { required: ['key', 'operator'] },
);

const nodeSelectorTerm = s.object({
  matchExpressions: s.array(nodeSelectorRequirement),
  matchFields: s.array(nodeSelectorRequirement),
});

export const labelSelector = s.object({
  matchLabels: s.map(labelValue(), { keyPattern: LABEL_KEY, keyHint: 'a label key' }),
  matchExpressions: s.array(
    s.object(
      {
        key: s.string({ pattern: LABEL_KEY, patternHint: 'a label key' }),
        operator: s.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const),
        values: requirementValues,
      },
      { required: ['key', 'operator'] },
    ),
  ),
});

const podAffinityTerm = s.object(
  {
    labelSelector,
    namespaceSelector: labelSelector,
    namespaces: s.array(s.string()),
    topologyKey: s.string({ minLength: 1 }),
  },
  { required: ['topologyKey'] },
);

const weight = s.integer({ minimum: 1, maximum: 100 });

const podAffinity = s.object({
  requiredDuringSchedulingIgnoredDuringExecution: s.array(podAffinityTerm),
  preferredDuringSchedulingIgnoredDuringExecution: s.array(
    s.object({ weight, podAffinityTerm }, { required: ['weight', 'podAffinityTerm'] }),
  ),
});

export const affinity = s.object(
  {
    nodeAffinity: s.object({
      requiredDuringSchedulingIgnoredDuringExecution: s.object(
        { nodeSelectorTerms: s.array(nodeSelectorTerm) },
        { required: ['nodeSelectorTerms'] },
      ),
      preferredDuringSchedulingIgnoredDuringExecution: s.array(
        s.object({ weight, preference: nodeSelectorTerm }, { required: ['weight', 'preference'] }),
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

import * as fc from 'fast-check';
import { checkResource, desired, MCPServerResource, MCPServerSpec, toYaml } from '../lib';
import { podSpecOf, restrictedViolations } from '../lib/policy/restricted';
import { looksLikeSecretName } from '../lib/spec/k8s';

const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$/);
const envName = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,12}$/).filter((n) => !looksLikeSecretName(n) && n !== 'HOME');
const plainEnv = fc.record({ name: envName, value: fc.string({ maxLength: 20 }) });
const secretEnv = fc.record({
  name: fc.constantFrom('API_TOKEN', 'DB_PASSWORD', 'OPENAI_API_KEY', 'DATABASE_URL'),
  valueFrom: fc.record({ secretKeyRef: fc.record({ name: dnsLabel, key: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/) }) }),
});
const env = fc.uniqueArray(fc.oneof(plainEnv, secretEnv), { selector: (e) => e.name, maxLength: 6 });
const millis = fc.integer({ min: 1, max: 4000 });
const mebibytes = fc.integer({ min: 16, max: 8192 });
const resources = fc.record({ cpu: millis, cpuFactor: fc.integer({ min: 1, max: 4 }), mem: mebibytes, memFactor: fc.integer({ min: 1, max: 4 }) })
  .map(({ cpu, cpuFactor, mem, memFactor }) => ({
    requests: { cpu: `${cpu}m`, memory: `${mem}Mi` },
    limits: { cpu: `${cpu * cpuFactor}m`, memory: `${mem * memFactor}Mi` },
  }));
const labelMap = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}[a-z0-9]$/), fc.stringMatching(/^[a-z0-9]{0,10}$/), { maxKeys: 4 });

const spec: fc.Arbitrary<MCPServerSpec> = fc.record({
  image: fc.stringMatching(/^[a-z][a-z0-9-]{0,15}(\/[a-z0-9-]{1,10}){0,2}$/),
  tag: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,10}$/),
  replicas: fc.integer({ min: 0, max: 20 }),
  port: fc.integer({ min: 1, max: 65535 }),
  serviceType: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
  command: fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 3 }),
  args: fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }),
  env,
  resources,
  nodeSelector: labelMap,
  config: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/), fc.string({ maxLength: 30 }), { maxKeys: 3 }),
  transport: fc.record({ type: fc.constantFrom('http' as const, 'stdio' as const) }),
  security: fc.record({ runAsUser: fc.integer({ min: 1, max: 100000 }), runAsGroup: fc.integer({ min: 0, max: 100000 }) }),
}, { requiredKeys: ['image'] })
  // A stdio server needs a command for the bridge to start; the validator says so (see the bad-input corpus).
  .filter((s) => s.transport?.type !== 'stdio' || (s.command?.length ?? 0) > 0);

const resource = fc.record({ name: dnsLabel, spec }).map(({ name, spec: s }): MCPServerResource => ({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name }, spec: s }));

/** The same object with every map's keys in a different order. */
function reorderKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reorderKeys) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reorderKeys(v)])) as T;
  }
  return value;
}

function validated(r: MCPServerResource): MCPServerResource {
  const { resource: parsed, issues } = checkResource(r);
  expect(issues).toEqual([]);
  return parsed!;
}

describe('properties of synthesis', () => {
  test('every generated spec passes validation', () => {
    fc.assert(fc.property(resource, (r) => {
      expect(checkResource(r).issues).toEqual([]);
    }), { numRuns: 300 });
  });

  test('deterministic: same input gives byte-identical YAML, whatever the key order of the input', () => {
    fc.assert(fc.property(resource, (r) => {
      const first = toYaml(desired(validated(r)));
      expect(toYaml(desired(validated(r)))).toBe(first);
      expect(toYaml(desired(validated(reorderKeys(r))))).toBe(first);
    }), { numRuns: 200 });
  });

  test('every pod template passes the PodSecurity restricted checks', () => {
    fc.assert(fc.property(resource, (r) => {
      for (const object of desired(validated(r))) {
        const pod = podSpecOf(object as any);
        if (pod) expect(restrictedViolations(pod)).toEqual([]);
      }
    }), { numRuns: 300 });
  });

  test('the selector only ever holds name and instance', () => {
    fc.assert(fc.property(resource, (r) => {
      const deployment = desired(validated(r)).find((o) => o.kind === 'Deployment') as any;
      expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'mcpserver', 'app.kubernetes.io/instance': r.metadata.name });
    }), { numRuns: 100 });
  });
});

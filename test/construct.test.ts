import { App, Chart, Testing } from 'cdk8s';
import { checkResource, CONFIG_CHECKSUM_ANNOTATION, imageReference, MCPServer, MCPServerProps, MCPServerPropsError } from '../lib';
import { podSpecOf, restrictedViolations } from '../lib/policy/restricted';

type Obj = Record<string, any>;

function synth(props: MCPServerProps, id = 'srv'): Obj[] {
  const chart = Testing.chart();
  new MCPServer(chart, id, props);
  return Testing.synth(chart) as Obj[];
}

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string): Obj => {
  const found = byKind(objects, kind);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const container = (objects: Obj[]): Obj => one(objects, 'Deployment').spec.template.spec.containers[0];

describe('MCPServer defaults', () => {
  const objects = synth({ image: 'ghcr.io/acme/server' });
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const c = container(objects);

  test('makes a Deployment, a Service and a ServiceAccount named after the server, and no ConfigMap', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['Deployment/srv', 'Service/srv', 'ServiceAccount/srv']);
  });

  test('tag latest, replicas 1, port 8080, ClusterIP', () => {
    expect(c.image).toBe('ghcr.io/acme/server:latest');
    expect(deployment.spec.replicas).toBe(1);
    expect(c.ports).toEqual([{ containerPort: 8080, name: 'mcp' }]);
    const svc = one(objects, 'Service');
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([{ name: 'mcp', port: 8080, protocol: 'TCP', targetPort: 8080 }]);
  });

  test('default resources 100m/128Mi requests, 500m/512Mi limits', () => {
    expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  });

  test('restricted security context with numeric UID/GID 65532', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 65532,
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(restrictedViolations(pod)).toEqual([]);
  });

  test('writable emptyDirs for /tmp and $HOME on a read-only root', () => {
    expect(c.volumeMounts).toEqual([{ mountPath: '/tmp', name: 'tmp' }, { mountPath: '/home/mcp', name: 'home' }]);
    expect(pod.volumes).toEqual([{ emptyDir: {}, name: 'tmp' }, { emptyDir: {}, name: 'home' }]);
    expect(c.env).toContainEqual({ name: 'HOME', value: '/home/mcp' });
  });

  test('no service-account token', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('srv');
    expect(one(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  test('TCP probes on the port with the seed timings', () => {
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 'mcp' }, initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1 });
    expect(c.readinessProbe).toEqual({ tcpSocket: { port: 'mcp' }, initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 1 });
  });

  test('graceful shutdown: grace period 30s, rolling update that never drops below the desired count', () => {
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  test('labels, and a selector of name + instance only', () => {
    const labels = { 'app.kubernetes.io/name': 'mcpserver', 'app.kubernetes.io/instance': 'srv', 'app.kubernetes.io/managed-by': 'mcp-operator', 'app.kubernetes.io/version': 'latest' };
    for (const o of objects) expect(o.metadata.labels).toEqual(labels);
    expect(deployment.spec.template.metadata.labels).toEqual(labels);
    expect(deployment.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'mcpserver', 'app.kubernetes.io/instance': 'srv' } });
    expect(one(objects, 'Service').spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  test('exposes the objects it creates', () => {
    const chart = Testing.chart();
    const server = new MCPServer(chart, 'exposed', { image: 'x' });
    expect(server.deployment.name).toBe('exposed');
    expect(server.service.name).toBe('exposed');
    expect(server.serviceAccount?.name).toBe('exposed');
    expect(server.configMap).toBeUndefined();
    expect(server.imageRef).toBe('x:latest');
  });
});

describe('MCPServer overrides', () => {
  test('tag, replicas, port, service type', () => {
    const objects = synth({ image: 'python', tag: '3.11-slim', replicas: 3, port: 9000, serviceType: 'NodePort' });
    expect(container(objects).image).toBe('python:3.11-slim');
    expect(one(objects, 'Deployment').spec.replicas).toBe(3);
    expect(container(objects).ports[0].containerPort).toBe(9000);
    expect(one(objects, 'Service').spec).toMatchObject({ type: 'NodePort', ports: [{ port: 9000, targetPort: 9000 }] });
    expect(synth({ image: 'x', serviceType: 'LoadBalancer' }).find((o) => o.kind === 'Service')!.spec.type).toBe('LoadBalancer');
  });

  test('replicas 0 is allowed (scaled to zero)', () => {
    expect(one(synth({ image: 'x', replicas: 0 }), 'Deployment').spec.replicas).toBe(0);
  });

  test('the version label is the registry version a server was resolved to', () => {
    const objects = synth({ image: 'node', tag: '24-bookworm-slim', registry: { name: 'io.github.upstash/context7', version: '2.0.0' }, command: ['npx'] });
    expect(one(objects, 'Deployment').metadata.labels['app.kubernetes.io/version']).toBe('2.0.0');
  });

  test('an image with a digest is used as is, and a tag inside the image wins over tag', () => {
    const digest = 'ghcr.io/acme/s@sha256:' + 'a'.repeat(64);
    expect(container(synth({ image: digest, tag: '1.0' })).image).toBe(digest);
    expect(container(synth({ image: 'localhost:5000/acme/s' })).image).toBe('localhost:5000/acme/s:latest');
    expect(imageReference('acme/s:2.0', 'latest')).toBe('acme/s:2.0');
    expect(one(synth({ image: digest }), 'Deployment').metadata.labels['app.kubernetes.io/version']).toBe('a'.repeat(12));
  });

  test('command, args and env (plain and from a Secret) pass through verbatim', () => {
    const c = container(synth({
      image: 'x',
      command: ['python', '-m', 'srv'],
      args: ['--dir', '/data'],
      env: [
        { name: 'A', value: '1' },
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'pg', key: 'url' } } },
        { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      ],
    }));
    expect(c.command).toEqual(['python', '-m', 'srv']);
    expect(c.args).toEqual(['--dir', '/data']);
    expect(c.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { key: 'url', name: 'pg' } } },
      { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'MEM', valueFrom: { resourceFieldRef: { divisor: '1Mi', resource: 'limits.memory' } } },
      { name: 'HOME', value: '/home/mcp' },
    ]);
  });

  test('a user-set HOME is kept', () => {
    const env = container(synth({ image: 'x', env: [{ name: 'HOME', value: '/data' }] })).env;
    expect(env).toEqual([{ name: 'HOME', value: '/data' }]);
  });

  test('resources given are used verbatim (no unit conversion)', () => {
    const resources = { requests: { 'memory': '1Gi', 'cpu': '0.5', 'ephemeral-storage': '1G' }, limits: { memory: '2Gi', cpu: 2 } };
    expect(container(synth({ image: 'x', resources })).resources).toEqual(resources);
  });

  test('nodeSelector, tolerations and affinity pass through', () => {
    const affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In' as const, values: ['mcpserver'] }] }, topologyKey: 'kubernetes.io/hostname' } }] } };
    const tolerations = [{ key: 'mcp-servers', operator: 'Equal' as const, value: 'true', effect: 'NoSchedule' as const }];
    const pod = one(synth({ image: 'x', nodeSelector: { disktype: 'ssd' }, tolerations, affinity }), 'Deployment').spec.template.spec;
    expect(pod.nodeSelector).toEqual({ disktype: 'ssd' });
    expect(pod.tolerations).toEqual(tolerations);
    expect(pod.affinity).toEqual(affinity);
  });

  test('config makes a mounted ConfigMap and a checksum annotation that changes with the data', () => {
    const a = synth({ image: 'x', config: { 'config.json': '{"a":1}' } });
    const cm = one(a, 'ConfigMap');
    expect(cm.metadata.name).toBe('srv-config');
    expect(cm.data).toEqual({ 'config.json': '{"a":1}' });
    const c = container(a);
    expect(c.volumeMounts).toContainEqual({ mountPath: '/etc/mcp', name: 'config', readOnly: true });
    const podTemplate = one(a, 'Deployment').spec.template;
    expect(podTemplate.spec.volumes).toContainEqual({ name: 'config', configMap: { name: 'srv-config' } });
    const sumA = podTemplate.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION];
    expect(sumA).toMatch(/^sha256:[0-9a-f]{64}$/);
    const b = synth({ image: 'x', config: { 'config.json': '{"a":2}' } });
    expect(one(b, 'Deployment').spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION]).not.toBe(sumA);
    const again = synth({ image: 'x', config: { 'config.json': '{"a":1}' } });
    expect(one(again, 'Deployment').spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION]).toBe(sumA);
    expect(container(synth({ image: 'x', config: { a: 'b' }, configMountPath: '/cfg' })).volumeMounts).toContainEqual({ mountPath: '/cfg', name: 'config', readOnly: true });
  });

  test('security overrides keep the profile restricted', () => {
    const pod = one(synth({ image: 'x', security: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, readOnlyRootFilesystem: false } }), 'Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000 });
    expect(pod.containers[0].securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 3000, readOnlyRootFilesystem: false });
    expect(restrictedViolations(pod)).toEqual([]);
  });

  test('runAsUser 0 is refused', () => {
    expect(() => synth({ image: 'x', security: { runAsUser: 0 } })).toThrow(/security.runAsUser: must be >= 1/);
  });

  test('probe timings can be tuned, or probes turned off', () => {
    const c = container(synth({ image: 'x', probes: { liveness: { initialDelaySeconds: 60 }, readiness: { periodSeconds: 2 } } }));
    expect(c.livenessProbe).toMatchObject({ initialDelaySeconds: 60, periodSeconds: 10 });
    expect(c.readinessProbe).toMatchObject({ initialDelaySeconds: 5, periodSeconds: 2 });
    const off = container(synth({ image: 'x', probes: { enabled: false } }));
    expect(off.livenessProbe).toBeUndefined();
    expect(off.readinessProbe).toBeUndefined();
  });

  test('an existing service account, with its token when asked', () => {
    const objects = synth({ image: 'x', serviceAccountName: 'reader', automountServiceAccountToken: true });
    expect(byKind(objects, 'ServiceAccount')).toHaveLength(0);
    const pod = one(objects, 'Deployment').spec.template.spec;
    expect(pod.serviceAccountName).toBe('reader');
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  test('pull policy, pull secrets, grace period, pod labels and annotations', () => {
    const objects = synth({ image: 'x', imagePullPolicy: 'IfNotPresent', imagePullSecrets: ['regcred'], terminationGracePeriodSeconds: 90, podLabels: { team: 'ai' }, podAnnotations: { 'prometheus.io/scrape': 'true' } });
    const template = one(objects, 'Deployment').spec.template;
    expect(template.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
    expect(template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(template.spec.terminationGracePeriodSeconds).toBe(90);
    expect(template.metadata.labels.team).toBe('ai');
    expect(template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
  });

  test('stdio transport: bridge installed by an init container, HTTP probes on /healthz and /readyz', () => {
    const objects = synth({ image: 'node:24-bookworm-slim', transport: { type: 'stdio' }, command: ['npx', '-y', '@modelcontextprotocol/server-everything'] }, 'everything');
    const pod = one(objects, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    expect(c.command).toEqual(['/mcp-bridge/mcp-bridge']);
    // The bridge answers only its Service's DNS names and the pod IP (besides loopback): DNS-rebinding defence.
    const hosts = ['everything', 'everything.$(MCP_BRIDGE_POD_NAMESPACE)', 'everything.$(MCP_BRIDGE_POD_NAMESPACE).svc', 'everything.$(MCP_BRIDGE_POD_NAMESPACE).svc.cluster.local', '$(MCP_BRIDGE_POD_IP)'];
    expect(c.args).toEqual(['serve', '--port', '8080', '--path', '/mcp', '--grace', '25', ...hosts.flatMap((h) => ['--allowed-host', h]), '--', 'npx', '-y', '@modelcontextprotocol/server-everything']);
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'MCP_BRIDGE_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'MCP_BRIDGE_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ]));
    // Sessions live in one bridge process: keep a client on one pod, and let the pause container reap orphans.
    expect(one(objects, 'Service').spec.sessionAffinity).toBe('ClientIP');
    expect(pod.shareProcessNamespace).toBe(true);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'mcp' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'mcp' });
    expect(pod.initContainers).toHaveLength(1);
    expect(pod.initContainers[0].args).toEqual(['install', '/mcp-bridge/mcp-bridge']);
    expect(c.volumeMounts).toContainEqual({ mountPath: '/mcp-bridge', name: 'mcp-bridge', readOnly: true });
    expect(restrictedViolations(pod)).toEqual([]);
  });

  test('props are validated with the CRD schema and errors name the field', () => {
    expect(() => synth({ image: 'x', replicas: -1 })).toThrow(MCPServerPropsError);
    expect(() => synth({ image: 'x', replicas: -1 })).toThrow(/replicas: must be >= 0 \(got -1\)/);
    expect(() => synth({ image: 'x', env: [{ name: 'API_TOKEN', value: 'abc' }] })).toThrow(/env\[0\]\.value: looks like a credential/);
    expect(() => synth({ image: 'x' }, 'Bad_Name')).toThrow(/name: must be a DNS-1035 label/);
    expect(() => synth({})).toThrow(/image: either image or registry must be set/);
  });

  test('several servers in one chart, and a name other than the id', () => {
    const app = new App();
    const chart = new Chart(app, 'c');
    new MCPServer(chart, 'a', { image: 'x' });
    new MCPServer(chart, 'b', { image: 'y', name: 'custom' });
    const names = chart.toJson().map((o: Obj) => `${o.kind}/${o.metadata.name}`);
    expect(names).toContain('Deployment/a');
    expect(names).toContain('Deployment/custom');
  });

  test('every synthesized workload passes the restricted checks', () => {
    for (const o of synth({ image: 'x', config: { a: 'b' } })) {
      const spec = podSpecOf(o);
      if (spec) expect(restrictedViolations(spec)).toEqual([]);
    }
  });
});

describe('one validation for the construct and the CLI', () => {
  test('the cross-field rules validate applies refuse the same props, with the same messages', () => {
    const cases: { props: Record<string, unknown>; path: string }[] = [
      { props: { image: 'a', transport: { type: 'stdio' } }, path: 'command' },
      { props: { image: 'a', resources: { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } } }, path: 'resources.requests.memory' },
      { props: { image: 'a', config: { 'a.json': '{}' }, configMountPath: '/tmp' }, path: 'configMountPath' },
    ];
    for (const { props, path } of cases) {
      const cliIssue = checkResource({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'x' }, spec: props }).issues.find((i) => i.path === `spec.${path}`);
      expect(cliIssue).toBeDefined();
      let thrown: unknown;
      try {
        new MCPServer(new Chart(new App(), 'c'), 'x', props as any);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(MCPServerPropsError);
      expect((thrown as MCPServerPropsError).issues).toContainEqual({ path, message: cliIssue!.message });
    }
  });
});

/**
 * Everything a cluster needs to run the controller, as cdk8s constructs: the CRD, a PodSecurity
 * `restricted` namespace, a ServiceAccount with only the permissions the controller uses, the
 * controller Deployment, its metrics Service and a PodDisruptionBudget. `mcp-operator install` and the
 * Helm chart are both synthesized from this, so the install cannot drift from the code.
 */
import { ApiObject, App, Chart } from 'cdk8s';
import * as k8s from 'cdk8s-plus-28/lib/imports/k8s';
import { Construct } from 'constructs';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../construct/security';
import { mcpServerCrd } from '../spec/crd';
import { OPERATOR_IMAGE_REPOSITORY, PROJECT_VERSION } from '../version';
import { CONTROLLER_RULES, LEADER_ELECTION_RULES, PolicyRule } from './rbac';

export const OPERATOR_NAME = 'mcp-operator';
export const DEFAULT_INSTALL_NAMESPACE = 'mcp-system';
export const METRICS_PORT = 8080;
export const HEALTH_PORT = 8081;

export interface OperatorInstallProps {
  /** @default 'mcp-system' */
  readonly namespace?: string;
  /** Controller image. @default the image of this release */
  readonly image?: string;
  /**
   * Image stdio MCPServer pods copy the bridge from (an init container runs `/opt/mcp-operator/mcp-bridge`).
   * @default the controller image, which carries the bridge: whoever can pull one can pull the other
   */
  readonly bridgeImage?: string;
  /** @default 2 (one leader, one standby) */
  readonly replicas?: number;
  /** Watch only this namespace (Role instead of ClusterRole). @default all namespaces */
  readonly watchNamespace?: string;
  /** @default requests 100m/128Mi, limits 500m/256Mi */
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: k8s.Toleration[];
  readonly affinity?: k8s.Affinity;
  /** MCP Registry the controller resolves `spec.registry` against. @default the official registry */
  readonly registryUrl?: string;
  /**
   * Further registries `spec.registry.url` may name; any other URL is refused (it is set by whoever
   * writes an MCPServer, and the controller would fetch it). @default none: only `registryUrl`
   */
  readonly allowedRegistryUrls?: readonly string[];
  /** Also emit the CRD. @default true */
  readonly includeCrd?: boolean;
  /** Also emit the Namespace. @default true */
  readonly includeNamespace?: boolean;
  /** Log level of the controller. @default 'info' */
  readonly logLevel?: string;
}

const SELECTOR = { 'app.kubernetes.io/name': OPERATOR_NAME, 'app.kubernetes.io/component': 'controller' };

export class OperatorInstall extends Construct {
  public readonly namespaceName: string;
  public readonly deployment: k8s.KubeDeployment;
  public readonly serviceAccount: k8s.KubeServiceAccount;

  constructor(scope: Construct, id: string, props: OperatorInstallProps = {}) {
    super(scope, id);
    const ns = props.namespace ?? DEFAULT_INSTALL_NAMESPACE;
    this.namespaceName = ns;
    const labels = { ...SELECTOR, 'app.kubernetes.io/version': PROJECT_VERSION, 'app.kubernetes.io/managed-by': OPERATOR_NAME };

    if (props.includeCrd ?? true) {
      const crd = mcpServerCrd() as { metadata: { name: string; labels: Record<string, string> }; spec: unknown };
      new ApiObject(this, 'crd', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: crd.metadata, spec: crd.spec } as any);
    }
    if (props.includeNamespace ?? true) {
      new k8s.KubeNamespace(this, 'namespace', {
        metadata: {
          name: ns,
          labels: {
            ...labels,
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
            'pod-security.kubernetes.io/audit': 'restricted',
          },
        },
      });
    }

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: { name: OPERATOR_NAME, namespace: ns, labels },
      automountServiceAccountToken: true,
    });
    this.grantControllerRules(ns, labels, props.watchNamespace);
    this.grantNamespaced('leader-election', ns, ns, `${OPERATOR_NAME}-leader-election`, LEADER_ELECTION_RULES, labels);

    this.deployment = this.controllerDeployment(ns, labels, props);

    new k8s.KubeService(this, 'metrics', {
      metadata: { name: `${OPERATOR_NAME}-metrics`, namespace: ns, labels },
      spec: {
        type: 'ClusterIP',
        selector: SELECTOR,
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'pdb', {
      metadata: { name: OPERATOR_NAME, namespace: ns, labels },
      spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: SELECTOR } },
    });
  }

  private grantControllerRules(ns: string, labels: Record<string, string>, watchNamespace?: string): void {
    if (watchNamespace) {
      this.grantNamespaced('controller', watchNamespace, ns, `${OPERATOR_NAME}-controller`, CONTROLLER_RULES, labels);
      return;
    }
    new k8s.KubeClusterRole(this, 'cluster-role', { metadata: { name: `${OPERATOR_NAME}-controller`, labels }, rules: CONTROLLER_RULES.map(rule) });
    new k8s.KubeClusterRoleBinding(this, 'cluster-role-binding', {
      metadata: { name: `${OPERATOR_NAME}-controller`, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${OPERATOR_NAME}-controller` },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: ns }],
    });
  }

  private grantNamespaced(
    id: string, where: string, saNamespace: string, name: string, rules: readonly PolicyRule[], labels: Record<string, string>,
  ): void {
    new k8s.KubeRole(this, `${id}-role`, { metadata: { name, namespace: where, labels }, rules: rules.map(rule) });
    new k8s.KubeRoleBinding(this, `${id}-role-binding`, {
      metadata: { name, namespace: where, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: saNamespace }],
    });
  }

  private controllerDeployment(ns: string, labels: Record<string, string>, props: OperatorInstallProps): k8s.KubeDeployment {
    const args = [
      'controller',
      '--leader-elect',
      `--leader-election-namespace=${ns}`,
      `--metrics-bind-address=:${METRICS_PORT}`,
      `--health-probe-bind-address=:${HEALTH_PORT}`,
      ...(props.watchNamespace ? [`--namespace=${props.watchNamespace}`] : []),
      ...(props.registryUrl ? [`--registry-url=${props.registryUrl}`] : []),
      ...(props.allowedRegistryUrls ?? []).map((url) => `--allowed-registry-url=${url}`),
      `--bridge-image=${props.bridgeImage ?? controllerImage(props)}`,
      `--log-level=${props.logLevel ?? 'info'}`,
    ];
    const resources = props.resources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
    const quantities = (m?: Record<string, string>) => m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, k8s.Quantity.fromString(v)]));
    const probe = (path: string, initialDelaySeconds: number): k8s.Probe => ({
      httpGet: { path, port: k8s.IntOrString.fromString('health') },
      initialDelaySeconds,
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 3,
    });
    return new k8s.KubeDeployment(this, 'deployment', {
      metadata: { name: OPERATOR_NAME, namespace: ns, labels },
      spec: {
        replicas: props.replicas ?? 2,
        selector: { matchLabels: SELECTOR },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: k8s.IntOrString.fromNumber(1), maxUnavailable: k8s.IntOrString.fromNumber(0) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            automountServiceAccountToken: true,
            terminationGracePeriodSeconds: 30,
            securityContext: restrictedPodSecurityContext(65532, 65532),
            nodeSelector: props.nodeSelector,
            tolerations: props.tolerations,
            affinity: props.affinity ?? {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [{
                  weight: 100,
                  podAffinityTerm: { labelSelector: { matchLabels: SELECTOR }, topologyKey: 'kubernetes.io/hostname' },
                }],
              },
            },
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('256Mi') } }],
            containers: [{
              name: 'controller',
              image: controllerImage(props),
              imagePullPolicy: 'IfNotPresent',
              args,
              env: [
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                // Registry answers are cached on the writable emptyDir; the root filesystem is read-only.
                { name: 'XDG_CACHE_HOME', value: '/tmp/cache' },
                // Caps V8's young generation, which otherwise grows with the node's memory: about 140 MiB
                // instead of 200 MiB with 1,000 servers (bench/controller/RESULTS.md).
                { name: 'NODE_OPTIONS', value: '--max-semi-space-size=2' },
              ],
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              ports: [
                { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
                { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
              ],
              livenessProbe: probe('/healthz', 15),
              readinessProbe: probe('/readyz', 5),
              resources: { requests: quantities(resources.requests), limits: quantities(resources.limits) },
              securityContext: restrictedContainerSecurityContext(65532, 65532, true),
            }],
          },
        },
      },
    });
  }
}

function controllerImage(props: OperatorInstallProps): string {
  return props.image ?? `${OPERATOR_IMAGE_REPOSITORY}:v${PROJECT_VERSION}`;
}

function rule(r: PolicyRule): k8s.PolicyRule {
  return { apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] };
}

/** The whole install as plain objects, for `mcp-operator install` and the Helm chart generator. */
export function operatorInstallObjects(props: OperatorInstallProps = {}): Record<string, any>[] {
  const chart = new Chart(new App(), 'install', { disableResourceNameHashes: true });
  new OperatorInstall(chart, 'mcp-operator', props);
  return chart.toJson();
}

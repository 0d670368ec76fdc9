import { createHash } from 'crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { EnvVar } from '../spec/k8s';
import { API_GROUP, API_VERSION, DEFAULTS, KIND, MCPServerSpec, POD_PATHS } from '../spec/mcpserver';
import { ValidationIssue } from '../spec/schema';
import { checkResource } from '../spec/validate';
import { BRIDGE_IMAGE, PROJECT_VERSION } from '../version';

/** The labels every object of a server carries; the first two are the pod selector and never change. */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_VERSION = 'app.kubernetes.io/version';
export const SELECTOR_NAME_VALUE = 'mcpserver';
export const CONFIG_CHECKSUM_ANNOTATION = 'mcp.io/config-checksum';

const CONTAINER_NAME = 'mcp-server';
const PORT_NAME = 'mcp';
const HOME_DIR = POD_PATHS.home;
const BRIDGE_DIR = POD_PATHS.bridge;
const BRIDGE_BIN = `${BRIDGE_DIR}/mcp-bridge`;
const BRIDGE_HEALTH_PORT_NAME = 'mcp';

/**
 * Properties of an MCP server. The field names are the MCPServer resource's spec fields, so a CR's
 * `spec` can be passed as is; every default is the one the CRD documents.
 */
export interface MCPServerProps extends MCPServerSpec {
  /**
   * Name of the server and of its Deployment and Service (a DNS-1035 label).
   * @default the construct id
   */
  readonly name?: string;
  /**
   * Image that holds the self-contained stdio bridge, copied into stdio pods by an init container.
   * @default the mcp-operator image of this release
   */
  readonly bridgeImage?: string;
  /**
   * Value of the `app.kubernetes.io/managed-by` label.
   * @default 'mcp-operator'
   */
  readonly managedBy?: string;
}

/** Thrown when props fail the same validation the CLI and the CRD apply. */
export class MCPServerPropsError extends Error {
  constructor(public readonly issues: readonly ValidationIssue[]) {
    super(`invalid MCPServer props:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'MCPServerPropsError';
  }
}

/**
 * An MCP server on Kubernetes: a Deployment, a Service, a ServiceAccount with no API token, and a
 * ConfigMap when configuration is given. Pods are PodSecurity `restricted` by default.
 */
export class MCPServer extends Construct {
  public readonly serverName: string;
  /** The validated spec with defaults applied. */
  public readonly spec: MCPServerSpec & Required<Pick<MCPServerSpec, 'tag' | 'replicas' | 'port' | 'serviceType'>>;
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  /** Absent when `serviceAccountName` names an existing account. */
  public readonly serviceAccount?: kplus.ServiceAccount;
  /** Present only when `config` is given. */
  public readonly configMap?: kplus.ConfigMap;
  public readonly container: kplus.Container;
  /** Image reference the container runs (tag or digest resolved). */
  public readonly imageRef: string;
  /** Labels that select the pods; stable across releases. */
  public readonly selectorLabels: Record<string, string>;

  constructor(scope: Construct, id: string, props: MCPServerProps) {
    super(scope, id);
    const { name, bridgeImage, managedBy, ...specInput } = props;
    this.serverName = name ?? id;
    this.spec = validateProps(this.serverName, specInput);
    const spec = this.spec;
    if (!spec.image) {
      throw new MCPServerPropsError([{ path: 'image', message: 'is required (resolve registry references before synthesis)' }]);
    }
    this.imageRef = imageReference(spec.image, spec.tag);
    this.selectorLabels = { [LABEL_NAME]: SELECTOR_NAME_VALUE, [LABEL_INSTANCE]: this.serverName };
    const labels = {
      ...this.selectorLabels,
      [LABEL_MANAGED_BY]: managedBy ?? 'mcp-operator',
      [LABEL_VERSION]: versionLabel(spec, this.imageRef),
    };
    const stdio = spec.transport?.type === 'stdio';

    if (!spec.serviceAccountName) {
      this.serviceAccount = new kplus.ServiceAccount(this, 'service-account', {
        metadata: { name: this.serverName, labels },
        automountToken: false,
      });
    }

    if (spec.config) {
      this.configMap = new kplus.ConfigMap(this, 'config', {
        metadata: { name: `${this.serverName}-config`, labels },
        data: sortedRecord(spec.config),
      });
    }

    this.deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: this.serverName, labels },
      replicas: spec.replicas,
      select: false,
      spread: false,
      podMetadata: { labels: { ...(spec.podLabels ?? {}), ...labels }, annotations: podAnnotations(spec) },
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(1),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      }),
      serviceAccount: this.serviceAccount ?? kplus.ServiceAccount.fromServiceAccountName(this, 'existing-sa', spec.serviceAccountName!),
      automountServiceAccountToken: spec.automountServiceAccountToken ?? false,
      terminationGracePeriod: Duration.seconds(spec.terminationGracePeriodSeconds ?? DEFAULTS.terminationGracePeriodSeconds),
      securityContext: {
        ensureNonRoot: true,
        user: spec.security?.runAsUser ?? DEFAULTS.runAsUser,
        group: spec.security?.runAsGroup ?? DEFAULTS.runAsGroup,
        fsGroup: spec.security?.fsGroup ?? spec.security?.runAsGroup ?? DEFAULTS.runAsGroup,
      },
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: this.selectorLabels }));

    this.container = this.deployment.addContainer({
      name: CONTAINER_NAME,
      image: this.imageRef,
      imagePullPolicy: spec.imagePullPolicy as kplus.ImagePullPolicy | undefined,
      ...this.entrypoint(stdio),
      ports: [{ name: PORT_NAME, number: spec.port }],
      securityContext: restrictedContext(spec, spec.security?.readOnlyRootFilesystem ?? true),
    });
    this.mountWritableDirs(stdio, bridgeImage ?? BRIDGE_IMAGE);

    this.service = new kplus.Service(this, 'service', {
      metadata: { name: this.serverName, labels },
      type: spec.serviceType as kplus.ServiceType,
      ports: [{ name: PORT_NAME, port: spec.port, targetPort: spec.port, protocol: kplus.Protocol.TCP }],
    });
    for (const [key, value] of Object.entries(this.selectorLabels)) this.service.selectLabel(key, value);

    this.applyPassThroughFields(stdio);
    if (stdio) this.adaptForStdio();
  }

  /**
   * A stdio server keeps its MCP session in one bridge process, so a client must keep reaching the same
   * pod; and the bridge (PID 1 of its container) starts npx/uvx trees whose orphans only an init
   * process reaps, which a shared process namespace provides (the pause container).
   */
  private adaptForStdio(): void {
    ApiObject.of(this.service).addJsonPatch(JsonPatch.add('/spec/sessionAffinity', 'ClientIP'));
    ApiObject.of(this.deployment).addJsonPatch(JsonPatch.add('/spec/template/spec/shareProcessNamespace', true));
  }

  /** For stdio servers the bridge is the entrypoint and starts the server's own command per session. */
  private entrypoint(stdio: boolean): { command?: string[]; args?: string[] } {
    const spec = this.spec;
    if (!stdio) return { command: spec.command, args: spec.args };
    const path = spec.transport?.path ?? DEFAULTS.httpPath;
    // The bridge drains sessions on SIGTERM; it must finish (drain + kill grace of 3 s) inside the pod's grace period.
    const grace = Math.max(1, (spec.terminationGracePeriodSeconds ?? DEFAULTS.terminationGracePeriodSeconds) - 5);
    return {
      command: [BRIDGE_BIN],
      args: [
        'serve',
        '--port',
        String(spec.port),
        '--path',
        path,
        '--grace',
        String(grace),
        ...bridgeAllowedHosts(this.serverName).flatMap((host) => ['--allowed-host', host]),
        '--',
        ...(spec.command ?? []),
        ...(spec.args ?? []),
      ],
    };
  }

  private mountWritableDirs(stdio: boolean, bridgeImage: string): void {
    // Root stays read-only; servers still need scratch space and a home for caches (npm, uv, pip).
    const tmp = kplus.Volume.fromEmptyDir(this, 'tmp', 'tmp');
    const home = kplus.Volume.fromEmptyDir(this, 'home', 'home');
    this.container.mount(POD_PATHS.tmp, tmp);
    this.container.mount(HOME_DIR, home);
    if (this.configMap) {
      const config = kplus.Volume.fromConfigMap(this, 'config-volume', this.configMap, { name: 'config' });
      this.container.mount(this.spec.configMountPath ?? DEFAULTS.configMountPath, config, { readOnly: true });
    }
    if (stdio) {
      const bridge = kplus.Volume.fromEmptyDir(this, 'bridge', 'mcp-bridge');
      this.container.mount(BRIDGE_DIR, bridge, { readOnly: true });
      this.deployment.addInitContainer({
        name: 'install-bridge',
        image: bridgeImage,
        command: ['/opt/mcp-operator/mcp-bridge'],
        args: ['install', BRIDGE_BIN],
        volumeMounts: [{ path: BRIDGE_DIR, volume: bridge }],
        securityContext: restrictedContext(this.spec, true),
        resources: {
          cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(200) },
          memory: { request: Size.mebibytes(32), limit: Size.mebibytes(64) },
        },
      });
    }
  }

  /**
   * Fields the seed takes verbatim from core/v1 (env, resources, placement, probes) are written
   * straight into the pod template through cdk8s escape hatches: cdk8s-plus would re-render them in
   * its own units (e.g. 1Gi as 1024Mi) and cannot express every field.
   */
  private applyPassThroughFields(stdio: boolean): void {
    const spec = this.spec;
    const deployment = ApiObject.of(this.deployment);
    const pod = '/spec/template/spec';
    const container = `${pod}/containers/0`;
    const patches: JsonPatch[] = [];

    patches.push(JsonPatch.add(`${container}/env`, containerEnv(spec, stdio).map(typedEnvVar)));
    if (spec.envFrom?.length) patches.push(JsonPatch.add(`${container}/envFrom`, spec.envFrom));
    patches.push(JsonPatch.add(`${container}/resources`, typedResources(spec.resources ?? DEFAULTS.resources)));
    if (spec.probes?.enabled === false) {
      patches.push(JsonPatch.remove(`${container}/livenessProbe`), JsonPatch.remove(`${container}/readinessProbe`));
    } else {
      patches.push(JsonPatch.add(`${container}/livenessProbe`, probe(stdio ? '/healthz' : undefined, LIVENESS, spec.probes?.liveness)));
      patches.push(JsonPatch.add(`${container}/readinessProbe`, probe(stdio ? '/readyz' : undefined, READINESS, spec.probes?.readiness)));
    }
    patches.push(JsonPatch.add(`${container}/securityContext/runAsNonRoot`, true));
    // cdk8s-plus writes `imagePullPolicy: Always` on every container. Kubernetes' own default (Always
    // only for :latest or untagged images) keeps pods restartable through a registry outage.
    if (!spec.imagePullPolicy) patches.push(JsonPatch.remove(`${container}/imagePullPolicy`));
    // A server that dies says why in its last log lines; this puts them in the pod status, where the
    // controller reads them into the MCPServer's conditions.
    patches.push(JsonPatch.add(`${container}/terminationMessagePolicy`, 'FallbackToLogsOnError'));
    if (stdio) patches.push(JsonPatch.remove(`${pod}/initContainers/0/imagePullPolicy`));
    if (spec.nodeSelector && Object.keys(spec.nodeSelector).length > 0) patches.push(JsonPatch.add(`${pod}/nodeSelector`, sortedRecord(spec.nodeSelector)));
    if (spec.tolerations?.length) patches.push(JsonPatch.add(`${pod}/tolerations`, spec.tolerations));
    if (spec.affinity && Object.keys(spec.affinity).length > 0) patches.push(JsonPatch.add(`${pod}/affinity`, spec.affinity));
    if (spec.imagePullSecrets?.length) patches.push(JsonPatch.add(`${pod}/imagePullSecrets`, spec.imagePullSecrets.map((n) => ({ name: n }))));
    patches.push(JsonPatch.add(`${pod}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }));
    // cdk8s-plus labels pods with its construct address; our own labels already identify them.
    patches.push(JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'));
    deployment.addJsonPatch(...patches);
  }
}

/** PodSecurity `restricted` for one container, in cdk8s-plus terms (see ./security.ts for the JSON form). */
function restrictedContext(spec: MCPServerSpec, readOnlyRootFilesystem: boolean): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: spec.security?.runAsUser ?? DEFAULTS.runAsUser,
    group: spec.security?.runAsGroup ?? DEFAULTS.runAsGroup,
    readOnlyRootFilesystem,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

const LIVENESS = { initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1 };
const READINESS = { initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 1 };

type ProbeTuning = NonNullable<NonNullable<MCPServerSpec['probes']>['liveness']>;

function probe(httpPath: string | undefined, defaults: typeof LIVENESS, override: ProbeTuning | undefined): Record<string, unknown> {
  const action = httpPath ? { httpGet: { path: httpPath, port: typed(BRIDGE_HEALTH_PORT_NAME) } } : { tcpSocket: { port: typed(PORT_NAME) } };
  return { ...action, ...defaults, ...(override ?? {}) };
}

/**
 * The k8s bindings behind cdk8s-plus serialize Quantity and IntOrString fields by reading `.value`
 * (they expect their own wrapper classes), so raw values patched into those fields must be wrapped.
 */
function typed(value: string | number): { value: string | number } {
  return { value };
}

function typedResources(resources: NonNullable<MCPServerSpec['resources']>): Record<string, unknown> {
  const wrap = (m?: Record<string, string | number>) => m && Object.fromEntries(Object.keys(m).sort().map((k) => [k, typed(m[k]!)]));
  return { ...(resources.limits ? { limits: wrap(resources.limits) } : {}), ...(resources.requests ? { requests: wrap(resources.requests) } : {}) };
}

function typedEnvVar(env: EnvVar): unknown {
  const divisor = env.valueFrom?.resourceFieldRef?.divisor;
  if (divisor === undefined) return env;
  return { ...env, valueFrom: { ...env.valueFrom, resourceFieldRef: { ...env.valueFrom!.resourceFieldRef, divisor: typed(divisor) } } };
}

/** Downward-API variables the bridge's `--allowed-host` arguments refer to as `$(NAME)`. */
const BRIDGE_POD_ENV: readonly EnvVar[] = [
  { name: 'MCP_BRIDGE_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: 'MCP_BRIDGE_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
];

/**
 * The Host names the bridge answers besides loopback and its own addresses (DNS-rebinding
 * defence): the Service's DNS names, any port (a Service may map another port to ours), and
 * the pod IP. The namespace comes from the downward API, so a namespace-less manifest works
 * wherever it is applied. More names (an Ingress, a LoadBalancer) go into the container's
 * MCP_BRIDGE_ALLOWED_HOSTS, which the bridge adds to these.
 */
function bridgeAllowedHosts(service: string): string[] {
  const ns = '$(MCP_BRIDGE_POD_NAMESPACE)';
  return [service, `${service}.${ns}`, `${service}.${ns}.svc`, `${service}.${ns}.svc.cluster.local`, '$(MCP_BRIDGE_POD_IP)'];
}

function containerEnv(spec: MCPServerSpec, stdio = false): EnvVar[] {
  const env: EnvVar[] = [...(spec.env ?? [])];
  if (stdio) env.push(...BRIDGE_POD_ENV);
  // Tools that cache under $HOME (npm, uv, pip, git) need it writable on a read-only root.
  if (!spec.env?.some((e) => e.name === 'HOME')) env.push({ name: 'HOME', value: HOME_DIR });
  return env;
}

function podAnnotations(spec: MCPServerSpec): Record<string, string> | undefined {
  const annotations: Record<string, string> = { ...(spec.podAnnotations ?? {}) };
  if (spec.config) annotations[CONFIG_CHECKSUM_ANNOTATION] = configChecksum(spec.config);
  return Object.keys(annotations).length > 0 ? sortedRecord(annotations) : undefined;
}

/** Hash of the config data; a change of it changes the pod template and so rolls the pods. */
export function configChecksum(config: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(config).sort()) hash.update(key).update('\0').update(config[key]!).update('\0');
  return `sha256:${hash.digest('hex')}`;
}

/** `image` + `tag`, unless the image already pins a tag or a digest. */
export function imageReference(image: string, tag: string): string {
  if (image.includes('@sha256:')) return image;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? image : `${image}:${tag}`;
}

/** The registry version a server was resolved to, else the image's tag (or the start of its digest). */
function versionLabel(spec: MCPServerSpec, imageRef: string): string {
  const registryVersion = spec.registry?.version !== 'latest' ? spec.registry?.version : undefined;
  const digest = imageRef.indexOf('@sha256:');
  const raw = registryVersion ?? (digest >= 0 ? imageRef.slice(digest + 8, digest + 8 + 12) : imageRef.slice(imageRef.lastIndexOf(':') + 1));
  // Label values: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends.
  return raw.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || PROJECT_VERSION;
}

/**
 * The props are checked by the very function `mcp-operator validate` and the controller use, on the
 * resource they describe, so the construct refuses exactly what the CLI refuses (cross-field rules
 * included); paths are given relative to the props (`command`, not `spec.command`).
 */
function validateProps(name: string, spec: MCPServerSpec): MCPServer['spec'] {
  const { resource, issues } = checkResource({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name }, spec });
  if (!resource) {
    throw new MCPServerPropsError(issues.map((i) => ({ ...i, path: i.path.replace(/^spec\.?/, '').replace(/^metadata\.name$/, 'name') })));
  }
  return resource.spec as MCPServer['spec'];
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]!]));
}

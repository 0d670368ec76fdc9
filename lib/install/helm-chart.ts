/**
 * Generates the Helm chart from the same OperatorInstall construct as `mcp-operator install`: the
 * construct is synthesized with marker values, and each marker becomes a template expression. With
 * default values, `helm template` renders exactly the install bundle (a test checks that).
 */
import { mkdirSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import * as yaml from 'js-yaml';
import { OPERATOR_IMAGE_REPOSITORY, PROJECT_VERSION } from '../version';
import { DEFAULT_INSTALL_NAMESPACE, operatorInstallObjects } from './operator';

const NS = 'helm-marker-namespace';
const WATCH_NS = 'helm-marker-watch-namespace';
const IMAGE = 'helm-marker-image';
const REPLICAS = 987654;
const BLOCK = (name: string) => `helm-marker-block-${name}`;

const DEFAULT_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } };

export const DEFAULT_VALUES = {
  namespace: DEFAULT_INSTALL_NAMESPACE,
  createNamespace: true,
  installCRDs: true,
  image: { repository: OPERATOR_IMAGE_REPOSITORY, tag: `v${PROJECT_VERSION}` },
  /** Image stdio servers copy the bridge from; empty: the controller image. */
  bridgeImage: '',
  replicas: 2,
  watchNamespace: '',
  registryUrl: '',
  /** Further registries spec.registry.url may name; any other URL is refused. */
  allowedRegistryUrls: [],
  logLevel: 'info',
  resources: DEFAULT_RESOURCES,
  nodeSelector: {},
  tolerations: [],
  affinity: {},
  metrics: { enabled: true },
  podDisruptionBudget: { enabled: true },
};

type Obj = Record<string, any>;

function markedObjects(watch: boolean): Obj[] {
  const objects = operatorInstallObjects({ namespace: NS, image: IMAGE, replicas: REPLICAS, watchNamespace: watch ? WATCH_NS : undefined, registryUrl: 'http://marker' });
  for (const o of objects) {
    if (o.kind !== 'Deployment') continue;
    const pod = o.spec.template.spec;
    const container = pod.containers[0];
    container.resources = BLOCK('resources');
    pod.nodeSelector = BLOCK('nodeSelector');
    pod.tolerations = BLOCK('tolerations');
    // Optional arguments become conditionals in the template.
    container.args = container.args.filter((a: string) => !/^--(namespace|registry-url|allowed-registry-url|bridge-image|log-level)=/.test(a));
    container.args.push(BLOCK('args'));
  }
  return objects;
}

function render(o: Obj): string {
  let text = yaml.dump(o, { noRefs: true, lineWidth: -1, sortKeys: false, quotingType: '"' });
  text = text
    .split(NS).join('{{ .Values.namespace }}')
    .split(WATCH_NS).join('{{ .Values.watchNamespace }}')
    .replace(`image: ${IMAGE}`, 'image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"')
    .replace(`replicas: ${REPLICAS}`, 'replicas: {{ .Values.replicas }}')
    .replace(/^( *)- helm-marker-block-args\n/m, (_m, indent: string) =>
      `${indent}{{- if .Values.watchNamespace }}\n${indent}- --namespace={{ .Values.watchNamespace }}\n${indent}{{- end }}\n`
      + `${indent}{{- if .Values.registryUrl }}\n${indent}- --registry-url={{ .Values.registryUrl }}\n${indent}{{- end }}\n`
      + `${indent}{{- range .Values.allowedRegistryUrls }}\n${indent}- --allowed-registry-url={{ . }}\n${indent}{{- end }}\n`
      + `${indent}- --bridge-image={{ .Values.bridgeImage | default (printf "%s:%s" .Values.image.repository .Values.image.tag) }}\n`
      + `${indent}- --log-level={{ .Values.logLevel }}\n`);
  // Optional blocks: emitted only when the value is non-empty, as `mcp-operator install` does.
  text = text.replace(/^( *)(\w+): helm-marker-block-(\w+)\n/gm, (_m, indent: string, _key: string, name: string) => {
    const value = `.Values.${name}`;
    if (name === 'resources') return `${indent}${name}:\n${indent}  {{- toYaml ${value} | nindent ${indent.length + 2} }}\n`;
    return `${indent}{{- with ${value} }}\n${indent}${name}:\n${indent}  {{- toYaml . | nindent ${indent.length + 2} }}\n${indent}{{- end }}\n`;
  });
  return text;
}

function affinityDefault(objects: Obj[]): Obj {
  return objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.affinity;
}

/** The chart's files, path → content. */
export function helmChartFiles(): Record<string, string> {
  const cluster = markedObjects(false);
  const namespaced = markedObjects(true);
  const files: Record<string, string> = {};
  const header = '# Generated from lib/install by `npx projen helm-chart`; do not edit.\n';
  const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind).map(render).join('---\n');
  const defaultAffinity = affinityDefault(cluster);
  for (const o of [...cluster, ...namespaced]) {
    if (o.kind === 'Deployment') delete o.spec.template.spec.affinity;
  }

  files['Chart.yaml'] = yaml.dump({
    apiVersion: 'v2',
    name: 'mcp-operator',
    description: 'Run MCP (Model Context Protocol) servers on Kubernetes: the mcp-operator controller and its MCPServer CRD.',
    type: 'application',
    version: PROJECT_VERSION,
    appVersion: `v${PROJECT_VERSION}`,
    keywords: ['mcp', 'model-context-protocol', 'operator'],
  });
  files['values.yaml'] = header + yaml.dump({ ...DEFAULT_VALUES, affinity: defaultAffinity }, { lineWidth: -1 });
  files['templates/crd.yaml'] = `${header}{{- if .Values.installCRDs }}\n${byKind(cluster, 'CustomResourceDefinition')}{{- end }}\n`;
  files['templates/namespace.yaml'] = `${header}{{- if .Values.createNamespace }}\n${byKind(cluster, 'Namespace')}{{- end }}\n`;
  files['templates/serviceaccount.yaml'] = header + byKind(cluster, 'ServiceAccount');
  const leaderElection = (objects: Obj[]) => objects.filter((o) => o.metadata.name.endsWith('-leader-election'));
  const controllerRbac = (objects: Obj[]) => objects.filter((o) => /Role/.test(o.kind) && !o.metadata.name.endsWith('-leader-election'));
  files['templates/rbac.yaml'] = header
    + `{{- if .Values.watchNamespace }}\n${controllerRbac(namespaced).map(render).join('---\n')}{{- else }}\n${controllerRbac(cluster).map(render).join('---\n')}{{- end }}\n`
    + `---\n${leaderElection(cluster).map(render).join('---\n')}`;
  files['templates/deployment.yaml'] = header + byKind(cluster, 'Deployment').replace(
    /^( *)serviceAccountName:/m,
    (_m, indent: string) => `${indent}{{- with .Values.affinity }}\n${indent}affinity:\n${indent}  {{- toYaml . | nindent ${indent.length + 2} }}\n${indent}{{- end }}\n${indent}serviceAccountName:`,
  );
  files['templates/service.yaml'] = `${header}{{- if .Values.metrics.enabled }}\n${byKind(cluster, 'Service')}{{- end }}\n`;
  files['templates/pdb.yaml'] = `${header}{{- if .Values.podDisruptionBudget.enabled }}\n${byKind(cluster, 'PodDisruptionBudget')}{{- end }}\n`;
  return files;
}

/** Writes the chart, replacing what was there (stale templates must not linger). */
export function writeHelmChart(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [path, content] of Object.entries(helmChartFiles())) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

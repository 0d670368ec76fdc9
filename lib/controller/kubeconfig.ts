/**
 * Where the API server is and how to authenticate, from a kubeconfig or the in-cluster service
 * account. Static credentials (tokens, token files, client certificates, basic auth) — what a
 * controller uses in a cluster — are handled here directly. Kubeconfigs whose user runs an `exec`
 * plugin or an `auth-provider` are delegated to @kubernetes/client-node's authenticators, loaded only
 * then: the library costs ~80 MB of memory, more than the controller needs for everything else.
 */
import { readFileSync } from 'fs';
import type { RequestOptions } from 'https';
import { delimiter, dirname, isAbsolute, join } from 'path';
import * as yaml from 'js-yaml';

export interface ClusterConnection {
  /** e.g. https://127.0.0.1:6443 (no trailing slash). */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
  /** Where it came from, for messages. */
  readonly source: string;
  /** Authentication headers for the next request (tokens that rotate are re-read). */
  headers(): Promise<Record<string, string>>;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** client-go re-reads a token file at most once a minute; projected tokens rotate well before expiry. */
const TOKEN_FILE_TTL_MS = 60_000;

interface NamedCluster {
  name: string;
  cluster: { 'server'?: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string; 'insecure-skip-tls-verify'?: boolean; 'tls-server-name'?: string; 'proxy-url'?: string };
}
interface NamedUser {
  name: string;
  user: {
    'token'?: string;
    'tokenFile'?: string;
    'token-file'?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    'username'?: string;
    'password'?: string;
    'exec'?: unknown;
    'auth-provider'?: unknown;
  } | null;
}
interface NamedContext {
  name: string;
  context: { cluster: string; user: string; namespace?: string };
}
interface KubeconfigFile {
  'clusters'?: NamedCluster[];
  'users'?: NamedUser[];
  'contexts'?: NamedContext[];
  'current-context'?: string;
}

/** `path`, else the files in $KUBECONFIG (merged, first wins, as kubectl does), else in-cluster. */
export function loadConnection(path?: string): ClusterConnection {
  if (path) return fromFiles([path]);
  const env = process.env.KUBECONFIG;
  if (env) return fromFiles(env.split(delimiter).filter(Boolean));
  return inCluster();
}

function inCluster(): ClusterConnection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster (KUBERNETES_SERVICE_HOST is unset)');
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    server,
    ca: readFileSync(join(SA_DIR, 'ca.crt')),
    rejectUnauthorized: true,
    headers: bearerFromFile(join(SA_DIR, 'token')),
    source: 'the in-cluster service account',
  };
}

interface Loaded {
  readonly file: string;
  readonly config: KubeconfigFile;
}

function fromFiles(files: string[]): ClusterConnection {
  const loaded: Loaded[] = files.map((file) => {
    let config: KubeconfigFile;
    try {
      config = (yaml.load(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile;
    } catch (err) {
      throw new Error(`cannot load kubeconfig ${file}: ${(err as Error).message}`);
    }
    return { file, config };
  });
  const currentContext = loaded.map((l) => l.config['current-context']).find(Boolean);
  if (!currentContext) throw new Error(`kubeconfig ${files.join(delimiter)} has no current-context`);
  const context = find(loaded, (c) => c.contexts, currentContext, 'context');
  const cluster = find(loaded, (c) => c.clusters, context.entry.context.cluster, 'cluster');
  const user = find(loaded, (c) => c.users, context.entry.context.user, 'user');
  const c = cluster.entry.cluster;
  const u = user.entry.user ?? {};
  if (!c.server) throw new Error(`cluster ${cluster.entry.name} in ${cluster.file} has no server`);
  if (c['proxy-url']) throw new Error(`cluster ${cluster.entry.name} in ${cluster.file}: proxy-url is not supported by the controller`);
  const source = `kubeconfig ${files.join(delimiter)} (context ${currentContext})`;
  const base = {
    server: c.server.replace(/\/+$/, ''),
    ca: bytes(c['certificate-authority-data'], c['certificate-authority'], cluster.file),
    cert: bytes(u['client-certificate-data'], u['client-certificate'], user.file),
    key: bytes(u['client-key-data'], u['client-key'], user.file),
    rejectUnauthorized: c['insecure-skip-tls-verify'] !== true,
    servername: c['tls-server-name'],
    source,
  };
  if (u.exec || u['auth-provider']) return { ...base, headers: delegatedHeaders(files) };
  if (u.token) return { ...base, headers: async () => ({ Authorization: `Bearer ${u.token}` }) };
  const tokenFile = u.tokenFile ?? u['token-file'];
  if (tokenFile) return { ...base, headers: bearerFromFile(absolute(tokenFile, user.file)) };
  if (u.username !== undefined) {
    const basic = Buffer.from(`${u.username}:${u.password ?? ''}`).toString('base64');
    return { ...base, headers: async () => ({ Authorization: `Basic ${basic}` }) };
  }
  return { ...base, headers: async () => ({}) };
}

function find<T extends { name: string }>(
  loaded: Loaded[],
  list: (c: KubeconfigFile) => T[] | undefined,
  name: string,
  what: string,
): { entry: T; file: string } {
  for (const l of loaded) {
    const entry = list(l.config)?.find((e) => e.name === name);
    if (entry) return { entry, file: l.file };
  }
  throw new Error(`kubeconfig ${loaded.map((l) => l.file).join(delimiter)} has no ${what} named ${JSON.stringify(name)}`);
}

function absolute(path: string, kubeconfigFile: string): string {
  return isAbsolute(path) ? path : join(dirname(kubeconfigFile), path);
}

function bytes(data: string | undefined, path: string | undefined, kubeconfigFile: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (path) return readFileSync(absolute(path, kubeconfigFile));
  return undefined;
}

function bearerFromFile(path: string): () => Promise<Record<string, string>> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_FILE_TTL_MS) cached = { token: readFileSync(path, 'utf8').trim(), at: Date.now() };
    return { Authorization: `Bearer ${cached.token}` };
  };
}

/** exec plugins and auth providers: client-node runs them and caches their tokens. */
function delegatedHeaders(files: string[]): () => Promise<Record<string, string>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { KubeConfig } = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(files[0]!);
  for (const file of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more, true);
  }
  return async () => {
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k, String(v)]));
  };
}

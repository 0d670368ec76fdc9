/**
 * The real node (hack/cluster.sh): how long from `kubectl apply` of an MCPServer until its endpoint
 * answers `tools/list` through the Service's ClusterIP, for HTTP and stdio servers, side by side with
 * the floor — the same image as a hand-written Deployment + Service, no controller and no bridge; how
 * long `hack/cluster.sh up` takes from nothing (binaries and images cached); and the RSS of every
 * component. Bounded: BENCH_N servers per kind (default 10), one at a time, pod traffic on the bridge only.
 *
 * Reproduce (as root, after `npm run compile`):
 *   BENCH_N=10 npx ts-node --transpile-only bench/cluster/bench.ts > bench/cluster/RESULTS.md
 */
import { spawnSync } from 'child_process';
import { cpus, loadavg, totalmem } from 'os';
import { join } from 'path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { intEnv, log } from '../common';

const ROOT = join(__dirname, '../..');
const CLUSTER = join(ROOT, 'hack/cluster.sh');
const N = intEnv('BENCH_N', 10);
const ENTRY = ['/usr/local/bin/node', '/opt/server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js'];
const TAG = (require(join(ROOT, 'package.json')) as { devDependencies: Record<string, string> }).devDependencies['@modelcontextprotocol/server-everything']!;
const IMAGE = 'localhost/mcp-test/server-everything';

function sh(args: string[], input?: string): string {
  const res = spawnSync('bash', [CLUSTER, ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`hack/cluster.sh ${args.join(' ')} exited ${res.status}: ${res.stderr}`);
  return res.stdout;
}
const kubectl = (args: string[], input?: string) => sh(['kubectl', ...args], input);

/** Settles within `ms` whatever `promise` does (a SYN to a ClusterIP whose rules are not in place yet can hang). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise.catch(() => fallback), new Promise<T>((r) => setTimeout(() => r(fallback), ms).unref())]);
}

async function answersToolsList(url: string): Promise<boolean> {
  const client = new Client({ name: 'bench', version: '1' }, { capabilities: {} });
  const abort = new AbortController();
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { signal: abort.signal } });
  const answered = within((async () => {
    await client.connect(transport, { timeout: 3_000 });
    return (await client.listTools(undefined, { timeout: 3_000 })).tools.length > 0;
  })(), 4_000, false);
  const ok = await answered;
  if (ok) await within(transport.terminateSession(), 2_000, undefined);
  abort.abort();
  await within(client.close(), 1_000, undefined);
  return ok;
}

/** Time from applying `objects` until the Service `name` answers tools/list on `port`. */
async function applyToAnswer(ns: string, name: string, port: number, objects: object[]): Promise<number> {
  const t0 = performance.now();
  kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  let url: string | undefined;
  for (;;) {
    if (performance.now() - t0 > 180_000) throw new Error(`${ns}/${name} did not answer within 180 s`);
    if (!url) {
      const ip = spawnSync('bash', [CLUSTER, 'kubectl', '-n', ns, 'get', 'service', name, '-o', 'jsonpath={.spec.clusterIP}'], { encoding: 'utf8' }).stdout;
      if (ip) url = `http://${ip}:${port}/mcp`;
    }
    if (url && (await answersToolsList(url))) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function mcpServer(ns: string, name: string, stdio: boolean): object {
  return {
    apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name, namespace: ns },
    spec: stdio
      ? { image: IMAGE, tag: TAG, transport: { type: 'stdio' }, command: [...ENTRY, 'stdio'] }
      : { image: IMAGE, tag: TAG, port: 3001, command: [...ENTRY, 'streamableHttp'] },
  };
}

/** The floor: what any hand-written manifest of the same HTTP server costs (same image, readiness by TCP). */
function plainDeployment(ns: string, name: string): object[] {
  const labels = { app: name };
  const restricted = { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
  return [
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
      spec: {
        replicas: 1, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsUser: 65532, runAsGroup: 65532 },
            containers: [{
              name: 'server', image: `${IMAGE}:${TAG}`, command: [...ENTRY, 'streamableHttp'], ports: [{ containerPort: 3001 }],
              readinessProbe: { tcpSocket: { port: 3001 }, initialDelaySeconds: 5, periodSeconds: 5 }, securityContext: restricted,
            }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 3001, targetPort: 3001 }] } },
  ];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function rssTable(): string {
  const rows = sh(['rss']).trim().split('\n').map((l) => {
    const m = /^(\S+)\s+(\d+) MiB(.*)$/.exec(l.trim());
    return m ? `| ${m[1]}${m[3] ?? ''} | ${m[2]} MiB |` : `| ${l} | |`;
  });
  // The controller and a bridge run in pods: find them on the host by their command lines.
  const ps = spawnSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8' }).stdout.split('\n');
  const sum = (match: (args: string) => boolean) => ps.map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 1 && match(f.slice(1).join(' '))).map((f) => Number(f[0]));
  const controllers = sum((a) => a.includes('mcp-operator.js controller'));
  const bridges = sum((a) => a.startsWith('/mcp-bridge/mcp-bridge serve'));
  if (controllers.length) rows.push(`| mcp-operator controller (pod, each of ${controllers.length}) | ${Math.round(Math.max(...controllers) / 1024)} MiB |`);
  if (bridges.length) rows.push(`| stdio bridge (pod, without its server process; each of ${bridges.length}) | ${Math.round(Math.max(...bridges) / 1024)} MiB |`);
  return rows.join('\n');
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const load = loadavg()[0]!.toFixed(2);
  log('cluster down, then up from nothing (binaries and images cached)');
  sh(['down']);
  const upStart = performance.now();
  sh(['up']);
  const upMs = performance.now() - upStart;
  log(`up in ${seconds(upMs)}`);

  const install = spawnSync(process.execPath, [join(ROOT, 'bin/mcp-operator.js'), 'install', '--replicas', '1'], { encoding: 'utf8' }).stdout;
  kubectl(['apply', '--server-side', '-f', '-'], install);
  kubectl(['-n', 'mcp-system', 'rollout', 'status', 'deployment/mcp-operator', '--timeout=180s']);
  kubectl(['create', 'namespace', 'bench']);
  for (;;) { // ServiceAccount admission needs the namespace's default ServiceAccount
    if (spawnSync('bash', [CLUSTER, 'kubectl', '-n', 'bench', 'get', 'sa', 'default'], { encoding: 'utf8' }).status === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  const results: Record<string, number[]> = { floor: [], http: [], stdio: [] };
  for (let i = 0; i < N; i++) {
    // Interleaved, so drift of the machine's speed hits each kind alike.
    results.floor!.push(await applyToAnswer('bench', `floor-${i}`, 3001, plainDeployment('bench', `floor-${i}`)));
    results.http!.push(await applyToAnswer('bench', `http-${i}`, 3001, [mcpServer('bench', `http-${i}`, false)]));
    results.stdio!.push(await applyToAnswer('bench', `stdio-${i}`, 8080, [mcpServer('bench', `stdio-${i}`, true)]));
    // Each MCPServer requests 100m of CPU: the last round's go, or the node runs out of requests.
    if (i < N - 1) kubectl(['-n', 'bench', 'delete', 'deployment,service', `floor-${i}`, '--wait=false']);
    if (i < N - 1) kubectl(['-n', 'bench', 'delete', 'mcpserver', `http-${i}`, `stdio-${i}`, '--wait=false']);
    log(`round ${i + 1}/${N}: floor ${seconds(results.floor!.at(-1)!)}, http ${seconds(results.http!.at(-1)!)}, stdio ${seconds(results.stdio!.at(-1)!)}`);
  }
  const rss = rssTable();
  kubectl(['delete', 'namespace', 'bench', '--wait=false']);

  const row = (label: string, values: number[]) => `| ${label} | ${seconds(percentile(values, 50))} | ${seconds(percentile(values, 95))} | ${seconds(Math.min(...values))} | ${seconds(Math.max(...values))} |`;
  process.stdout.write(`# Real-node benchmark

Run ${started} on ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, node ${process.version}; load average ${load} at the start.
The cluster is \`hack/cluster.sh\`: etcd, kube-apiserver, kubelet, kube-controller-manager, kube-scheduler and
kube-proxy v1.35.4, containerd 1.6 + runc, one node, on this machine; the benchmark, the controller (one replica,
installed by \`mcp-operator install\`) and the servers share its 2 cores.

Reproduce (as root, after \`npm run compile\`; it takes the cluster down and up again):

\`\`\`
BENCH_N=${N} npx ts-node --transpile-only bench/cluster/bench.ts > bench/cluster/RESULTS.md
\`\`\`

## \`hack/cluster.sh up\`, from no cluster to the node Ready with every component healthy

${seconds(upMs)} (binaries and images already cached; on a cold machine add the Go builds, about 8 min for the
control plane and 4 min for the node components, and about 1.5 min for the images).

## \`kubectl apply\` until \`tools/list\` answers through the Service's ClusterIP

${N} servers of each kind, one at a time; each is a new Deployment, so image layers are already unpacked.
Floor: the same image and command as a hand-written Deployment + Service (TCP readiness probe, no controller,
no init container, no bridge). HTTP: an MCPServer of server-everything's own streamable HTTP transport. stdio:
an MCPServer of server-everything over stdio, the bridge copied in by the init container and serving it.

| kind | p50 | p95 | min | max |
| --- | ---: | ---: | ---: | ---: |
${row('floor (Deployment + Service)', results.floor!)}
${row('MCPServer, HTTP', results.http!)}
${row('MCPServer, stdio through the bridge', results.stdio!)}

The floor is dominated by the readiness probe (first check at 5 s, then every 5 s) and kube-proxy's sync after
the endpoint turns ready: the controller adds its reconcile (watch event, three server-side applies) on top, and
the stdio kind adds the init container's copy of the 106 MB bridge and the bridge's own MCP readiness handshake.

## Resident memory

| component | RSS |
| --- | ---: |
${rss}
`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

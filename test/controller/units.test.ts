/** The controller's parts that need no API server: work queue, drift comparison, status, parsing, kubeconfig. */
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseDuration } from '../../lib/cli/controller';
import { firstDifference, jsonEqual } from '../../lib/controller/compare';
import { parseBindAddress } from '../../lib/controller/http';
import { compareResourceVersions } from '../../lib/controller/informer';
import { loadConnection } from '../../lib/controller/kubeconfig';
import { WorkQueue } from '../../lib/controller/queue';
import { isTransient } from '../../lib/controller/resolve';
import { computeStatus, mergeConditions, statusDiffers } from '../../lib/controller/status';

describe('WorkQueue', () => {
  test('hands out each key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.depth).toBe(0);
  });

  test('never gives a key to two workers; a key added while processed comes back once, after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.depth).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    expect(second).toBeUndefined();
    q.done(key!);
    await new Promise((r) => setImmediate(r));
    expect(second).toBe('a');
    q.done('a');
    expect(q.depth).toBe(0);
  });

  test('backs off exponentially per key, with jitter, until forgotten', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 1_000 });
    const delays = Array.from({ length: 10 }, () => q.addRateLimited('k'));
    delays.forEach((d, i) => {
      const ceiling = Math.min(1_000, 10 * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    });
    expect(q.numRequeues('k')).toBe(10);
    q.forget('k');
    expect(q.addRateLimited('k')).toBeLessThanOrEqual(10);
    q.shutDown();
  });

  test('delayed keys arrive after their delay; shutDown releases waiting workers', async () => {
    const q = new WorkQueue();
    const started = Date.now();
    q.addAfter('later', 50);
    expect(await q.get()).toBe('later');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('x');
    expect(await q.get()).toBeUndefined();
  });
});

describe('firstDifference (drift detection)', () => {
  test('ignores fields only the live object has (server defaults, other managers)', () => {
    const desired = { spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } } };
    const live = { metadata: { uid: 'u' }, spec: { replicas: 1, progressDeadlineSeconds: 600, template: { spec: { dnsPolicy: 'ClusterFirst', containers: [{ name: 'c', image: 'i:1', terminationMessagePath: '/dev/termination-log' }] } } } };
    expect(firstDifference(desired, live)).toBeUndefined();
  });

  test('reports the path of a changed, missing or extra-item field', () => {
    const desired = { spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'i:1', args: ['a'] }] } } } };
    expect(firstDifference(desired, { spec: { replicas: 3, template: desired.spec.template } })).toBe('spec.replicas');
    expect(firstDifference(desired, { spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'evil', args: ['a'] }] } } } })).toBe('spec.template.spec.containers[0].image');
    expect(firstDifference(desired, { spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image: 'i:1', args: ['a', 'b'] }] } } } })).toBe('spec.template.spec.containers[0].args');
    expect(firstDifference(desired, { spec: { template: desired.spec.template } })).toBe('spec.replicas');
  });

  test('treats what the API server normalizes as equal: quantities, omitted zero values and omitted false plain bools', () => {
    const desired = { resources: { limits: { cpu: '1000m', memory: '1Gi' }, requests: { cpu: 0.1 } }, minReadySeconds: 0, labels: {}, hostNetwork: false };
    const live = { resources: { limits: { cpu: '1', memory: '1024Mi' }, requests: { cpu: '100m' } } };
    expect(firstDifference(desired, live)).toBeUndefined();
    expect(firstDifference({ resources: { limits: { cpu: '500m' } } }, { resources: { limits: { cpu: '1' } } })).toBe('resources.limits.cpu');
  });

  test('keeps a false of a pointer bool strict: a missing automountServiceAccountToken means true', () => {
    expect(firstDifference({ automountServiceAccountToken: false }, {})).toBe('automountServiceAccountToken');
    expect(firstDifference({ env: [{ name: 'A', value: '1' }] }, { env: [{ name: 'A', value: '1.0' }] })).toBe('env[0].value');
  });

  test('jsonEqual ignores key order and undefined members', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe('status', () => {
  const base = { generation: 3, terminating: false, selector: 'app.kubernetes.io/instance=x,app.kubernetes.io/name=mcpserver', image: 'img:1', url: 'http://x.ns.svc:8080/mcp' };
  const deployment = (ready: number, observedGeneration = 1) => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', generation: 1 }, spec: { replicas: 2 }, status: { replicas: 2, readyReplicas: ready, observedGeneration },
  });

  test('Pending until the Deployment is observed and has every replica ready, then Running', () => {
    expect(computeStatus(undefined, { ...base, deployment: deployment(2, 0) }, 't1').phase).toBe('Pending');
    expect(computeStatus(undefined, { ...base, deployment: deployment(1) }, 't1').phase).toBe('Pending');
    const running = computeStatus(undefined, { ...base, deployment: deployment(2) }, 't1');
    expect(running).toMatchObject({ phase: 'Running', replicas: 2, readyReplicas: 2, observedGeneration: 3, image: 'img:1', url: base.url, selector: base.selector });
    expect(running.conditions?.find((c) => c.type === 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable', observedGeneration: 3 });
  });

  test('a failure makes the phase Failed and keeps the previous image and url', () => {
    const previous = computeStatus(undefined, { ...base, deployment: deployment(2) }, 't1');
    const failed = computeStatus(previous, { generation: 4, terminating: false, selector: base.selector, deployment: deployment(2), failure: { condition: 'Accepted', reason: 'InvalidSpec', message: 'spec.command: is required' } }, 't2');
    expect(failed).toMatchObject({ phase: 'Failed', image: 'img:1', url: base.url, observedGeneration: 4 });
    expect(failed.conditions?.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: 'spec.command: is required', lastTransitionTime: 't2' });
  });

  test('lastTransitionTime changes only when a condition changes status', () => {
    const first = mergeConditions([], [{ type: 'Available', status: 'False', reason: 'A', message: 'm' }], 1, 't1');
    const same = mergeConditions(first, [{ type: 'Available', status: 'False', reason: 'B', message: 'n' }], 2, 't2');
    expect(same[0]).toMatchObject({ lastTransitionTime: 't1', reason: 'B', observedGeneration: 2 });
    const flipped = mergeConditions(same, [{ type: 'Available', status: 'True', reason: 'C', message: 'o' }], 2, 't3');
    expect(flipped[0]!.lastTransitionTime).toBe('t3');
  });

  test('the same world gives the same status, so nothing is written; conditions of others do not count', () => {
    const s1 = computeStatus(undefined, { ...base, deployment: deployment(1) }, 't1');
    const s2 = computeStatus(s1, { ...base, deployment: deployment(1) }, 't2');
    expect(statusDiffers(s1, s2)).toBe(false);
    const withForeign = { ...s1, conditions: [...(s1.conditions ?? []), { type: 'SomeoneElse', status: 'True' as const }] };
    expect(statusDiffers(withForeign, s2)).toBe(false);
    expect(statusDiffers(s1, computeStatus(s1, { ...base, deployment: deployment(2) }, 't2'))).toBe(true);
  });
});

describe('parsing', () => {
  test('durations as controller-runtime flags take them', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('250ms')).toBe(250);
    for (const bad of ['', '10', 'm', '10x', '5s junk']) expect(() => parseDuration(bad)).toThrow(/duration/);
  });

  test('bind addresses', () => {
    expect(parseBindAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseBindAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseBindAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseBindAddress('0')).toBeUndefined();
    expect(() => parseBindAddress('8080')).toThrow(/bind address/);
    expect(() => parseBindAddress(':70000')).toThrow(/range/);
  });

  test('resourceVersions compare numerically, opaque ones not at all', () => {
    expect(compareResourceVersions('9', '10')).toBe(-1);
    expect(compareResourceVersions('10', '10')).toBe(0);
    expect(compareResourceVersions('abc', '10')).toBeUndefined();
  });

  test('resolver errors are retried unless they say they are permanent', () => {
    expect(isTransient(new Error('socket hang up'))).toBe(true);
    expect(isTransient(Object.assign(new Error('429'), { transient: true }))).toBe(true);
    expect(isTransient(Object.assign(new Error('not found'), { transient: false }))).toBe(false);
    expect(isTransient(Object.assign(new Error('bad'), { problems: [{ path: 'spec.env', message: 'x' }] }))).toBe(false);
  });
});

describe('loadConnection (kubeconfig)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-kubeconfig-'));
  const write = (name: string, config: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };
  const config = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) => ({
    'apiVersion': 'v1',
    'kind': 'Config',
    'clusters': [{ name: 'c', cluster: { 'server': 'https://10.1.2.3:6443/', 'certificate-authority-data': Buffer.from('CA').toString('base64'), ...cluster } }],
    'users': [{ name: 'u', user }],
    'contexts': [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });

  test('a static token, the CA and the server', async () => {
    const conn = loadConnection(write('token.yaml', config({ token: 'abc' })));
    expect(conn.server).toBe('https://10.1.2.3:6443');
    expect(conn.ca?.toString()).toBe('CA');
    expect(conn.rejectUnauthorized).toBe(true);
    expect(await conn.headers()).toEqual({ Authorization: 'Bearer abc' });
  });

  test('a token file relative to the kubeconfig, client certificates and insecure-skip-tls-verify', async () => {
    writeFileSync(join(dir, 'tok'), 'from-file\n');
    writeFileSync(join(dir, 'client.crt'), 'CERT');
    const conn = loadConnection(write('file.yaml', config({ 'tokenFile': 'tok', 'client-certificate': 'client.crt', 'client-key-data': Buffer.from('KEY').toString('base64') }, { 'insecure-skip-tls-verify': true })));
    expect(await conn.headers()).toEqual({ Authorization: 'Bearer from-file' });
    expect([conn.cert?.toString(), conn.key?.toString(), conn.rejectUnauthorized]).toEqual(['CERT', 'KEY', false]);
  });

  test('an exec plugin runs through @kubernetes/client-node', async () => {
    const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec' } };
    const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: ['-e', `process.stdout.write(${JSON.stringify(JSON.stringify(credential))})`], interactiveMode: 'Never' };
    const conn = loadConnection(write('exec.yaml', config({ exec })));
    expect(await conn.headers()).toEqual({ Authorization: 'Bearer from-exec' });
  });

  test('names what is missing', () => {
    const broken = { ...config({ token: 'x' }), 'current-context': 'nope' };
    expect(() => loadConnection(write('broken.yaml', broken))).toThrow(/no context named "nope"/);
    expect(() => loadConnection(join(dir, 'absent.yaml'))).toThrow(/cannot load kubeconfig .*absent.yaml/);
  });
});

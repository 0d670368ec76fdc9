/**
 * The one resolver with its two pin stores: the lockfile (CLI) and an MCPServer's status (controller),
 * and the defects found in published documents (test/fixtures/registry/server-json).
 */
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { realServer, registryFixtures, tempDir } from './helpers';
import * as library from '../../lib';
import { registryResolveHook, REGISTRY_SYNC_ANNOTATION, resolveErrorMessage } from '../../lib/controller/resolve';
import { Lockfile, LockEntry, serverDigest } from '../../lib/registry/lockfile';
import { LockfilePinStore, StatusPinStore } from '../../lib/registry/pins';
import { RegistryResolver, resolveRegistryResources, ResolvedSpecError } from '../../lib/registry/resolver';
import { MCPServerResource } from '../../lib/spec/mcpserver';
import { checkResource, InvalidInputError } from '../../lib/spec/validate';
import { desired, ValidatedResource } from '../../lib/synth';
import { FakeRegistry } from '../support/registry-server';

const CONTEXT7 = 'io.github.upstash/context7';
const DIGEST_PINNED = 'io.github.example/digest-pinned';
const PLAIN_CREDENTIAL = 'io.github.example/plain-credential';
const DIGEST = 'sha256:3f1e9c2b7a4d5e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7';

const registry = FakeRegistry.forTestFile(registryFixtures());

function server(name: string, spec: Record<string, unknown>, extra: Partial<MCPServerResource> = {}): MCPServerResource {
  const { resource, issues } = checkResource({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name, ...extra.metadata }, spec });
  if (!resource) throw new Error(JSON.stringify(issues));
  return { ...resource, ...(extra.status ? { status: extra.status } : {}) };
}

const context7 = (extra: Partial<MCPServerResource> = {}) => server('context7', { registry: { name: CONTEXT7 } }, extra);

function resolver(warnings: string[] = []): RegistryResolver {
  return new RegistryResolver({ registryUrl: registry.url, cacheDir: join(tempDir(), 'cache'), client: { sleep: async () => undefined, timeoutMs: 2000 }, warn: (m) => void warnings.push(m) });
}

const entry = (name: string, version: string): LockEntry => ({
  registry: 'https://r.example', name, requested: 'latest', version, packageType: 'npm', identifier: name, sha256: `sha256:${'1'.repeat(64)}`,
});

describe('LockfilePinStore', () => {
  test('reads pins with their digest; recording stages, and only commit writes the file', () => {
    const file = join(tempDir(), 'mcp-lock.yaml');
    const pins = LockfilePinStore.open(file);
    expect(pins.read({ registry: 'https://r.example', name: 'a.a/a', requested: 'latest' })).toBeUndefined();
    pins.record(entry('a.a/a', '1.0.0'));
    expect(pins.changes.map((c) => [c.old, c.new.version])).toEqual([[undefined, '1.0.0']]);
    expect(existsSync(file)).toBe(false);
    pins.commit();
    const again = LockfilePinStore.open(file);
    expect(again.read({ registry: 'https://r.example', name: 'a.a/a', requested: 'latest' })).toEqual({ version: '1.0.0', sha256: `sha256:${'1'.repeat(64)}` });
    // Recording the same entry is no change, so commit leaves the file alone.
    again.record(entry('a.a/a', '1.0.0'));
    expect(again.changes).toEqual([]);
  });

  test('update: existing pins are not read, only replaced', () => {
    const file = join(tempDir(), 'mcp-lock.yaml');
    new Lockfile(file, [entry('a.a/a', '1.0.0')]).write();
    const pins = LockfilePinStore.open(file, { update: true });
    expect(pins.read({ registry: 'https://r.example', name: 'a.a/a', requested: 'latest' })).toBeUndefined();
    pins.record(entry('a.a/a', '2.0.0'));
    expect(pins.changes.map((c) => [c.old?.version, c.new.version])).toEqual([['1.0.0', '2.0.0']]);
    expect(pins.size).toBe(1);
  });
});

describe('StatusPinStore', () => {
  const key = (requested: string) => ({ registry: 'https://r.example', name: CONTEXT7, requested });

  test('latest is held at status.registryVersion; exact versions and fresh resources have no pin', () => {
    const pinned = new StatusPinStore(context7({ status: { registryVersion: '1.0.0' } }));
    expect(pinned.read(key('latest'))).toEqual({ version: '1.0.0' });
    expect(pinned.read(key('2.0.0'))).toBeUndefined();
    expect(new StatusPinStore(context7()).read(key('latest'))).toBeUndefined();
  });

  test('the registry-sync annotation follows latest; the recorded version is what goes into status', () => {
    const following = new StatusPinStore(context7({ metadata: { name: 'context7', annotations: { [REGISTRY_SYNC_ANNOTATION]: 'true' } }, status: { registryVersion: '1.0.0' } }));
    expect(following.follows).toBe(true);
    expect(following.read(key('latest'))).toBeUndefined();
    expect(following.recordedVersion).toBeUndefined();
    following.record(entry(CONTEXT7, '2.0.0'));
    expect(following.recordedVersion).toBe('2.0.0');
  });
});

describe('one resolver, either store', () => {
  test('the same reference resolves to the same spec through the lockfile and through status', async () => {
    const shared = resolver();
    const lockPins = LockfilePinStore.open(join(tempDir(), 'mcp-lock.yaml'));
    const statusPins = new StatusPinStore(context7());
    const viaLock = await shared.resolve(context7(), lockPins);
    const viaStatus = await shared.resolve(context7(), statusPins);
    expect(viaStatus.resource.spec).toEqual(viaLock.resource.spec);
    expect(viaLock.resource.spec.registry).toEqual({ name: CONTEXT7, version: '2.0.0' });
    expect(lockPins.changes[0]!.new).toEqual(viaLock.entry);
    expect(viaLock.entry).toMatchObject({ registry: registry.url, requested: 'latest', version: '2.0.0', packageVersion: '2.0.2', sha256: serverDigest(realServer('io.github.upstash.context7.json')) });
    expect(statusPins.recordedVersion).toBe('2.0.0');
  });

  test('a status pin holds latest when the registry moves; a fresh resolver (a restart) too', async () => {
    registry.setLatest(CONTEXT7, '1.0.0');
    const first = await resolver().resolve(context7(), new StatusPinStore(context7()));
    registry.setLatest(CONTEXT7, undefined);
    const live = context7({ status: { registryVersion: first.entry.version } });
    const again = await resolver().resolve(live, new StatusPinStore(live));
    expect(again.entry.version).toBe('1.0.0');
    expect(again.resource.spec.command).toEqual(['npx', '-y', '--', '@upstash/context7-mcp@1.0.21']);
    // The live status rides along: the reconciler compares and updates it.
    expect(again.resource.status).toEqual({ registryVersion: '1.0.0' });
  });

  test('a status-pinned version marked deleted is refused once its cached status expires, as a lockfile pin is', async () => {
    const shared = new RegistryResolver({ registryUrl: registry.url, cacheDir: join(tempDir(), 'cache'), cacheTtlMs: 0 });
    const live = context7({ status: { registryVersion: '2.0.0' } });
    await shared.resolve(live, new StatusPinStore(live));
    registry.setStatus(CONTEXT7, '2.0.0', 'deleted', 'taken down');
    await expect(shared.resolve(live, new StatusPinStore(live))).rejects.toMatchObject({ kind: 'deleted', transient: false, message: expect.stringMatching(/taken down/) });
  });
});

describe('registryResolveHook (the controller built on the resolver)', () => {
  const hook = (warnings: string[] = [], allowedRegistryUrls?: string[]) => registryResolveHook({
    registryUrl: registry.url, cacheDir: join(tempDir(), 'cache'), allowedRegistryUrls, warn: (m) => void warnings.push(m),
  });

  test('returns the filled-in resource and the version for status.registryVersion; an existing pin stays', async () => {
    registry.setLatest(CONTEXT7, '1.0.0');
    const resolve = hook();
    const first = await resolve(context7());
    expect(first.registryVersion).toBe('1.0.0');
    registry.setLatest(CONTEXT7, undefined);
    const live = context7({ status: { registryVersion: '1.0.0' } });
    expect((await resolve(live)).registryVersion).toBe('1.0.0');
    const following = context7({ metadata: { name: 'context7', annotations: { [REGISTRY_SYNC_ANNOTATION]: 'true' } }, status: { registryVersion: '1.0.0' } });
    expect((await hook()(following)).registryVersion).toBe('2.0.0');
  });

  test('spec.registry.url off the allow-list is refused before any request', async () => {
    const resolve = hook([], []);
    const tenant = server('tenant', { registry: { name: CONTEXT7, url: 'http://127.0.0.1:9/internal/' } });
    await expect(resolve(tenant)).rejects.toMatchObject({
      kind: 'not-allowed',
      conditionReason: 'RegistryNotAllowed',
      message: `tenant: spec.registry.url http://127.0.0.1:9/internal is not an allowed registry; this controller asks only ${registry.url} (the operator can allow more with --allowed-registry-url)`,
    });
    expect(registry.requests).toEqual([]);
  });

  test('mapping warnings name the resource and the server version', async () => {
    const warnings: string[] = [];
    await hook(warnings)(server('digest', { registry: { name: DIGEST_PINNED } }));
    expect(warnings).toContainEqual(expect.stringMatching(/^digest: io\.github\.example\/digest-pinned@0\.4\.1: ignored docker flag -p 3000:3000: a pod publishes no host ports/));
  });
});

describe('defects found in published documents', () => {
  test('2025-07-09 oci package whose version is a digest: pinned, deployed as repository@sha256', async () => {
    const dir = tempDir();
    const [out] = await resolveBatch([validated('digest', { registry: { name: DIGEST_PINNED } })], join(dir, 'mcp-lock.yaml'));
    expect(out!.resource.spec).toMatchObject({ image: `docker.io/example/digest-pinned@${DIGEST}`, port: 3000, transport: { type: 'http', path: '/mcp' } });
    expect(out!.resource.spec.args).toBeUndefined();
    const container = (desired(out!.resource).find((o) => o.kind === 'Deployment') as any).spec.template.spec.containers[0];
    expect(container.image).toBe(`docker.io/example/digest-pinned@${DIGEST}`);
    expect(Lockfile.read(join(dir, 'mcp-lock.yaml')).get(registry.url, DIGEST_PINNED, 'latest')).toMatchObject({ version: '0.4.1', packageType: 'oci', packageVersion: DIGEST });
  });

  test('a credential the registry gives a plain value: the problem names the variable and the server (CLI)', async () => {
    const dir = tempDir();
    let error: unknown;
    try {
      await resolveBatch([validated('weather', { registry: { name: PLAIN_CREDENTIAL } })], join(dir, 'mcp-lock.yaml'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems).toEqual([{
      origin: { file: 'servers.yaml', index: 0 },
      name: 'weather',
      path: 'spec.env[0].value',
      message: 'WEATHER_API_KEY (the registry\'s default, from io.github.example/plain-credential@1.3.0: oci package example/plain-credential: packages[0].runtimeArguments[0]): '
        + 'looks like a credential: give it with valueFrom.secretKeyRef instead of a plain value; set WEATHER_API_KEY in spec.env to replace the registry\'s value '
        + '(after resolving io.github.example/plain-credential@1.3.0)',
    }]);
    expect(existsSync(join(dir, 'mcp-lock.yaml'))).toBe(false);
  });

  test('the same in the controller: a terminal problem whose status message names the variable', async () => {
    const resolve = registryResolveHook({ registryUrl: registry.url, cacheDir: join(tempDir(), 'cache') });
    const error = await resolve(server('weather', { registry: { name: PLAIN_CREDENTIAL } })).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(ResolvedSpecError);
    expect((error as ResolvedSpecError).transient).toBe(false);
    expect(resolveErrorMessage(error)).toMatch(/^spec\.env\[0\]\.value: WEATHER_API_KEY \(the registry's default, from io\.github\.example\/plain-credential@1\.3\.0: .*\): looks like a credential/);
  });

  test('a secretKeyRef for it resolves', async () => {
    const secret = { name: 'WEATHER_API_KEY', valueFrom: { secretKeyRef: { name: 'weather-secrets', key: 'weather_api_key' } } };
    const [out] = await resolveBatch([validated('weather', { registry: { name: PLAIN_CREDENTIAL }, env: [secret] })], join(tempDir(), 'mcp-lock.yaml'));
    expect(out!.resource.spec.env).toEqual([secret]);
  });
});

describe('the render check stays with the caller', () => {
  test('what check throws is reported against the resource with the server version, and no lockfile is written', async () => {
    const lockfile = join(tempDir(), 'mcp-lock.yaml');
    let error: unknown;
    try {
      await resolveBatch([validated('context7', { registry: { name: CONTEXT7 } })], lockfile, () => {
        throw new Error('the renderer refused it');
      });
    } catch (err) {
      error = err;
    }
    expect((error as InvalidInputError).problems).toEqual([{ origin: { file: 'servers.yaml', index: 0 }, name: 'context7', message: `${CONTEXT7}@2.0.0 does not synthesize: the renderer refused it` }]);
    expect(existsSync(lockfile)).toBe(false);
  });

  test('check sees every resource of the batch, resolved or not, before the lockfile is written', async () => {
    const lockfile = join(tempDir(), 'mcp-lock.yaml');
    const seen: string[] = [];
    await resolveBatch([validated('plain', { image: 'ghcr.io/o/s', tag: '1.0' }), validated('context7', { registry: { name: CONTEXT7 } })], lockfile, (v) => {
      expect(existsSync(lockfile)).toBe(false);
      seen.push(`${v.resource.metadata.name} ${v.resource.spec.image}`);
    });
    expect(seen).toEqual(['plain ghcr.io/o/s', 'context7 node']);
    expect(readFileSync(lockfile, 'utf8')).toContain(CONTEXT7);
  });
});

describe('the library entry (README: resolve, render, commit)', () => {
  test('a cdk8s app resolves with the CLI\'s lockfile store and renders the construct', async () => {
    const lockfile = join(tempDir(), 'mcp-lock.yaml');
    const appResolver = new library.RegistryResolver({ registryUrl: registry.url, cacheDir: join(tempDir(), 'cache') });
    const pins = library.LockfilePinStore.open(lockfile);
    const { resource } = library.checkResource({ apiVersion: 'mcp.io/v1', kind: 'MCPServer', metadata: { name: 'context7' }, spec: { registry: { name: CONTEXT7 } } });
    const { resource: resolved } = await appResolver.resolve(resource!, pins);
    const app = new App();
    const chart = new Chart(app, 'servers');
    const construct = new library.MCPServer(chart, 'context7', { ...resolved.spec, name: resolved.metadata.name });
    expect(construct.imageRef).toBe('node:24-bookworm-slim');
    expect(existsSync(lockfile)).toBe(false);
    pins.commit();
    expect(Lockfile.read(lockfile).get(registry.url, CONTEXT7, 'latest')?.version).toBe('2.0.0');
  });
});

function validated(name: string, spec: Record<string, unknown>): ValidatedResource {
  return { origin: { file: 'servers.yaml', index: 0 }, resource: server(name, spec) };
}

async function resolveBatch(resources: ValidatedResource[], lockfile: string, check?: (v: ValidatedResource) => void): Promise<ValidatedResource[]> {
  const result = await resolveRegistryResources(resources, {
    registryUrl: registry.url,
    lockfile,
    cacheDir: join(tempDir(), 'cache'),
    client: { sleep: async () => undefined, timeoutMs: 2000 },
    warn: () => undefined,
    info: () => undefined,
    check,
  });
  return result.resources;
}

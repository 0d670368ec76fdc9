/**
 * server.json → MCPServer spec. The registry describes how a desktop client starts a server (`npx`,
 * `uvx`, `docker run`); this decides what container runs instead, with which command, arguments,
 * environment and port, and refuses — with the reason — what cannot run in a restricted pod.
 *
 * Precedence: whatever the user wrote in the spec wins over the registry (image, tag, command, args,
 * env entries by name, port, transport, and every field the registry does not speak about). Two fields
 * carry schema defaults by the time they arrive here (`tag: latest`, `port: 8080`) — the CLI validator
 * and the API server both fill them in — so those default values count as "not set".
 */
import { dockerRuntime } from './docker';
import { MappingError, MappingProblem, NotDeployableError } from './errors';
import { envRequirement, EnvRequirement, mergeRequirements, RegistryEnvPolicy, renderArguments, resolveEnv, substitute } from './inputs';
import { checkLauncherPackage, deniedEnvReason, launcherArgumentProblems, ociDigestProblem, ociRepositoryProblem, ociTagProblem, OCI_TAG, packageField } from './policy';
import { Argument, KeyValueInput, Package, PositionalArgument, ServerJson } from './types';
import { EnvVar } from '../spec/k8s';
import { DEFAULTS, MCPServerSpec } from '../spec/mcpserver';

/** glibc, not Alpine: the stdio bridge binary copied into the pod is linked against glibc. */
export const NODE_IMAGE = { image: 'node', tag: '24-bookworm-slim' } as const;
export const UV_IMAGE = { image: 'ghcr.io/astral-sh/uv', tag: 'python3.12-bookworm-slim' } as const;

/** The writable home the construct mounts; the root filesystem is read-only. */
const HOME = '/home/mcp';

/** npx downloads the package at start; its cache and logs must land on the writable home. */
export const NPM_ENV: readonly EnvVar[] = [
  { name: 'npm_config_cache', value: `${HOME}/.npm` },
  { name: 'npm_config_update_notifier', value: 'false' },
  { name: 'npm_config_fund', value: 'false' },
];

/** uvx builds a tool environment (and may download a Python for `-p`); all of it under the home. */
export const UV_ENV: readonly EnvVar[] = [
  { name: 'UV_CACHE_DIR', value: `${HOME}/.cache/uv` },
  { name: 'UV_TOOL_DIR', value: `${HOME}/.local/share/uv/tools` },
  { name: 'UV_PYTHON_INSTALL_DIR', value: `${HOME}/.local/share/uv/python` },
];

/** Preference when the user names no package: an image is what a pod runs natively. */
export const DEPLOYABLE_TYPES = ['oci', 'npm', 'pypi'] as const;

export interface MappedServer {
  readonly spec: MCPServerSpec;
  readonly package: Package;
  /** The version the deployment pins (npm/pypi version, or the image tag or digest). */
  readonly packageVersion?: string;
  /** `spec.env` names whose value the registry set → where it came from (server, package, field), for messages. */
  readonly envOrigins: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
}

/** Throws NotDeployableError (nothing can run) or MappingError (the user must add something). */
export function mapServer(server: ServerJson, user: MCPServerSpec): MappedServer {
  const pkg = choosePackage(server, user);
  const problems: MappingProblem[] = [];
  const warnings: string[] = [];
  const runtime = runtimeOf(server, pkg, user);
  problems.push(...runtime.problems);
  warnings.push(...runtime.warnings);

  const requirements = mergeRequirements([...runtime.env, ...declaredEnv(server, pkg, warnings)]);
  const endpoint = endpointOf(server, pkg, user, requirements);
  problems.push(...endpoint.problems);
  warnings.push(...endpoint.warnings);

  const overrides = endpoint.portKey !== undefined ? new Map([[endpoint.portKey, String(endpoint.port)]]) : undefined;
  const args = renderArguments(pkg.packageArguments, { where: 'packageArguments', path: 'spec.args', overrides });
  if (!user.args) {
    problems.push(...args.problems);
    warnings.push(...args.warnings);
  }
  const portEnv = overrides && requirements.some((r) => r.name === endpoint.portKey)
    ? requirements.map((r) => (r.name === endpoint.portKey ? { ...r, value: String(endpoint.port) } : r))
    : requirements;
  const env = resolveEnv(portEnv, runtime.baseEnv, user.env, (user.envFrom?.length ?? 0) > 0, registryEnvPolicy(server, pkg));
  problems.push(...env.problems);
  warnings.push(...env.warnings);

  if (problems.length > 0) throw new MappingError(server.name, server.version, problems);
  const spec = assemble(user, runtime, endpoint, args.tokens, env.env);
  return { spec, package: pkg, packageVersion: runtime.pinnedVersion, envOrigins: env.origins, warnings };
}

/** The registry's answer under the user's spec: every field the user set stays as written. */
function assemble(user: MCPServerSpec, runtime: Runtime, endpoint: Endpoint, args: string[], env: EnvVar[]): MCPServerSpec {
  const userTag = user.tag !== undefined && user.tag !== DEFAULTS.tag ? user.tag : undefined;
  return stripUndefined({
    ...user,
    image: user.image ?? runtime.image,
    tag: userTag ?? runtime.tag,
    command: user.command ?? runtime.command,
    args: user.args ?? (args.length > 0 ? args : undefined),
    env: env.length > 0 ? env : undefined,
    port: endpoint.port,
    transport: stripUndefined({ type: user.transport?.type ?? endpoint.type, path: user.transport?.path ?? endpoint.path }),
  });
}

// ---------------------------------------------------------------------------------------------
// Choosing the package

/**
 * `spec.registry.package` if set, else oci, then npm, then pypi. An OCI package served over stdio needs
 * the image's entrypoint, which server.json does not carry; when another package can start without it,
 * that one is taken, so `registry.name` alone still yields a workload.
 */
export function choosePackage(server: ServerJson, user: MCPServerSpec): Package {
  const packages = server.packages ?? [];
  const wanted = user.registry?.package;
  const ofType = (t: string) => packages.filter((p) => p.registryType === t);
  const ordered = wanted ? ofType(wanted) : DEPLOYABLE_TYPES.flatMap(ofType);
  if (wanted && ordered.length === 0) {
    const has = packages.map((p) => p.registryType).join(', ') || 'none';
    throw new MappingError(server.name, server.version, [{ path: 'spec.registry.package', message: `${server.name}@${server.version} has no ${wanted} package (packages: ${has})` }]);
  }
  const pick = ordered.find((p) => !needsEntrypoint(p, user)) ?? ordered[0];
  if (!pick) throw new NotDeployableError(server.name, server.version, notDeployableReason(server));
  return pick;
}

function needsEntrypoint(pkg: Package, user: MCPServerSpec): boolean {
  return pkg.registryType === 'oci' && transportType(pkg) === 'stdio' && !user.command?.length
    && !(pkg.runtimeArguments ?? []).some((a) => a.type === 'named' && a.name === '--entrypoint');
}

const WHY_NOT: Record<string, (p: Package) => string> = {
  nuget: (p) => `nuget package ${p.identifier} runs on the .NET SDK (${p.runtimeHint ?? 'dnx'}), and mcp-operator has no .NET runtime image to start it with`,
  mcpb: (p) => `mcpb bundle ${p.identifier} is an archive for desktop MCP hosts to unpack and run; no container image or package manager can start it`,
};

export function notDeployableReason(server: ServerJson): string {
  const packages = server.packages ?? [];
  const remotes = (server.remotes ?? []).map((r) => `${r.url ?? '(no url)'} (${r.type})`);
  const reasons = packages.map((p) => WHY_NOT[p.registryType]?.(p) ?? `${p.registryType} package ${p.identifier} is of a type mcp-operator cannot run (it runs ${DEPLOYABLE_TYPES.join(', ')})`);
  if (reasons.length > 0) {
    return `${reasons.join('; ')}${remotes.length > 0 ? `. It is also hosted remotely at ${remotes.join(', ')}: connect to that instead` : ''}`;
  }
  if (remotes.length > 0) return `it is a remote server only, hosted at ${remotes.join(', ')}: connect to it directly instead of deploying it`;
  return 'it publishes no packages and no remotes';
}

function transportType(pkg: Package): string {
  return pkg.transport?.type ?? 'stdio';
}

// ---------------------------------------------------------------------------------------------
// What runs: image, launcher command, runtime env

interface Runtime {
  readonly image: string;
  readonly tag?: string;
  readonly command?: string[];
  readonly pinnedVersion?: string;
  readonly baseEnv: readonly EnvVar[];
  readonly env: EnvRequirement[];
  readonly problems: MappingProblem[];
  readonly warnings: string[];
}

function runtimeOf(server: ServerJson, pkg: Package, user: MCPServerSpec): Runtime {
  switch (pkg.registryType) {
    case 'oci': return ociRuntime(server, pkg, user);
    case 'npm': return launcherRuntime(server, pkg, user, NPM);
    case 'pypi': return launcherRuntime(server, pkg, user, PYPI);
    default: throw new NotDeployableError(server.name, server.version, notDeployableReason({ ...server, packages: [pkg], remotes: [] }));
  }
}

interface Launcher {
  readonly tool: string;
  readonly image: { readonly image: string; readonly tag: string };
  readonly env: readonly EnvVar[];
  /** The launcher's own flags that always go first. */
  readonly fixed: readonly string[];
  /** Ends the launcher's options before the package, where the launcher supports that. */
  readonly separator: readonly string[];
  readonly spec: (id: string, version: string) => string;
  /** How to name a program other than the package's default one, for the suggestion in errors. */
  readonly from: (pkgSpec: string) => string[];
}

const NPM: Launcher = {
  tool: 'npx',
  image: NODE_IMAGE,
  env: NPM_ENV,
  fixed: ['-y'],
  // npx (npm's bin/npx-cli.js) stops reading its own options at `--` and hands everything after it to
  // `npm exec` as positionals: the package can then never be read as an npx option.
  separator: ['--'],
  spec: (id, v) => `${id}@${v}`,
  from: (s) => [`--package=${s}`],
};

const PYPI: Launcher = {
  tool: 'uvx',
  image: UV_IMAGE,
  env: UV_ENV,
  fixed: [],
  // uv documents no `--` for `uv tool run`/`uvx` (its command is a clap external subcommand), so none
  // is added; the package spec is checked never to start with `-`, and uv treats everything after the
  // command as the command's arguments (its tool_run_args test).
  separator: [],
  spec: (id, v) => `${id}==${v}`,
  from: (s) => ['--from', s],
};

/**
 * npm and pypi packages run through their launcher on a stock image: `npx -y <runtimeArguments>
 * <id>@<version>` or `uvx <runtimeArguments> <id>==<version>`; `packageArguments` become `args`, so a
 * user who sets `spec.args` replaces exactly those.
 */
function launcherRuntime(server: ServerJson, pkg: Package, user: MCPServerSpec, launcher: Launcher): Runtime {
  if (!pkg.version) {
    throw new NotDeployableError(server.name, server.version, `${pkg.registryType} package ${pkg.identifier} names no version, and an unpinned package would change under a running deployment`);
  }
  checkLauncherPackage(server, pkg);
  const pkgSpec = launcher.spec(pkg.identifier, pkg.version);
  const warnings: string[] = [];
  const problems: MappingProblem[] = [];
  let runtimeArgs = pkg.runtimeArguments ?? [];
  if (pkg.runtimeHint && pkg.runtimeHint !== launcher.tool) {
    warnings.push(`runtimeHint ${pkg.runtimeHint} is not ${launcher.tool}; running with ${launcher.tool}, which starts the program named like the package`);
    if (runtimeArgs.length > 0) warnings.push(`ignored runtimeArguments meant for ${pkg.runtimeHint}`);
    runtimeArgs = [];
  }
  const firstPositional = runtimeArgs.findIndex((a) => a.type === 'positional');
  const rendered = renderArguments(runtimeArgs, { where: 'runtimeArguments', path: 'spec.command' });
  if (!user.command) {
    if (firstPositional >= 0) {problems.push(positionalRuntimeProblem(launcher, pkgSpec, runtimeArgs, firstPositional));} else {
      problems.push(...launcherArgumentProblems(server, pkg, launcher.tool, runtimeArgs));
      problems.push(...rendered.problems);
      warnings.push(...rendered.warnings);
    }
  }
  return {
    ...launcher.image,
    command: [launcher.tool, ...launcher.fixed, ...rendered.tokens, ...launcher.separator, pkgSpec],
    pinnedVersion: pkg.version,
    baseEnv: launcher.env,
    env: [],
    problems,
    warnings,
  };
}

/**
 * Positional runtime arguments come before the package on the launcher's command line, where npx and
 * uvx read them as the program to run: the package would never start. server.json does not say which
 * of the package's programs is meant, so the user has to; the suggestion keeps the publisher's order and
 * puts the package and its program where the first positional value was.
 */
function positionalRuntimeProblem(launcher: Launcher, pkgSpec: string, runtimeArgs: readonly Argument[], firstPositional: number): MappingProblem {
  const sketch = (list: readonly Argument[]) => renderArguments(list, { where: 'runtimeArguments', path: 'spec.command' }).tokens;
  const before = sketch(runtimeArgs.slice(0, firstPositional));
  const after = sketch(runtimeArgs.slice(firstPositional));
  const values = runtimeArgs.filter((a): a is PositionalArgument => a.type === 'positional').map((a) => a.value ?? a.default ?? `<${a.valueHint ?? 'value'}>`);
  const example = [launcher.tool, ...launcher.fixed, ...before, ...launcher.from(pkgSpec), ...launcher.separator, '<program>', ...after];
  return {
    path: 'spec.command',
    message: `runtimeArguments hold positional values (${values.join(', ')}) that ${launcher.tool} would take as the program to run instead of ${pkgSpec}, and server.json does not name the package's program: set spec.command, e.g. ${JSON.stringify(example)}`,
    suggestion: example,
  };
}

/**
 * An OCI package is its own image: it is deployed at the tag (or digest) the registry names, and its
 * `docker run` flags are translated by ./docker.ts. Over stdio the in-pod bridge starts the server, so it
 * needs the image's entrypoint as `spec.command`; server.json does not carry it and reading it would mean
 * fetching the image config from the image registry, which mcp-operator does not do.
 */
function ociRuntime(server: ServerJson, pkg: Package, user: MCPServerSpec): Runtime {
  const ref = imageRef(server, pkg);
  const docker = dockerRuntime(pkg.runtimeArguments, ref.names);
  const problems: MappingProblem[] = [];
  if (transportType(pkg) === 'stdio' && !user.command?.length && !docker.entrypoint) {
    const shown = ref.digest ? `${ref.image}` : `${ref.image}:${ref.tag}`;
    problems.push({
      path: 'spec.command',
      message: `${server.name}@${server.version} runs the image ${shown} over stdio; the in-pod bridge must start the image's entrypoint itself, and server.json does not say what that is: set spec.command (and spec.args) to it, e.g. from docker image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' ${shown}`,
      suggestion: [`<entrypoint of ${shown}>`],
    });
  }
  return {
    image: ref.image,
    tag: ref.tag,
    command: docker.entrypoint,
    pinnedVersion: ref.digest ?? ref.tag,
    baseEnv: [],
    env: docker.env,
    problems,
    warnings: [...ref.warnings, ...docker.warnings],
  };
}

interface ImageRef {
  /** Repository, or `repository@digest`. */
  readonly image: string;
  readonly tag?: string;
  readonly digest?: string;
  /** Spellings of this image a publisher may repeat as a positional `docker run` argument. */
  readonly names: string[];
  readonly warnings: string[];
}

const TAG = OCI_TAG;
const DOCKER_HUB = /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//;

export function imageRef(server: ServerJson, pkg: Package): ImageRef {
  const warnings: string[] = [];
  let rest = pkg.identifier;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let idTag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    idTag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const repository = withRegistryHost(rest, pkg.registryBaseUrl);
  const field = packageField(server, pkg);
  const refuse = (what: string, value: string, why: string): never => {
    throw new NotDeployableError(server.name, server.version, `oci package ${JSON.stringify(pkg.identifier)}: ${field}.${what} ${JSON.stringify(value)} ${why}`);
  };
  const repositoryProblem = ociRepositoryProblem(repository);
  if (repositoryProblem) refuse('identifier', repository, `(repository) ${repositoryProblem}`);
  if (digest !== undefined && ociDigestProblem(digest)) refuse('identifier', digest, `(digest) ${ociDigestProblem(digest)}`);
  if (idTag !== undefined && ociTagProblem(idTag)) refuse('identifier', idTag, `(tag) ${ociTagProblem(idTag)}`);
  // A tag cannot hold ":", so a version that does is a digest (publishers of the 2025-07-09 schema
  // give `identifier: org/image, version: sha256:…`): it pins the image as firmly as one in the identifier.
  const versionDigest = pkg.version?.includes(':') ? pkg.version : undefined;
  if (versionDigest !== undefined && ociDigestProblem(versionDigest)) refuse('version', versionDigest, `(digest) ${ociDigestProblem(versionDigest)}`);
  const shortNames = [rest, rest.replace(DOCKER_HUB, '')];
  const pinned = digest ?? versionDigest;
  const names = [pkg.identifier, ...shortNames, ...shortNames.map((n) => `${n}:${idTag ?? pkg.version}`), ...(pinned ? shortNames.map((n) => `${n}@${pinned}`) : [])];
  if (pinned) {
    if (digest && versionDigest && digest !== versionDigest) warnings.push(`image ${pkg.identifier} names the digest ${digest} but the package version is ${versionDigest}; deploying ${digest}`);
    if (!digest && idTag && idTag !== 'latest') warnings.push(`image ${pkg.identifier} is tagged ${idTag} but the package version is the digest ${versionDigest}; deploying the digest`);
    return { image: `${repository}@${pinned}`, digest: pinned, names, warnings };
  }
  const version = pkg.version !== undefined && pkg.version !== 'latest' && TAG.test(pkg.version) ? pkg.version : undefined;
  if (idTag && idTag !== 'latest') {
    if (pkg.version && pkg.version !== idTag) warnings.push(`image ${pkg.identifier} is tagged ${idTag} but the package version is ${pkg.version}; deploying ${idTag}`);
    return { image: repository, tag: idTag, names, warnings };
  }
  if (!version) {
    throw new NotDeployableError(server.name, server.version, `oci image ${pkg.identifier} names no tag, digest or version; refusing to deploy an unpinned image`);
  }
  if (idTag === 'latest') warnings.push(`image ${pkg.identifier} is tagged latest; deploying the package version ${version} instead`);
  return { image: repository, tag: version, names, warnings };
}

/** Older documents give the registry separately (`registryBaseUrl: https://docker.io`, identifier `org/image`). */
function withRegistryHost(repository: string, registryBaseUrl: string | undefined): string {
  const first = repository.split('/')[0] ?? '';
  const hasHost = repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasHost || !registryBaseUrl) return repository;
  try {
    return `${new URL(registryBaseUrl).host}/${repository}`;
  } catch {
    return repository;
  }
}

// ---------------------------------------------------------------------------------------------
// Environment

/** Every environment variable the package declares, from `environmentVariables` and `docker run -e`. */
export function packageRequirements(pkg: Package): EnvRequirement[] {
  const docker = pkg.registryType === 'oci' ? dockerRuntime(pkg.runtimeArguments, []).env : [];
  return mergeRequirements([...docker, ...declaredEnv(undefined, pkg, [])]);
}

function declaredEnv(server: ServerJson | undefined, pkg: Package, warnings: string[]): EnvRequirement[] {
  const out: EnvRequirement[] = [];
  const field = server ? `${packageField(server, pkg)}.` : '';
  (pkg.environmentVariables ?? []).forEach((e: Partial<KeyValueInput>, i) => {
    // Published documents carry `{}` entries: they fail the schema, yet the registry holds them.
    if (typeof e.name === 'string' && e.name !== '') out.push({ ...envRequirement(e as KeyValueInput), source: `${field}environmentVariables[${i}]` });
    else warnings.push(`environmentVariables[${i}] has no name and is ignored`);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Transport and port

interface Endpoint {
  readonly type: 'http' | 'stdio';
  readonly port: number;
  readonly path?: string;
  /** The `{placeholder}` that sets the port in the transport URL, bound to the chosen port. */
  readonly portKey?: string;
  readonly problems: MappingProblem[];
  readonly warnings: string[];
}

/**
 * stdio: the bridge listens on `spec.port`. streamable-http and sse: the server listens itself, on the
 * port of its transport URL, which may be a placeholder (`http://localhost:{--port}/mcp`) filled from an
 * argument or environment variable. When the user sets another port, that argument or variable is set
 * to it too, so the server listens where the Service sends traffic.
 */
function endpointOf(server: ServerJson, pkg: Package, user: MCPServerSpec, env: readonly EnvRequirement[]): Endpoint {
  const type = transportType(pkg);
  const userPort = user.port !== undefined && user.port !== DEFAULTS.port ? user.port : undefined;
  const none = { problems: [], warnings: [] };
  if (type === 'stdio') return { type: 'stdio', port: user.port ?? DEFAULTS.port, ...none };
  if (type !== 'streamable-http' && type !== 'sse') {
    throw new NotDeployableError(server.name, server.version, `package ${pkg.identifier} uses the transport ${type}, which mcp-operator cannot serve (it serves stdio, streamable-http and sse)`);
  }
  const template = pkg.transport?.url;
  if (!template) {
    return { type: 'http', port: user.port ?? DEFAULTS.port, path: DEFAULTS.httpPath, problems: [], warnings: [`the ${type} transport has no URL; assuming port ${user.port ?? DEFAULTS.port} and path ${DEFAULTS.httpPath}`] };
  }
  const portKey = /^[a-z][a-z0-9+.-]*:\/\/[^/]*:\{([^{}]+)\}/i.exec(template)?.[1];
  const url = resolveUrl(template, pkg, user, env);
  if (!url) {
    if (userPort !== undefined && user.transport?.path) return { type: 'http', port: userPort, portKey, ...none };
    return {
      type: 'http',
      port: DEFAULTS.port,
      ...none,
      problems: [{ path: 'spec.port', message: `the ${type} transport URL ${template} has placeholders that no argument or variable fills: set spec.port and spec.transport.path` }],
    };
  }
  const urlPort = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const warnings = userPort !== undefined && portKey === undefined && userPort !== urlPort
    ? [`the registry says the server listens on port ${urlPort} (${template}); spec.port ${userPort} is used, so make the server listen there`]
    : [];
  return { type: 'http', port: userPort ?? urlPort, path: url.pathname || '/', portKey, problems: [], warnings };
}

/** Placeholders name arguments (`{--port}`), value hints, environment variables, or transport variables. */
function resolveUrl(template: string, pkg: Package, user: MCPServerSpec, env: readonly EnvRequirement[]): URL | undefined {
  const bindings = new Map<string, string>();
  for (const list of [pkg.runtimeArguments, pkg.packageArguments]) {
    for (const [k, v] of renderArguments(list, { where: '', path: '' }).bindings) bindings.set(k, v);
  }
  for (const r of env) {
    const value = user.env?.find((e) => e.name === r.name)?.value ?? r.value ?? r.default;
    if (value !== undefined) bindings.set(r.name, value);
  }
  const s = substitute(template, pkg.transport?.variables, bindings);
  if (s.value === undefined || /\{[^{}]+\}/.test(s.value)) return undefined;
  try {
    return new URL(s.value);
  } catch {
    return undefined;
  }
}

/**
 * Registry-set values of loader, runtime and package-manager variables are refused (./policy.ts); the
 * user's own `spec.env` entry for such a name is theirs to make.
 */
function registryEnvPolicy(server: ServerJson, pkg: Package): RegistryEnvPolicy {
  const field = packageField(server, pkg);
  return {
    denied: deniedEnvReason,
    describe: (req) => `${server.name}@${server.version}: ${pkg.registryType} package ${pkg.identifier}: ${req.source?.startsWith('packages[') ? req.source : `${field}.${req.source ?? 'environmentVariables'}`}`,
  };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

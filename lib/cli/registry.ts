/**
 * `mcp-operator registry search|show` and `mcp-operator init --from-registry`: look around the MCP
 * Registry, and start an MCPServer from one of its servers with every required setting in place.
 */
import { randomBytes } from 'crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'fs';
import { Command, Option } from 'commander';
import * as yaml from 'js-yaml';
import { CliIo, ExitCode, OutputFormat, parseFormat, UsageError } from './io';
import { registryUrlOption } from './resolve';
import { MappingError, NotDeployableError, RegistryError } from '../registry/errors';
import { EnvRequirement } from '../registry/inputs';
import { choosePackage, DEPLOYABLE_TYPES, mapServer, packageRequirements } from '../registry/mapping';
import { RegistryResolver } from '../registry/resolver';
import { DEFAULT_REGISTRY_URL, officialMeta, ServerJson, ServerResponse } from '../registry/types';
import { EnvVar, looksLikeSecretName } from '../spec/k8s';
import { API_GROUP, API_VERSION, DEFAULTS, KIND, MCPServerSpec } from '../spec/mcpserver';
import { checkResource } from '../spec/validate';
import { terminalSafe, terminalSafeLine } from '../util/terminal';

interface SourceOptions {
  registryUrl?: string;
  offline?: boolean;
  cacheDir?: string;
}

function addSourceOptions(command: Command): Command {
  return command
    .option('--registry-url <url>', `MCP Registry to ask (default: $MCP_REGISTRY_URL, else ${DEFAULT_REGISTRY_URL})`)
    .option('--offline', 'answer from the local cache only')
    .option('--cache-dir <dir>', 'cache of registry answers (default: ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/registry)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 the registry could not answer (or the server cannot be deployed), 2 usage error.');
}

/** The resolver `synth` uses, here only to look servers up: same client, cache and offline mode. */
function resolverFrom(opts: SourceOptions, io: CliIo): RegistryResolver {
  const warn = (m: string) => io.stderr.write(`warning: ${terminalSafe(m)}\n`);
  return new RegistryResolver({ registryUrl: registryUrlOption(opts.registryUrl), cacheDir: opts.cacheDir, offline: opts.offline, warn });
}

/** Registry and deployability failures are reported, not thrown: they are outcomes, not crashes. */
async function reporting(io: CliIo, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (!(err instanceof RegistryError || err instanceof NotDeployableError || err instanceof MappingError)) throw err;
    // Registry messages quote the registry's own text (error bodies, names, reasons).
    io.stderr.write(`error: ${terminalSafe(err.message)}\n`);
    io.exitCode = ExitCode.Failure;
  }
}

function outputOption(): Option {
  return new Option('-o, --output <format>', 'json or yaml instead of the human-readable view').argParser(parseFormat);
}

/** `name` or `name@version`; server names cannot contain `@`. */
export function parseServerRef(ref: string): { name: string; version?: string } {
  const at = ref.indexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  const version = at < 0 ? undefined : ref.slice(at + 1);
  if (!/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/.test(name)) throw new UsageError(`${JSON.stringify(ref)} is not a registry server name such as io.github.owner/server[@version]`);
  if (version === '') throw new UsageError(`${JSON.stringify(ref)}: empty version after @`);
  return { name, version };
}

export function registryCommand(io: CliIo): Command {
  const registry = new Command('registry').description('Search the MCP Registry and show its servers');
  for (const sub of [searchCommand(io), showCommand(io)]) {
    // addCommand() passes no settings down: without these, a usage error here would exit the process.
    registry.addCommand(sub.exitOverride().showHelpAfterError('(run with --help for usage)')
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) }));
  }
  return registry;
}

function searchCommand(io: CliIo): Command {
  const command = new Command('search')
    .description('List servers whose name contains <text> (latest versions)')
    .argument('<text>', 'part of the server name (the registry searches names only)')
    .option('--limit <n>', 'at most this many servers', (v) => positiveInt(v, '--limit'), 30)
    .addOption(outputOption());
  addSourceOptions(command);
  return command.action(async (text: string, opts: SourceOptions & { limit: number; output?: OutputFormat }) => reporting(io, async () => {
    const list = await resolverFrom(opts, io).source().listAll({ search: text, version: 'latest', limit: Math.min(opts.limit, 100) }, opts.limit);
    if (opts.output) return void io.stdout.write(format(list.servers, opts.output));
    if (list.servers.length === 0) return void io.stderr.write(`no servers match ${terminalSafeLine(JSON.stringify(text))}\n`);
    io.stdout.write(table(['NAME', 'VERSION', 'STATUS', 'PACKAGES', 'DESCRIPTION'], list.servers.map((r) => [
      r.server.name,
      r.server.version,
      officialMeta(r)?.status ?? 'active',
      kinds(r.server),
      truncate(r.server.description ?? '', 60),
    ])));
  }));
}

function showCommand(io: CliIo): Command {
  const command = new Command('show')
    .description('Show one server: packages, remotes, environment, and how mcp-operator would deploy it')
    .argument('<name[@version]>', 'server name, optionally with a version (default latest)')
    .addOption(outputOption());
  addSourceOptions(command);
  return command.action(async (ref: string, opts: SourceOptions & { output?: OutputFormat }) => {
    const { name, version } = parseServerRef(ref);
    await reporting(io, async () => {
      const response = await resolverFrom(opts, io).fetch(name, version);
      io.stdout.write(opts.output ? format(response, opts.output) : terminalSafe(describeServer(response)));
    });
  });
}

function describeServer(response: ServerResponse): string {
  const s = response.server;
  const meta = officialMeta(response);
  const lines: string[] = [];
  const field = (label: string, value: string | undefined) => value && lines.push(`${`${label}:`.padEnd(13)}${terminalSafeLine(value)}`);
  field('Name', s.name);
  field('Title', s.title);
  field('Version', `${s.version}${meta?.isLatest ? ' (latest)' : ''}`);
  field('Status', `${meta?.status ?? s.status ?? 'active'}${meta?.statusMessage ? ` — ${meta.statusMessage}` : ''}`);
  field('Published', meta?.publishedAt);
  field('Description', s.description);
  field('Repository', s.repository?.url);
  field('Website', s.websiteUrl);
  if (s.packages?.length) {
    lines.push('', 'Packages:', ...indent(table(['TYPE', 'IDENTIFIER', 'VERSION', 'TRANSPORT'], s.packages.map((p) => [p.registryType, p.identifier, p.version ?? '-', p.transport?.type ?? 'stdio']))));
  }
  if (s.remotes?.length) lines.push('', 'Remotes:', ...indent(table(['TRANSPORT', 'URL'], s.remotes.map((r) => [r.type, r.url ?? '-']))));
  lines.push('', ...deploymentView(s));
  return `${lines.join('\n')}\n`;
}

/** What `synth` would do with `spec.registry.name` alone: run it, or what it still needs, or why not. */
function deploymentView(server: ServerJson): string[] {
  const user = { registry: { name: server.name } } as MCPServerSpec;
  let env: EnvRequirement[] = [];
  const lines: string[] = [];
  try {
    const pkg = choosePackage(server, user);
    env = packageRequirements(pkg);
    const mapped = mapServer(server, user);
    const run = [...(mapped.spec.command ?? ['(image entrypoint)']), ...(mapped.spec.args ?? [])].join(' ');
    const image = mapped.spec.tag ? `${mapped.spec.image}:${mapped.spec.tag}` : mapped.spec.image;
    lines.push(`Deploys as:  ${image} — ${run} (${mapped.spec.transport?.type}, port ${mapped.spec.port})`);
  } catch (err) {
    if (err instanceof NotDeployableError) return [`Deploys as:  not deployable: ${err.reason}`];
    if (!(err instanceof MappingError)) throw err;
    lines.push('Deploys as:  needs settings first:', ...err.problems.map((p) => `  ${p.path}: ${p.message}`));
  }
  if (env.length > 0) {
    lines.push('', 'Environment:', ...indent(table(['NAME', 'REQUIRED', 'SECRET', 'DEFAULT', 'DESCRIPTION'], env.map((e) => [
      e.name, e.isRequired ? 'yes' : 'no', e.isSecret ? 'yes' : 'no', e.value ?? e.default ?? '-', truncate(e.description ?? '', 60),
    ]))));
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// init

interface InitOptions extends SourceOptions {
  fromRegistry: string;
  name?: string;
  output?: string;
  force?: boolean;
}

export function initCommand(io: CliIo): Command {
  const command = new Command('init')
    .description('Write an MCPServer for a server of the MCP Registry, with every required setting present')
    .requiredOption('--from-registry <name[@version]>', 'registry server to start from, e.g. io.github.modelcontextprotocol/filesystem')
    .option('--name <k8s-name>', 'metadata.name of the MCPServer (default: derived from the server name)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--force', 'overwrite the --output file if it exists')
    .addHelpText('after', '\nSecrets are referenced as valueFrom.secretKeyRef of the Secret <name>-secrets (key: the variable name in lowercase);\n'
      + 'values the registry does not give are written as <placeholders> to replace.');
  addSourceOptions(command);
  return command.action(async (opts: InitOptions) => {
    const { name: serverName, version } = parseServerRef(opts.fromRegistry);
    if (opts.output && existsSync(opts.output) && !opts.force) throw new UsageError(`${opts.output} exists; pass --force to overwrite it`);
    await reporting(io, async () => {
      const response = await resolverFrom(opts, io).fetch(serverName, version);
      const registryUrl = opts.registryUrl ? registryUrlOption(opts.registryUrl) : undefined;
      const text = initialManifest(response.server, { name: opts.name, version, registryUrl });
      if (!opts.output) return void io.stdout.write(text);
      writeAtomically(opts.output, text);
      io.stderr.write(`wrote ${opts.output}\n`);
    });
  });
}

export interface InitialManifestOptions {
  readonly name?: string;
  /** Written into spec.registry.version when the user asked for one; otherwise the lockfile pins latest. */
  readonly version?: string;
  readonly registryUrl?: string;
}

/**
 * The MCPServer YAML that `init` writes. Each required setting is present: secrets as references into
 * `<name>-secrets`, other values as the registry's default or a `<placeholder>`, and any command or
 * arguments the registry cannot supply as placeholders too. It is checked with the same mapping
 * and validation `synth` uses before it is returned.
 */
export function initialManifest(server: ServerJson, options: InitialManifestOptions = {}): string {
  const name = options.name ?? kubernetesName(server.name);
  const secret = `${name}-secrets`;
  const pkg = choosePackage(server, { registry: { name: server.name } } as MCPServerSpec);
  const todo: string[] = [];
  const secrets: string[] = [];
  const env = packageRequirements(pkg).flatMap((r) => initialEnv(r, secret, todo, secrets));
  const spec: MCPServerSpec = {
    registry: {
      name: server.name,
      ...(options.version ? { version: options.version } : {}),
      ...(options.registryUrl && options.registryUrl !== DEFAULT_REGISTRY_URL ? { url: options.registryUrl } : {}),
      // With several runnable package types, the choice is written down so that it cannot drift.
      ...(deployableTypes(server).size > 1 ? { package: pkg.registryType as (typeof DEPLOYABLE_TYPES)[number] } : {}),
    },
    ...(env.length > 0 ? { env } : {}),
  };
  const notes = fillPlaceholders(server, spec, todo);
  const doc = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name }, spec };
  const { issues } = checkResource(doc);
  if (issues.length > 0) {
    const nameIssue = issues.find((i) => i.path.startsWith('metadata'));
    if (nameIssue) throw new UsageError(`--name: ${nameIssue.message}`);
    throw new Error(`init produced an invalid MCPServer: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  return header(server, { name, secret, secrets, todo, notes }) + yaml.dump(doc, { lineWidth: -1, noRefs: true, quotingType: '"' });
}

function deployableTypes(server: ServerJson): Set<string> {
  return new Set((server.packages ?? []).map((p) => p.registryType).filter((t) => (DEPLOYABLE_TYPES as readonly string[]).includes(t)));
}

function initialEnv(r: EnvRequirement, secret: string, todo: string[], secrets: string[]): EnvVar[] {
  // A credential-looking name may not carry a plain value (the MCPServer schema refuses it), whatever
  // the publisher marked: it is referenced from the Secret like a declared secret.
  if (r.isSecret || looksLikeSecretName(r.name)) {
    const key = r.name.toLowerCase();
    secrets.push(`${key}${r.isRequired ? '' : ' (optional)'}${r.description ? ` — ${r.name}: ${oneLine(r.description)}` : ''}`);
    return [{ name: r.name, valueFrom: { secretKeyRef: { name: secret, key, ...(r.isRequired ? {} : { optional: true }) } } }];
  }
  if (!r.isRequired) return [];
  const given = r.value ?? r.default;
  if (given !== undefined) return [{ name: r.name, value: given }];
  const about = r.description ? `: ${oneLine(r.description)}` : '';
  // A <placeholder> would fail the choices and format checks that validate applies, so those get a
  // valid stand-in and a note to review it.
  const standIn = r.choices?.[0] ?? (r.format === 'number' ? '0' : r.format === 'boolean' ? 'false' : undefined);
  if (standIn !== undefined) {
    todo.push(`spec.env ${r.name}: set to ${standIn}${r.choices?.length ? `, the first of ${r.choices.join(', ')}` : ` (a ${r.format})`}${about}`);
    return [{ name: r.name, value: standIn }];
  }
  todo.push(`spec.env ${r.name}${about}`);
  return [{ name: r.name, value: `<${r.name}>` }];
}

/**
 * Command and arguments the registry cannot give are filled with the mapping's own suggestions; what
 * the mapping would warn about at synth time (e.g. a publisher default that is a desktop path) is returned.
 */
function fillPlaceholders(server: ServerJson, spec: MCPServerSpec, todo: string[]): readonly string[] {
  for (let round = 0; ; round++) {
    try {
      return mapServer(server, { ...spec, port: DEFAULTS.port }).warnings;
    } catch (err) {
      if (!(err instanceof MappingError)) throw err;
      const fillable = err.problems.filter((p) => p.suggestion && (p.path === 'spec.command' || p.path === 'spec.args'));
      if (fillable.length === 0 || round === 1) throw err;
      for (const p of fillable) {
        if (p.path === 'spec.command') spec.command = [...p.suggestion!];
        else spec.args = [...p.suggestion!];
        todo.push(`${p.path}: replace the <placeholders>: ${p.message.split(/[:;] set spec\./)[0]}`);
      }
    }
  }
}

interface HeaderParts {
  readonly name: string;
  readonly secret: string;
  readonly secrets: readonly string[];
  readonly todo: readonly string[];
  readonly notes: readonly string[];
}

function header(server: ServerJson, { name, secret, secrets, todo, notes }: HeaderParts): string {
  const lines = [`MCPServer for ${server.name} (${server.version} when written), by mcp-operator init.`];
  if (server.description) lines.push(oneLine(server.description));
  if (secrets.length > 0) {
    lines.push('', `Create the Secret ${secret} with these keys before applying:`, ...secrets.map((s) => `  ${s}`));
    lines.push(`  kubectl create secret generic ${secret} ${secrets.map((s) => `--from-literal=${s.split(' ')[0]}=...`).join(' ')}`);
  }
  if (todo.length > 0) lines.push('', 'Replace these placeholders:', ...todo.map((t) => `  ${t}`));
  if (notes.length > 0) lines.push('', 'Check:', ...notes.map((n) => `  ${n}`));
  lines.push('', `Then: mcp-operator synth -f <this file>   (resolves ${name} and pins the version in mcp-lock.yaml)`);
  // Registry text ends up in these comments: a control character (e.g. U+0085, a YAML line break) must
  // neither act on a terminal nor end the comment.
  return `${lines.map((l) => (l ? `# ${terminalSafeLine(l)}` : '#')).join('\n')}\n`;
}

/** The last part of the server name as a DNS-1035 label: it names the Service. */
export function kubernetesName(serverName: string): string {
  const base = (serverName.split('/')[1] ?? serverName).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+/g, '-');
  return base.slice(0, 55).replace(/-+$/, '') || 'mcp-server';
}

// ---------------------------------------------------------------------------------------------
// output helpers

function format(value: unknown, as: OutputFormat): string {
  return as === 'json' ? `${JSON.stringify(value, null, 2)}\n` : yaml.dump(value, { lineWidth: -1, noRefs: true });
}

/** Cells are registry text: each is made terminal-safe and kept to one line before widths are taken. */
function table(headers: readonly string[], rawRows: readonly string[][]): string {
  const rows = rawRows.map((r) => r.map(terminalSafeLine));
  // A loop, not Math.max(...column): a listing may have more rows than a call takes arguments.
  const widths = headers.map((h) => h.length);
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

function indent(text: string): string[] {
  return text.trimEnd().split('\n').map((l) => `  ${l}`);
}

function kinds(server: ServerJson): string {
  const types = [...new Set((server.packages ?? []).map((p) => p.registryType))];
  if (server.remotes?.length) types.push('remote');
  return types.join(',') || '-';
}

function truncate(text: string, max: number): string {
  const flat = oneLine(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer (got ${JSON.stringify(value)})`);
  return n;
}

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(temp, text);
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

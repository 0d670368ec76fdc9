/**
 * What a registry entry may put into a pod. server.json is written by whoever publishes to the
 * registry; mapping turns it into the container's command line and environment, so without checks a
 * publisher chooses what runs: an npm "identifier" `--call=touch /tmp/x #` becomes
 * `npx -y "--call=touch /tmp/x #@1.0.0"`, which npx reads as its `--call` option and runs through a
 * shell; an environment value `LD_PRELOAD`, `NODE_OPTIONS=--require …` or `npm_config_registry=http://…`
 * changes what the launcher loads or where it downloads from, while the lockfile still names a
 * harmless package.
 *
 * So, for everything that comes from a registry:
 * - package identifiers and versions must be what their ecosystem allows (npm package names and exact
 *   semver versions, PEP 508 names and PEP 440 versions, OCI references); none may start with `-`
 *   or hold whitespace or control characters;
 * - launcher options (`runtimeArguments` of npm and pypi packages) are limited to the few that only
 *   choose what to run (`npx --package`, `uvx --from/--with/--python`), with their values checked the
 *   same way; everything else (`--call`, `--registry`, `--index-url`, `--userconfig`, …) is refused;
 * - environment variables that steer the dynamic loader, a language runtime, a package manager or the
 *   shell are refused when the registry sets their value, unless the user sets them in `spec.env`.
 *
 * Identity problems make the server not deployable (nothing the user writes makes a broken package
 * name safe); argument and environment problems are mapping problems the user may resolve by writing
 * `spec.command` or `spec.env` themselves.
 */
import { MappingProblem, NotDeployableError } from './errors';
import { renderArguments } from './inputs';
import { Argument, Package, ServerJson } from './types';

// ---------------------------------------------------------------------------------------------
// Identifiers and versions

/**
 * npm (validate-npm-package-name): at most 214 characters, URL-safe, optionally `@scope/`; no leading
 * `.` or `_`; new names are lowercase, old ones may have capitals. A leading `-` is never valid here,
 * whatever npm's own check says of legacy names: on a command line it is an option.
 */
const NPM_NAME = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-zA-Z0-9~][a-zA-Z0-9._~-]*$/;
const NPM_NAME_MAX = 214;

/** An exact semver 2.0 version: a registry package must pin one (no range, tag, URL or git spec). */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

/** PEP 508 distribution names (the packaging spec's regex, case-insensitive). */
const PYPI_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** PEP 440 versions, as packaging's VERSION_PATTERN spells them (public and local part). */
const PEP440 = /^v?(?:\d+!)?\d+(?:\.\d+)*(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?(?:-\d+|[-_.]?(?:post|rev|r)[-_.]?\d*)?(?:[-_.]?dev[-_.]?\d*)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$/i;

/** OCI distribution reference grammar: optional registry host[:port], then lowercase path components. */
const OCI_HOST = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?';
const OCI_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const OCI_REPOSITORY = new RegExp(`^(?:${OCI_HOST}/)?${OCI_COMPONENT}(?:/${OCI_COMPONENT})*$`);
const OCI_REPOSITORY_MAX = 255;
export const OCI_TAG = /^[\w][\w.-]{0,127}$/;
/** OCI image-spec digest: algorithm `:` encoded. */
const OCI_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

const UNSAFE = /[\s\p{Cc}\p{Cf}]/u;

/** Why `value` is unfit for any command line, or undefined. */
function unsafeToken(value: string): string | undefined {
  if (value === '') return 'is empty';
  if (value.startsWith('-')) return 'starts with "-", so a command line would read it as an option';
  if (UNSAFE.test(value)) return 'contains whitespace or control characters';
  return undefined;
}

export function npmNameProblem(name: string): string | undefined {
  return unsafeToken(name)
    ?? (name.length > NPM_NAME_MAX ? `is longer than ${NPM_NAME_MAX} characters` : undefined)
    ?? (NPM_NAME.test(name) ? undefined : 'is not a valid npm package name ([@scope/]name of URL-safe characters, not starting with . or _)');
}

export function pypiNameProblem(name: string): string | undefined {
  return unsafeToken(name) ?? (PYPI_NAME.test(name) ? undefined : 'is not a valid PyPI project name (PEP 508: letters, digits, ".", "_", "-", starting and ending with a letter or digit)');
}

function semverProblem(version: string): string | undefined {
  return unsafeToken(version) ?? (SEMVER.test(version) ? undefined : 'is not an exact semver version (such as 1.2.3): ranges, tags, URLs and git specs would let the package change under the pin');
}

function pep440Problem(version: string): string | undefined {
  return unsafeToken(version) ?? (PEP440.test(version) ? undefined : 'is not a PEP 440 version (such as 1.2.3)');
}

/** The repository part of an image reference (with registry host). */
export function ociRepositoryProblem(repository: string): string | undefined {
  return unsafeToken(repository)
    ?? (repository.length > OCI_REPOSITORY_MAX ? `is longer than ${OCI_REPOSITORY_MAX} characters` : undefined)
    ?? (OCI_REPOSITORY.test(repository) ? undefined : 'is not a valid OCI repository ([host[:port]/]path of lowercase letters, digits and separators)');
}

export function ociTagProblem(tag: string): string | undefined {
  return OCI_TAG.test(tag) ? undefined : 'is not a valid OCI tag (up to 128 of letters, digits, "_", "." and "-", not starting with "." or "-")';
}

export function ociDigestProblem(digest: string): string | undefined {
  return OCI_DIGEST.test(digest) ? undefined : 'is not a valid OCI digest (algorithm:hex, such as sha256:…)';
}

/** `packages[i]` of the server, for messages that name the field. */
export function packageField(server: ServerJson, pkg: Package): string {
  const index = (server.packages ?? []).indexOf(pkg);
  return `packages[${index < 0 ? '?' : index}]`;
}

/**
 * The identifier and version of an npm or pypi package, checked before they are put on a command line.
 * (OCI references are checked where they are parsed, in mapping's imageRef.)
 */
export function checkLauncherPackage(server: ServerJson, pkg: Package): void {
  const field = packageField(server, pkg);
  const refuse = (what: string, value: string, why: string) => {
    throw new NotDeployableError(server.name, server.version, `${pkg.registryType} package ${JSON.stringify(pkg.identifier)}: ${field}.${what} ${JSON.stringify(value)} ${why}`);
  };
  const nameProblem = pkg.registryType === 'npm' ? npmNameProblem(pkg.identifier) : pypiNameProblem(pkg.identifier);
  if (nameProblem) refuse('identifier', pkg.identifier, nameProblem);
  if (pkg.version !== undefined) {
    const versionProblem = pkg.registryType === 'npm' ? semverProblem(pkg.version) : pep440Problem(pkg.version);
    if (versionProblem) refuse('version', pkg.version, versionProblem);
  }
}

// ---------------------------------------------------------------------------------------------
// Launcher options

type ValueCheck = (value: string) => string | undefined;

/** A package to add or to run from: `name` or `name@exact-version` (npm), `name` or `name==version` (pypi). */
const npmSpec: ValueCheck = (value) => {
  const at = value.lastIndexOf('@');
  if (at > 0) return npmNameProblem(value.slice(0, at)) ?? semverProblem(value.slice(at + 1));
  return npmNameProblem(value);
};

const pypiSpec: ValueCheck = (value) => {
  const eq = value.indexOf('==');
  if (eq >= 0) return pypiNameProblem(value.slice(0, eq)) ?? pep440Problem(value.slice(eq + 2));
  return pypiNameProblem(value);
};

/** `uvx --python`: a version request such as 3.12 (a path or a URL would pick an arbitrary interpreter). */
const pythonVersion: ValueCheck = (value) => (/^(?:cpython-?|python)?3(?:\.\d+){0,2}$/i.test(value) ? undefined : 'is not a Python version such as 3.12');

interface LauncherOptions {
  /** Options that take a value, with the check of that value. */
  readonly valued: Readonly<Record<string, ValueCheck>>;
  readonly switches: ReadonlySet<string>;
}

/**
 * The options a registry may pass to each launcher: they only choose which package runs and with what.
 * npx's options are npm's whole configuration (`--call` runs a shell command, `--registry` and
 * `--userconfig` change where packages come from, `--node-options` what node loads); uvx's include
 * index URLs and constraint files. None of that is the publisher's to set in someone else's cluster.
 */
const LAUNCHER_OPTIONS: Readonly<Record<string, LauncherOptions>> = {
  npx: {
    valued: { '--package': npmSpec, '-p': npmSpec },
    switches: new Set(['-y', '--yes', '-q', '--quiet']),
  },
  uvx: {
    valued: { '--from': pypiSpec, '--with': pypiSpec, '-w': pypiSpec, '--python': pythonVersion, '-p': pythonVersion },
    switches: new Set(['-q', '--quiet', '--isolated']),
  },
};

/**
 * Problems with the launcher options of `runtimeArguments` (positional ones are reported by mapping
 * itself). Each argument is rendered alone, so a refusal names its field.
 */
export function launcherArgumentProblems(server: ServerJson, pkg: Package, tool: string, args: readonly Argument[]): MappingProblem[] {
  const allowed = LAUNCHER_OPTIONS[tool];
  if (!allowed) return [];
  const field = packageField(server, pkg);
  const problems: MappingProblem[] = [];
  const names = [...Object.keys(allowed.valued), ...allowed.switches].join(', ');
  args.forEach((arg, i) => {
    if (arg.type !== 'named') return;
    const where = `${server.name}@${server.version}: ${pkg.registryType} package ${pkg.identifier}: ${field}.runtimeArguments[${i}]`;
    const refuse = (why: string) => problems.push({ path: 'spec.command', message: `${where} ${why}; set spec.command yourself to run it anyway` });
    const eq = arg.name.indexOf('=');
    const flag = eq < 0 ? arg.name : arg.name.slice(0, eq);
    const tokens = renderArguments([arg], { where: 'runtimeArguments', path: 'spec.command' }).tokens;
    const inlineValue = eq < 0 ? undefined : arg.name.slice(eq + 1);
    const check = allowed.valued[flag];
    if (check) {
      const value = inlineValue ?? tokens[1];
      if (value === undefined) return; // no value yet: mapping reports what is missing
      const problem = check(value);
      if (problem) refuse(`${flag} ${JSON.stringify(value)} ${problem}`);
      return;
    }
    if (allowed.switches.has(flag) && inlineValue === undefined && tokens.length <= 1) return;
    refuse(`${JSON.stringify(tokens.join(' ') || arg.name)} is not a ${tool} option mcp-operator takes from a registry (it takes ${names})`);
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Environment

/**
 * Variables that change what a process loads or runs before the server's own code does: the dynamic
 * loader, language runtimes, package managers (whose configuration is all environment: npm reads every
 * `npm_config_*`, pip every `PIP_*`, uv every `UV_*`), shells, and the basic process environment.
 */
const DENIED_EXACT = new Set([
  'PATH', 'HOME', 'SHELL', 'ENV', 'BASH_ENV', 'ZDOTDIR', 'IFS', 'CDPATH', 'PS4', 'PROMPT_COMMAND', 'TMPDIR', 'USER', 'LOGNAME',
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_REPL_EXTERNAL_MODULE', 'NODE_V8_COVERAGE', 'NODE_ICU_DATA', 'NODE_PENDING_DEPRECATION', 'NODE_REDIRECT_WARNINGS',
  'NPX_CACHE', 'COREPACK_HOME', 'COREPACK_NPM_REGISTRY',
  'VIRTUAL_ENV', 'CONDA_PREFIX',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_CONFIG_GLOBAL',
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy',
  'PERL5LIB', 'PERL5OPT', 'PERLLIB', 'RUBYOPT', 'RUBYLIB', 'GEM_HOME', 'GEM_PATH', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
  'GCONV_PATH', 'LOCPATH', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'MALLOC_CHECK_', 'GLIBC_TUNABLES',
]);

const DENIED_PREFIXES: readonly { readonly prefix: string; readonly what: string; readonly caseInsensitive?: boolean }[] = [
  { prefix: 'LD_', what: 'the dynamic loader' },
  { prefix: 'DYLD_', what: 'the dynamic loader' },
  { prefix: 'NPM_CONFIG_', what: 'npm (npx) configuration', caseInsensitive: true },
  { prefix: 'YARN_', what: 'the yarn package manager' },
  { prefix: 'PNPM_', what: 'the pnpm package manager' },
  { prefix: 'PIP_', what: 'pip configuration' },
  { prefix: 'UV_', what: 'uv (uvx) configuration' },
  { prefix: 'PYTHON', what: 'the Python interpreter' },
  { prefix: 'PIPX_', what: 'pipx configuration' },
  { prefix: 'CONDA_', what: 'conda configuration' },
  { prefix: 'BASH_FUNC_', what: 'bash (exported functions)' },
  { prefix: 'GIT_CONFIG', what: 'git configuration' },
];

/** Why the registry may not set `name`, or undefined when it may. */
export function deniedEnvReason(name: string): string | undefined {
  if (DENIED_EXACT.has(name)) return `${name} changes how the container's processes start or where they fetch code from`;
  const upper = name.toUpperCase();
  for (const { prefix, what, caseInsensitive } of DENIED_PREFIXES) {
    if ((caseInsensitive ? upper : name).startsWith(prefix)) return `${prefix}* variables configure ${what}`;
  }
  return undefined;
}

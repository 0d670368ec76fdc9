/**
 * The server.json input model (arguments, environment variables, `{var}` templates) turned into command
 * line tokens and environment entries, with every value the user still owes reported as a problem.
 */
import { MappingProblem } from './errors';
import { Argument, Input, KeyValueInput, NamedArgument } from './types';
import { ENV_NAME, EnvVar } from '../spec/k8s';

const PLACEHOLDER = /\{([^{}]+)\}/g;
const ENV_NAME_RE = new RegExp(ENV_NAME);

export interface Substitution {
  /** Undefined when a variable had no value. */
  readonly value?: string;
  readonly missingRequired: readonly string[];
  readonly missingOptional: readonly string[];
  readonly secret: boolean;
}

/**
 * Replaces `{name}` from `bindings` first, then from `variables` (their `value`, else `default`). As the
 * schema says, a placeholder naming no variable stays as written.
 */
export function substitute(template: string, variables?: Readonly<Record<string, Input>>, bindings?: ReadonlyMap<string, string>): Substitution {
  const missingRequired: string[] = [];
  const missingOptional: string[] = [];
  let secret = false;
  const value = template.replace(PLACEHOLDER, (whole, name: string) => {
    const bound = bindings?.get(name);
    if (bound !== undefined) return bound;
    const variable = variables?.[name];
    if (!variable) return whole;
    secret ||= variable.isSecret === true;
    const v = variable.value ?? variable.default;
    if (v === undefined) (variable.isRequired ? missingRequired : missingOptional).push(name);
    return v ?? whole;
  });
  const complete = missingRequired.length === 0 && missingOptional.length === 0;
  return { value: complete ? value : undefined, missingRequired, missingOptional, secret };
}

export interface RenderedArguments {
  readonly tokens: string[];
  /** Argument names and value hints with the value they got, for `{--port}`-style URL templates. */
  readonly bindings: Map<string, string>;
  readonly problems: MappingProblem[];
  readonly warnings: string[];
}

export interface RenderOptions {
  /** `packageArguments` or `runtimeArguments`, for messages. */
  readonly where: string;
  /** The spec field the user sets to supply what is missing. */
  readonly path: string;
  /** Values that win over the document's, keyed by argument name or value hint (e.g. `--port`). */
  readonly overrides?: ReadonlyMap<string, string>;
}

/**
 * Named arguments become two tokens (`--flag`, `value`), which is what `docker run -e K=V`, `uvx -p 3.13`
 * and most CLIs expect. A named argument that has no value, no default and nothing that asks for one
 * (no format, choices, hint or variables, not required) is a switch such as `--rm` and is passed alone;
 * an optional valued argument without a value is left out.
 */
export function renderArguments(args: readonly Argument[] | undefined, options: RenderOptions): RenderedArguments {
  const out: RenderedArguments = { tokens: [], bindings: new Map(), problems: [], warnings: [] };
  const sketch: string[] = [];
  const missing: string[] = [];
  (args ?? []).forEach((arg, i) => {
    const label = argumentLabel(arg, `${options.where}[${i}]`);
    const r = argumentValue(arg, options.overrides);
    if (r.missingRequired.length > 0 || (r.value === undefined && r.missingOptional.length === 0 && arg.isRequired)) {
      const vars = r.missingRequired.length > 0 ? ` (variables ${r.missingRequired.map((n) => `{${n}}`).join(', ')})` : '';
      missing.push(`${label} needs a value${vars}${describe(arg)}`);
      sketch.push(...(arg.type === 'named' ? [arg.name] : []), `<${arg.type === 'named' ? arg.name.replace(/^-+/, '') : arg.valueHint ?? 'value'}>`);
      return;
    }
    if (r.value === undefined) {
      if (r.missingOptional.length === 0 && arg.type === 'named' && isSwitch(arg)) {
        out.tokens.push(arg.name);
        sketch.push(arg.name);
      }
      return;
    }
    if (arg.choices?.length && !arg.choices.includes(r.value)) {
      out.problems.push({ path: options.path, message: `${label}: ${JSON.stringify(r.value)} is not one of ${arg.choices.join(', ')}` });
    }
    if (r.fromDefault && arg.isRequired) {
      out.warnings.push(`${label} uses the publisher's default ${JSON.stringify(r.value)}; set ${options.path} if that does not fit a container`);
    }
    const tokens = arg.type === 'named' ? [arg.name, r.value] : [r.value];
    out.tokens.push(...tokens);
    sketch.push(...tokens);
    const key = arg.type === 'named' ? arg.name : arg.valueHint;
    if (key) out.bindings.set(key, r.value);
  });
  for (const m of missing) {
    out.problems.push({ path: options.path, message: `${m}; set ${options.path} to the complete list, e.g. ${JSON.stringify(sketch)}`, suggestion: sketch });
  }
  return out;
}

interface ArgumentValue extends Substitution {
  readonly fromDefault?: boolean;
}

function argumentValue(arg: Argument, overrides?: ReadonlyMap<string, string>): ArgumentValue {
  const key = arg.type === 'named' ? arg.name : arg.valueHint;
  const override = key !== undefined ? overrides?.get(key) : undefined;
  if (override !== undefined) return { value: override, missingRequired: [], missingOptional: [], secret: false };
  if (arg.value !== undefined) return substitute(arg.value, arg.variables);
  if (arg.default !== undefined) return { ...substitute(arg.default, arg.variables), fromDefault: true };
  return { missingRequired: [], missingOptional: [], secret: false };
}

function isSwitch(arg: Argument): boolean {
  return arg.type === 'named' && arg.format === undefined && !arg.choices?.length && !arg.variables && !arg.isSecret && !arg.isRequired
    && arg.value === undefined && arg.default === undefined;
}

function argumentLabel(arg: Argument, where: string): string {
  if (arg.type === 'named') return `${where} ${arg.name}`;
  return arg.valueHint ? `${where} <${arg.valueHint}>` : where;
}

function describe(input: Input): string {
  return input.description ? ` (${input.description.trim()})` : '';
}

/** What the container's environment must or may hold, from whichever part of server.json declared it. */
export interface EnvRequirement {
  readonly name: string;
  readonly description?: string;
  readonly isRequired: boolean;
  readonly isSecret: boolean;
  /** Fixed by the publisher. */
  readonly value?: string;
  readonly default?: string;
  readonly choices?: readonly string[];
  readonly format?: string;
  /** Where server.json declares it (`environmentVariables[2]`, `runtimeArguments[4]`), for messages. */
  readonly source?: string;
}

export function envRequirement(input: KeyValueInput): EnvRequirement {
  const fixed = input.value !== undefined ? substitute(input.value, input.variables) : undefined;
  return {
    name: input.name,
    description: input.description,
    isRequired: input.isRequired === true || (fixed?.missingRequired.length ?? 0) > 0,
    isSecret: input.isSecret === true || fixed?.secret === true,
    value: fixed?.value,
    default: input.default,
    choices: input.choices,
    format: input.format,
  };
}

/**
 * `docker run -e KEY=VALUE`: the variable behind `{var}` describes the env var (required, secret,
 * default, choices), exactly as an `environmentVariables` entry would. `-e KEY` alone forwards the
 * host's value, which in a pod means the user provides it.
 */
export function envFromDockerFlag(arg: NamedArgument): EnvRequirement | undefined {
  const raw = arg.value ?? arg.default;
  if (raw === undefined) return undefined;
  const eq = raw.indexOf('=');
  const name = eq < 0 ? raw : raw.slice(0, eq);
  if (!ENV_NAME_RE.test(name)) return undefined;
  if (eq < 0) return { name, description: arg.description, isRequired: arg.isRequired === true, isSecret: arg.isSecret === true };
  const template = raw.slice(eq + 1);
  const whole = /^\{([^{}]+)\}$/.exec(template)?.[1];
  const variable = whole !== undefined ? arg.variables?.[whole] : undefined;
  if (variable) {
    return {
      name,
      description: variable.description ?? arg.description,
      isRequired: variable.isRequired === true || arg.isRequired === true,
      isSecret: variable.isSecret === true || arg.isSecret === true,
      value: variable.value,
      default: variable.default,
      choices: variable.choices,
      format: variable.format,
    };
  }
  const s = substitute(template, arg.variables);
  return {
    name,
    description: arg.description,
    isRequired: arg.isRequired === true || s.missingRequired.length > 0,
    isSecret: arg.isSecret === true || s.secret,
    default: s.value,
  };
}

/** One requirement per name; a name declared twice (as `-e` and as an env var) keeps the stricter rules. */
export function mergeRequirements(list: readonly EnvRequirement[]): EnvRequirement[] {
  const byName = new Map<string, EnvRequirement>();
  for (const r of list) {
    const prev = byName.get(r.name);
    byName.set(r.name, !prev ? r : {
      name: r.name,
      description: prev.description ?? r.description,
      isRequired: prev.isRequired || r.isRequired,
      isSecret: prev.isSecret || r.isSecret,
      value: r.value ?? prev.value,
      default: r.default ?? prev.default,
      choices: prev.choices?.length ? prev.choices : r.choices,
      format: prev.format ?? r.format,
      source: prev.source ?? r.source,
    });
  }
  return [...byName.values()];
}

/** Names whose value the registry may not set; see ./policy.ts. */
export interface RegistryEnvPolicy {
  /** Why the registry may not set this name, or undefined. */
  readonly denied: (name: string) => string | undefined;
  /** The server, package and field a requirement comes from. */
  readonly describe: (req: EnvRequirement) => string;
}

export interface ResolvedEnv {
  readonly env: EnvVar[];
  /** Name → where the registry's value came from, for each entry whose value the registry set. */
  readonly origins: Map<string, string>;
  readonly problems: MappingProblem[];
  readonly warnings: string[];
}

/**
 * The user's `spec.env` entries win by name, but a registry secret must come from a Secret: a plain
 * value for it is refused, never deployed. Defaults fill the rest (not for secrets: a publisher's
 * default credential is no credential). Required ones that nobody supplies are problems, unless
 * `envFrom` may carry them (we cannot see inside it).
 */
export function resolveEnv(
  requirements: readonly EnvRequirement[],
  base: readonly EnvVar[],
  user: readonly EnvVar[] | undefined,
  hasEnvFrom: boolean,
  policy?: RegistryEnvPolicy,
): ResolvedEnv {
  const out: ResolvedEnv = { env: [], origins: new Map(), problems: [], warnings: [] };
  const userIndex = new Map((user ?? []).map((e, i) => [e.name, i]));
  const taken = new Set<string>();
  const push = (entry: EnvVar, origin?: string) => {
    if (taken.has(entry.name)) return;
    taken.add(entry.name);
    const i = userIndex.get(entry.name);
    out.env.push(i !== undefined ? user![i]! : entry);
    if (origin !== undefined && i === undefined) out.origins.set(entry.name, origin);
  };
  const from = (req: EnvRequirement) => policy?.describe(req) ?? req.source ?? 'server.json';
  for (const e of base) push(e);
  for (const req of requirements) {
    const i = userIndex.get(req.name);
    const denied = i === undefined ? policy?.denied(req.name) : undefined;
    if (i !== undefined) {
      out.problems.push(...checkUserEnv(req, user![i]!, `spec.env[${i}]`));
      push(user![i]!);
    } else if (denied && (req.value !== undefined || (req.default !== undefined && !req.isSecret))) {
      // Fixed or default, the publisher's value would reach the pod; only the user may choose one.
      const given = req.value ?? req.default!;
      out.problems.push({ path: 'spec.env', message: `${policy!.describe(req)} sets ${req.name}=${JSON.stringify(given)}, which a registry may not set: ${denied}; add ${req.name} to spec.env yourself if you mean it` });
    } else if (req.value !== undefined) {
      push({ name: req.name, value: req.value }, `the registry's fixed value, from ${from(req)}`);
    } else if (req.default !== undefined && !req.isSecret) {
      push({ name: req.name, value: req.default }, `the registry's default, from ${from(req)}`);
    } else if (req.isRequired) {
      const how = req.isSecret ? ' with valueFrom.secretKeyRef' : '';
      if (hasEnvFrom) out.warnings.push(`required environment variable ${req.name} is not in spec.env; assuming spec.envFrom provides it`);
      else out.problems.push({ path: 'spec.env', message: `missing required environment variable ${req.name}${describe(req)}: add it to spec.env${how}` });
    }
  }
  for (const e of user ?? []) push(e);
  return out;
}

function checkUserEnv(req: EnvRequirement, entry: EnvVar, path: string): MappingProblem[] {
  if (req.isSecret) {
    if (entry.valueFrom?.secretKeyRef) return [];
    const got = entry.value !== undefined ? 'a plain value' : entry.valueFrom ? `valueFrom.${Object.keys(entry.valueFrom)[0]}` : 'no value';
    return [{ path, message: `${req.name} is a secret (the registry marks it isSecret): take it from valueFrom.secretKeyRef, not ${got}` }];
  }
  const value = entry.value;
  if (value === undefined) return [];
  if (req.choices?.length && !req.choices.includes(value)) {
    return [{ path: `${path}.value`, message: `${req.name} must be one of ${req.choices.join(', ')} (got ${JSON.stringify(value)})` }];
  }
  if (req.format === 'number' && (value.trim() === '' || !Number.isFinite(Number(value)))) {
    return [{ path: `${path}.value`, message: `${req.name} must be a number (got ${JSON.stringify(value)})` }];
  }
  if (req.format === 'boolean' && value !== 'true' && value !== 'false') {
    return [{ path: `${path}.value`, message: `${req.name} must be true or false (got ${JSON.stringify(value)})` }];
  }
  return [];
}

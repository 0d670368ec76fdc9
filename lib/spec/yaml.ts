/**
 * Reads user YAML the way kubectl does, or refuses it.
 *
 * kubectl decodes manifests with sigs.k8s.io/yaml, i.e. go-yaml v2: YAML 1.1 scalar resolution
 * (`010` is octal 8, `on`/`yes`/`y` are booleans, `1_000` is 1000), merge keys applied in source order,
 * non-string keys turned into strings, `.inf` refused when converting to JSON, and documents split on
 * `---` lines before any YAML is parsed. js-yaml reads YAML 1.2. Where the two readings of a plain
 * scalar disagree we refuse it and name both readings, so a value never means one thing to `synth`
 * and another to `kubectl apply`. Every behaviour below was checked against kubectl 1.35
 * (`kubectl create --dry-run=client -o json`); test/hostile/yaml.test.ts keeps the table.
 *
 * Aliases are bounded: js-yaml shares anchored nodes by reference, so parsing a "billion laughs"
 * file is cheap, but every later walk (validation, synthesis, dumping) expands it. The expanded size
 * is computed on the shared graph first and an excess is refused before anything walks the tree.
 */
import { randomBytes } from 'crypto';
import * as yaml from 'js-yaml';
import type { Problem } from './validate';

/** Bounds on one input. Generous for any real MCPServer file; small enough to fail fast on abuse. */
export const YAML_LIMITS = {
  /** Bytes per input file (the API server itself refuses requests above 3 MiB). */
  maxBytes: 8 * 1024 * 1024,
  /** Nesting depth of collections (an MCPServer needs about 10). */
  maxDepth: 64,
  /** Nodes aliases may add beyond the ones written (kubectl refuses "excessive aliasing"). */
  maxAliasExpansion: 100_000,
} as const;

export interface LoadedDocument {
  /** 0-based index among the file's `---`-separated documents, as kubectl counts them. */
  readonly index: number;
  readonly value: unknown;
}

export interface LoadResult {
  readonly documents: LoadedDocument[];
  /** Number of `---`-separated pieces (empty ones included), for "document N" in messages. */
  readonly count: number;
  readonly problems: Problem[];
}

type Reading =
  | { readonly ok: true; readonly value: null | boolean | number | string }
  /** `kubectlReadsIt`: kubectl has a value, but we cannot carry it unchanged. */
  | { readonly ok: false; readonly error: string; readonly kubectlReadsIt?: boolean };
type ExplicitTag = 'int' | 'float' | 'bool' | 'null';

/** A non-string plain scalar (or explicitly tagged one), resolved both ways and judged after parsing. */
class ResolvedScalar {
  public readonly [Symbol.toStringTag] = 'ResolvedScalar';
  constructor(
    public readonly marker: string,
    public readonly text: string,
    public readonly tag: ExplicitTag | undefined,
    public readonly kube: Reading,
    public readonly yaml12: Reading,
  ) {}

  /** js-yaml turns mapping keys into strings with String(): the marker lets us find the scalar again. */
  public toString(): string {
    return this.marker;
  }
}

/** A plain `<<` key: a merge for both readings, but go-yaml v2 applies it in source order. */
const MERGE = '<<';

/** Per-parse state: js-yaml's type callbacks have no context argument, and parsing is synchronous. */
interface Session {
  readonly nonce: string;
  readonly scalars: ResolvedScalar[];
}
let session: Session | undefined;

function record(text: string, tag: ExplicitTag | undefined, kube: Reading, yaml12: Reading): ResolvedScalar {
  if (!session) throw new Error('YAML scalar resolved outside loadKubeYaml');
  const scalar = new ResolvedScalar(`\u0000${session.nonce}:${session.scalars.length}\u0000`, text, tag, kube, yaml12);
  session.scalars.push(scalar);
  return scalar;
}

// ---- go-yaml v2 resolution (gopkg.in/yaml.v2 resolve.go, as vendored by sigs.k8s.io/yaml) ----

const RESOLVE_MAP: ReadonlyMap<string, null | boolean | number> = new Map<string, null | boolean | number>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((k) => [k, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((k) => [k, false] as const),
  ...['', '~', 'null', 'Null', 'NULL'].map((k) => [k, null] as const),
  ...['.nan', '.NaN', '.NAN'].map((k) => [k, NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((k) => [k, Infinity] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((k) => [k, -Infinity] as const),
]);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

type GoTag = 'str' | ExplicitTag;

/** strconv.ParseInt/ParseUint with base 0: sign, then 0x/0o/0b prefix, a leading 0 (octal) or decimal. */
function goParseInteger(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  let digits = m[2]!;
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const magnitude = BigInt(digits.replace(/^0[oO]/, '0o').replace(/^0[xX]/, '0x').replace(/^0[bB]/, '0b'));
  const value = m[1] === '-' ? -magnitude : magnitude;
  if (value < INT64_MIN || value > UINT64_MAX) return undefined;
  // ParseUint takes no sign, so +x above int64 fails both ways.
  if (value > 2n ** 63n - 1n && m[1] !== '') return undefined;
  return value;
}

function goResolve(text: string): { tag: GoTag; value: null | boolean | number | bigint | string } {
  const first = text === '' ? 'N' : text[0]!;
  const hint = /[-+]/.test(first) ? 'S' : /[0-9]/.test(first) ? 'D' : /[yYnNtTfFoO~]/.test(first) ? 'M' : first === '.' ? '.' : undefined;
  if (hint !== undefined) {
    if (RESOLVE_MAP.has(text)) {
      const value = RESOLVE_MAP.get(text)!;
      return { tag: value === null ? 'null' : typeof value === 'boolean' ? 'bool' : 'float', value };
    }
    if (hint === '.' && /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text) && Number.isFinite(Number(text))) return { tag: 'float', value: Number(text) };
    if (hint === 'D' || hint === 'S') {
      const plain = text.replace(/_/g, '');
      const integer = goParseInteger(plain);
      if (integer !== undefined) return { tag: 'int', value: integer };
      // strconv.ParseFloat fails on overflow, and go-yaml then keeps the text as a string.
      if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain))) return { tag: 'float', value: Number(plain) };
    }
  }
  return { tag: 'str', value: text };
}

/** What kubectl sends for a scalar: go-yaml's value after sigs.k8s.io/yaml's conversion to JSON. */
function kubeReading(text: string, explicit: ExplicitTag | undefined): Reading {
  let { tag, value } = goResolve(text);
  if (explicit !== undefined && tag !== explicit) {
    if (explicit === 'float' && tag === 'int') {
      tag = 'float';
      value = Number(value);
    } else {
      return { ok: false, error: `cannot decode !!${tag} \`${text}\` as a !!${explicit}` };
    }
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return { ok: false, error: `JSON has no ${value} (kubectl: "json: unsupported value")` };
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) return { ok: false, error: `the integer ${value} is beyond 2^53 and cannot be carried exactly; quote it if it is meant as text`, kubectlReadsIt: true };
    return { ok: true, value: n };
  }
  return { ok: true, value };
}

// ---- YAML 1.2 core schema resolution, as js-yaml reads it ----

// js-yaml exports its core types at run time; @types/js-yaml does not declare them.
const CORE = (yaml as unknown as { types: Record<ExplicitTag, yaml.Type> }).types;
const CORE_IMPLICIT = [CORE.null, CORE.bool, CORE.int, CORE.float];
const CORE_TYPE: Record<ExplicitTag, yaml.Type> = CORE;

function yaml12Reading(text: string, explicit: ExplicitTag | undefined): Reading {
  const candidates = explicit ? [CORE_TYPE[explicit]] : CORE_IMPLICIT;
  for (const type of candidates) {
    if (type.resolve(text)) return { ok: true, value: type.construct(text) as null | boolean | number };
  }
  return explicit ? { ok: false, error: `not a !!${explicit}` } : { ok: true, value: text };
}

function isPlainString(r: Reading, text: string): boolean {
  return r.ok && r.value === text;
}

const implicitScalar = new yaml.Type('tag:mcp-operator/kube-scalar', {
  kind: 'scalar',
  resolve: (text: unknown) => typeof text === 'string' && (text === MERGE || !isPlainString(kubeReading(text, undefined), text) || !isPlainString(yaml12Reading(text, undefined), text)),
  construct: (text: string) => record(text, undefined, kubeReading(text, undefined), yaml12Reading(text, undefined)),
});

const explicitScalar = (tag: ExplicitTag) => new yaml.Type(`tag:yaml.org,2002:${tag}`, {
  kind: 'scalar',
  resolve: (text: unknown) => typeof text === 'string' || text === null,
  construct: (text: string | null) => record(text ?? '', tag, kubeReading(text ?? '', tag), yaml12Reading(text ?? '', tag)),
});

/**
 * Strings, sequences and mappings as written, every other plain scalar resolved both ways; `!!int`,
 * `!!float`, `!!bool`, `!!null` and `!!str` as explicit tags. Other tags (`!!binary`, `!!timestamp`,
 * `!!set`, local `!foo` tags) are refused: go-yaml reads them in ways no MCPServer field wants.
 */
const KUBE_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [implicitScalar],
  explicit: [explicitScalar('int'), explicitScalar('float'), explicitScalar('bool'), explicitScalar('null')],
});

// ---- documents ----

interface Piece {
  readonly text: string;
  /** 0-based line of the piece's first line in the file. */
  readonly line: number;
}

/** kubectl's YAMLReader: a line starting with `---` ends a document; only a comment may follow it. */
function splitDocuments(text: string, file: string, problems: Problem[]): Piece[] {
  const lines = text.split(/(?<=\n)/);
  const pieces: Piece[] = [];
  let current: string[] = [];
  let start = 0;
  lines.forEach((line, i) => {
    if (line.startsWith('---')) {
      const rest = line.slice(3).trim();
      if (rest !== '' && !rest.startsWith('#')) {
        problems.push({ origin: { file, index: pieces.length }, line: i + 1, column: 4, message: `kubectl allows only a comment after a --- document separator (got ${JSON.stringify(rest.slice(0, 40))}); put the content on the next line` });
      }
      if (current.length > 0) pieces.push({ text: current.join(''), line: start });
      current = [];
      start = i + 1;
      return;
    }
    if (line.startsWith('%') && current.every((l) => /^\s*(#.*)?$/.test(l))) {
      problems.push({ origin: { file, index: pieces.length }, line: i + 1, column: 1, message: 'kubectl does not accept %YAML or %TAG directives ("found incompatible YAML document"); remove the line' });
    }
    current.push(line);
  });
  if (current.length > 0) pieces.push({ text: current.join(''), line: start });
  return pieces;
}

class LoadError extends Error {
  constructor(message: string, public readonly line?: number, public readonly column?: number) {
    super(message);
  }
}

/**
 * Parses a file's text as kubectl would and returns its non-empty documents with plain JSON values
 * (own properties only, so `__proto__` or `constructor` are ordinary keys), or the problems found.
 */
export function loadKubeYaml(text: string, file: string, limits = YAML_LIMITS): LoadResult {
  const problems: Problem[] = [];
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    return { documents: [], count: 0, problems: [{ origin: { file, index: 0 }, message: `is larger than ${limits.maxBytes} bytes` }] };
  }
  // kubectl decodes a stream whose first character is `{` as JSON, not YAML.
  if (text.trimStart().startsWith('{')) return loadJson(text, file, limits);
  const pieces = splitDocuments(text, file, problems);
  const multi = pieces.length > 1;
  const documents: LoadedDocument[] = [];
  pieces.forEach((piece, index) => {
    const origin = { file, index, multi };
    const local: Problem[] = [];
    const value = loadPiece(piece, origin, limits, local);
    problems.push(...local);
    if (local.length === 0 && value !== null && value !== undefined) documents.push({ index, value });
  });
  // All or nothing: a file with any problem yields no documents.
  return { documents: problems.length > 0 ? [] : documents, count: pieces.length, problems };
}

function loadPiece(piece: Piece, origin: Problem['origin'], limits: typeof YAML_LIMITS, problems: Problem[]): unknown {
  session = { nonce: randomBytes(6).toString('hex'), scalars: [] };
  try {
    let raw: unknown;
    try {
      // maxDepth is a js-yaml 4.2+ option @types/js-yaml does not know yet.
      const options = { schema: KUBE_SCHEMA, maxDepth: limits.maxDepth, listener: collectionKeyGuard } as yaml.LoadOptions;
      raw = yaml.load(piece.text, options);
    } catch (err) {
      if (err instanceof LoadError) {
        const line = err.line !== undefined ? piece.line + err.line + 1 : undefined;
        problems.push({ origin, message: err.message, line, column: err.column !== undefined ? err.column + 1 : undefined });
        return undefined;
      }
      const e = err as yaml.YAMLException;
      const mark = e.mark as { line?: number; column?: number } | undefined;
      problems.push({
        origin,
        message: `malformed YAML: ${e.reason ?? e.message}`,
        line: mark?.line !== undefined ? piece.line + mark.line + 1 : undefined,
        column: mark?.column !== undefined ? mark.column + 1 : undefined,
      });
      return undefined;
    }
    return new Materializer(session, origin, limits, problems).run(raw);
  } finally {
    session = undefined;
  }
}

/**
 * js-yaml listener: refuses directives, and a list or map used as a mapping key (js-yaml turns
 * `[a]: 1` into the key "a"; kubectl fails with "invalid map key").
 */
function collectionKeyGuard(event: string, state: any): void {
  if (event === 'open' && (state.version !== null && state.version !== undefined || Object.keys(state.tagMap ?? {}).length > 0)) {
    throw new LoadError('%YAML and %TAG directives are not accepted by kubectl ("found incompatible YAML document"); remove them', state.line, 0);
  }
  if (event !== 'close') return;
  const result = state.result;
  if (typeof result !== 'object' || result === null || result instanceof ResolvedScalar) return;
  const input: string = state.input;
  let i: number = state.position;
  while (i < input.length) {
    const ch = input[i];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') i++;
    else if (ch === '#') while (i < input.length && input[i] !== '\n') i++;
    else break;
  }
  if (input[i] === ':') throw new LoadError('a list or map cannot be a mapping key (kubectl: "invalid map key")', state.line, state.position - state.lineStart);
}

const SHARED_REFERENCE = Symbol('shared');

/** Turns js-yaml's output (shared anchors, scalar markers, merge keys) into plain JSON values. */
class Materializer {
  private readonly scalars = new Map<string, ResolvedScalar>();
  private readonly sizes = new Map<object, number>();
  private readonly done = new Map<object, unknown>();
  private readonly active = new Set<object>();
  /** Nodes as written: each collection once, plus its scalar children. */
  private written = 1;

  constructor(
    s: Session,
    private readonly origin: Problem['origin'],
    private readonly limits: typeof YAML_LIMITS,
    private readonly problems: Problem[],
  ) {
    for (const scalar of s.scalars) this.scalars.set(scalar.marker, scalar);
  }

  public run(raw: unknown): unknown {
    const cap = this.limits.maxAliasExpansion * 4 + 1_000_000;
    const expanded = this.size(raw, cap);
    if (expanded === SHARED_REFERENCE) {
      this.problem('', 'an anchor refers to itself (kubectl: "anchor value contains itself")');
      return undefined;
    }
    const written = this.written;
    if (expanded - written > this.limits.maxAliasExpansion) {
      this.problem('', `excessive aliasing: aliases expand the document to ${expanded >= cap ? `more than ${cap}` : expanded} nodes, at most ${this.limits.maxAliasExpansion} more than the ${written} written (kubectl refuses such documents too: "document contains excessive aliasing")`);
      return undefined;
    }
    return this.value(raw, '');
  }

  /** Expanded node count on the shared graph, memoized per node, saturating at `cap`. */
  private size(node: unknown, cap: number): number | typeof SHARED_REFERENCE {
    if (typeof node !== 'object' || node === null || node instanceof ResolvedScalar) return 1;
    const known = this.sizes.get(node);
    if (known !== undefined) return known;
    if (this.active.has(node)) return SHARED_REFERENCE;
    this.active.add(node);
    let total = 1;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child !== 'object' || child === null || child instanceof ResolvedScalar) this.written++;
      else if (!this.sizes.has(child)) this.written++;
      const n = this.size(child, cap);
      if (n === SHARED_REFERENCE) return n;
      total = Math.min(cap, total + n);
    }
    this.active.delete(node);
    this.sizes.set(node, total);
    return total;
  }

  private problem(path: string, message: string): void {
    this.problems.push({ origin: this.origin, path: path || undefined, message });
  }

  private value(node: unknown, path: string): unknown {
    if (node instanceof ResolvedScalar) return this.scalar(node, path);
    if (typeof node !== 'object' || node === null) return node;
    if (this.done.has(node)) return this.done.get(node);
    let out: unknown;
    if (Array.isArray(node)) out = node.map((item, i) => this.value(item, `${path}[${i}]`));
    else out = this.mapping(node as Record<string, unknown>, path);
    this.done.set(node, out);
    return out;
  }

  private scalar(s: ResolvedScalar, path: string): unknown {
    if (s.text === MERGE && s.tag === undefined) return MERGE;
    const written = s.tag ? `!!${s.tag} ${s.text}` : s.text;
    if (!s.kube.ok) {
      this.problem(path, s.kube.kubectlReadsIt ? `kubectl reads ${written} as an integer, but ${s.kube.error}` : `kubectl cannot read ${written}: ${s.kube.error}`);
      return undefined;
    }
    if (!s.yaml12.ok) {
      this.problem(path, `kubectl reads ${written} as ${JSON.stringify(s.kube.value)}, but YAML 1.2 refuses it (${s.yaml12.error}); write ${JSON.stringify(s.kube.value)}`);
      return undefined;
    }
    if (!sameScalar(s.kube.value, s.yaml12.value)) {
      this.problem(path, `kubectl reads ${written} as ${JSON.stringify(s.kube.value)}, YAML 1.2 as ${describe(s.yaml12.value)}; write ${suggestion(s.kube.value)} or ${JSON.stringify(s.text)}`);
      return undefined;
    }
    return s.kube.value;
  }

  /** The key kubectl ends up with (sigs.k8s.io/yaml stringifies non-string keys), if both readings agree. */
  private key(s: ResolvedScalar, path: string): string | undefined {
    const written = s.tag ? `!!${s.tag} ${s.text}` : s.text;
    if (!s.kube.ok || !s.yaml12.ok) {
      this.problem(path, `key ${written}: ${!s.kube.ok ? `kubectl cannot read it: ${s.kube.error}` : 'YAML 1.2 cannot read it'}; quote the key`);
      return undefined;
    }
    const kube = s.kube.value;
    if (kube === null) {
      this.problem(path, `key ${JSON.stringify(written)} is null, which kubectl refuses ("unsupported map key"); quote the key`);
      return undefined;
    }
    if (typeof kube === 'number' && goYamlTagOf(s) === 'float') {
      this.problem(path, `key ${written} is a float, which kubectl rewrites in its own format; quote the key`);
      return undefined;
    }
    const kubeKey = String(kube);
    const yaml12Key = String(s.yaml12.value);
    if (kubeKey !== yaml12Key) {
      this.problem(path, `kubectl reads the key ${written} as ${JSON.stringify(kubeKey)}, YAML 1.2 as ${JSON.stringify(yaml12Key)}; quote the key`);
      return undefined;
    }
    return kubeKey;
  }

  private mapping(node: Record<string, unknown>, path: string): Record<string, unknown> {
    const explicit = new Map<string, unknown>();
    /** Entries in source order, merges included: go-yaml v2 applies them in this order. */
    const ordered: Array<{ key: string; value: unknown } | { merge: Array<Record<string, unknown>> }> = [];
    const integerLike: string[] = [];
    for (const rawKey of Object.keys(node)) {
      const scalar = this.scalars.get(rawKey);
      const raw = node[rawKey];
      if (scalar && scalar.text === MERGE && scalar.tag === undefined) {
        const sources = this.mergeSources(raw, joinPath(path, MERGE));
        if (sources) ordered.push({ merge: sources });
        continue;
      }
      const key = scalar ? this.key(scalar, joinPath(path, scalar.text)) : rawKey;
      if (key === undefined) continue;
      const childPath = joinPath(path, key);
      if (explicit.has(key)) {
        this.problem(childPath, 'duplicated mapping key (kubectl silently keeps the last one)');
        continue;
      }
      const value = this.value(raw, childPath);
      explicit.set(key, value);
      ordered.push({ key, value });
      if (!scalar && /^(0|[1-9][0-9]*)$/.test(key)) integerLike.push(key);
    }
    const merges = ordered.filter((e): e is { merge: Array<Record<string, unknown>> } => 'merge' in e);
    if (merges.length === 0) return toRecord(explicit);
    // YAML merge as specified: keys written in the mapping win, then earlier merge sources.
    const specified = new Map(explicit);
    for (const { merge } of merges) {
      for (const source of merge) for (const [k, v] of Object.entries(source)) if (!specified.has(k)) specified.set(k, v);
    }
    // go-yaml v2: entries applied in order, a later `<<` overriding keys written before it.
    const applied = new Map<string, unknown>();
    for (const entry of ordered) {
      if ('key' in entry) applied.set(entry.key, entry.value);
      else for (const source of [...entry.merge].reverse()) for (const [k, v] of Object.entries(source)) applied.set(k, v);
    }
    for (const [k, v] of applied) {
      // JS orders integer-like keys first, so their place relative to `<<` is unknown: refuse any overlap.
      const unsure = integerLike.includes(k) && merges.some(({ merge }) => merge.some((m) => Object.hasOwn(m, k)));
      if (unsure || specified.get(k) !== v) {
        this.problem(joinPath(path, k), 'is written before a << merge that also sets it: kubectl (YAML 1.1) takes the merged value, YAML 1.2 the written one; put the << first');
      }
    }
    return toRecord(specified);
  }

  private mergeSources(raw: unknown, path: string): Array<Record<string, unknown>> | undefined {
    const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ResolvedScalar);
    const items = Array.isArray(raw) ? raw : [raw];
    if (!items.every(isMap)) {
      this.problem(path, 'a << merge needs a map or a list of maps (kubectl: "map merge requires map or sequence of maps")');
      return undefined;
    }
    return items.map((item, i) => this.value(item, Array.isArray(raw) ? `${path}[${i}]` : path) as Record<string, unknown>);
  }
}

function goYamlTagOf(s: ResolvedScalar): GoTag {
  return s.tag ?? goResolve(s.text).tag;
}

function sameScalar(a: unknown, b: unknown): boolean {
  return typeof a === typeof b && (a === b || (typeof a === 'number' && Number.isNaN(a) && Number.isNaN(b)));
}

function describe(value: unknown): string {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
}

function suggestion(value: unknown): string {
  return value === null ? 'null' : String(value);
}

function joinPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/** A plain object that holds every key as an own property, `__proto__` included. */
function toRecord(entries: Map<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

function loadJson(text: string, file: string, limits: typeof YAML_LIMITS): LoadResult {
  const origin = { file, index: 0 };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { documents: [], count: 1, problems: [{ origin, message: `malformed JSON: ${(err as Error).message} (kubectl reads a file starting with "{" as JSON)` }] };
  }
  const problems: Problem[] = [];
  const check = (node: unknown, path: string, depth: number): void => {
    if (depth > limits.maxDepth) {
      problems.push({ origin, path: path || undefined, message: `nesting exceeded maxDepth (${limits.maxDepth})` });
      return;
    }
    if (typeof node === 'number' && Number.isInteger(node) && !Number.isSafeInteger(node)) {
      problems.push({ origin, path: path || undefined, message: `the integer ${node} is beyond 2^53 and cannot be carried exactly` });
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => check(item, `${path}[${i}]`, depth + 1));
    } else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) check(v, joinPath(path, k), depth + 1);
    }
  };
  check(value, '', 0);
  return { documents: problems.length === 0 && value !== null ? [{ index: 0, value }] : [], count: 1, problems };
}

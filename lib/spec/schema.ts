/**
 * A small schema language whose every node knows three things at once: its TypeScript type, its
 * structural OpenAPI v3 form for the CRD, and how to check a value at run time. Writing the MCPServer
 * schema once in this language is what keeps the TS types, the CRD and the CLI's validation from
 * drifting apart.
 */

export interface ValidationIssue {
  /** Dotted field path, e.g. `spec.env[0].name`. */
  readonly path: string;
  readonly message: string;
}

export type OpenApiSchema = { [key: string]: unknown };

export interface CelRule {
  readonly rule: string;
  readonly message: string;
  /** Lets the CLI apply the same rule the API server applies; returns true when the value is fine. */
  readonly check: (value: any) => boolean;
  /** Field the error is reported on, relative to the node carrying the rule (e.g. `.value`). */
  readonly fieldPath?: string;
  /**
   * Checked by the CLI and the controller only: the API server refuses a CRD whose rules it estimates
   * too costly (rules inside lists multiply), and this one would push it over. Say why where it is set.
   */
  readonly cliOnly?: boolean;
}

/** The rules that go into the CRD as x-kubernetes-validations. */
function crdRules(rules: readonly CelRule[]): Array<Record<string, string>> {
  return rules.filter((r) => !r.cliOnly).map((r) => ({ rule: r.rule, message: r.message, ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}) }));
}

interface CommonOptions {
  readonly description?: string;
}

export abstract class Schema<T> {
  /** Phantom member that carries the type for `Infer`. */
  declare readonly _type: T;
  protected rules: CelRule[] = [];

  constructor(protected readonly common: CommonOptions = {}) {}

  /** Adds an x-kubernetes-validations rule that the CLI evaluates with the given JS twin. */
  public withRule(rule: CelRule): this {
    this.rules.push(rule);
    return this;
  }

  public openApi(): OpenApiSchema {
    const out: OpenApiSchema = {};
    if (this.common.description) out.description = this.common.description;
    Object.assign(out, this.ownOpenApi());
    const rules = crdRules(this.rules);
    if (rules.length > 0) out['x-kubernetes-validations'] = rules;
    return out;
  }

  /** Checks `value`, records problems in `issues`, and returns it with defaults applied. */
  public parse(value: unknown, path: string, issues: ValidationIssue[]): T | undefined {
    const parsed = this.parseOwn(value, path, issues);
    if (parsed === undefined) return undefined;
    for (const rule of this.rules) {
      if (!rule.check(parsed)) issues.push({ path: path + (rule.fieldPath ?? ''), message: rule.message });
    }
    return parsed;
  }

  /** The value used when the field is absent, if any. */
  public defaultValue(): T | undefined {
    return undefined;
  }

  protected abstract ownOpenApi(): OpenApiSchema;
  protected abstract parseOwn(value: unknown, path: string, issues: ValidationIssue[]): T | undefined;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)}`;
  return `${typeof value} ${String(value)}`;
}

export interface StringOptions<E extends string> extends CommonOptions {
  readonly enum?: readonly E[];
  readonly pattern?: string;
  /** Human wording of the pattern, used in error messages. */
  readonly patternHint?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly default?: E;
  readonly format?: string;
}

export class StringSchema<E extends string = string> extends Schema<E> {
  private readonly regex?: RegExp;
  constructor(private readonly opts: StringOptions<E> = {}) {
    super(opts);
    if (opts.pattern) this.regex = new RegExp(opts.pattern);
  }

  public override defaultValue(): E | undefined {
    return this.opts.default;
  }

  protected ownOpenApi(): OpenApiSchema {
    const o = this.opts;
    return {
      type: 'string',
      ...(o.format ? { format: o.format } : {}),
      ...(o.enum ? { enum: [...o.enum] } : {}),
      ...(o.pattern ? { pattern: o.pattern } : {}),
      ...(o.minLength !== undefined ? { minLength: o.minLength } : {}),
      ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    };
  }

  /**
   * The same checks as a CEL condition over `variable`, for places OpenAPI cannot carry them (map
   * keys). Rules are written over `self` and rebound to the variable.
   */
  public celOver(variable: string): string | undefined {
    const o = this.opts;
    const parts: string[] = [];
    if (o.minLength !== undefined) parts.push(`size(${variable}) >= ${o.minLength}`);
    if (o.maxLength !== undefined) parts.push(`size(${variable}) <= ${o.maxLength}`);
    if (o.pattern) parts.push(`${variable}.matches(${celString(o.pattern)})`);
    if (o.enum) parts.push(`${variable} in [${o.enum.map((e) => celString(e)).join(', ')}]`);
    for (const rule of this.rules) if (!rule.cliOnly) parts.push(`(${rule.rule.replace(/\bself\b/g, variable)})`);
    return parts.length > 0 ? parts.join(' && ') : undefined;
  }

  /** Every problem with `value` as one sentence, or undefined when it is fine (for map keys). */
  public problemsOf(value: string): string | undefined {
    const issues: ValidationIssue[] = [];
    this.parse(value, '', issues);
    return issues.length > 0 ? issues.map((i) => i.message).join('; ') : undefined;
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): E | undefined {
    if (typeof value !== 'string') {
      issues.push({ path, message: `must be a string (got ${describe(value)})` });
      return undefined;
    }
    const o = this.opts;
    if (o.enum && !o.enum.includes(value as E)) {
      issues.push({ path, message: `must be one of ${o.enum.join(', ')} (got ${JSON.stringify(value)})` });
    }
    if (o.minLength !== undefined && value.length < o.minLength) {
      issues.push({ path, message: `must be at least ${o.minLength} characters (got ${value.length})` });
    }
    if (o.maxLength !== undefined && value.length > o.maxLength) {
      issues.push({ path, message: `must be at most ${o.maxLength} characters (got ${value.length})` });
    }
    if (this.regex && !this.regex.test(value)) {
      issues.push({ path, message: `must be ${o.patternHint ?? `a string matching ${o.pattern}`} (got ${JSON.stringify(value)})` });
    }
    return value as E;
  }
}

const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const SAFE_INT64 = [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] as const;

export interface IntegerOptions extends CommonOptions {
  readonly minimum?: number;
  readonly maximum?: number;
  readonly default?: number;
  readonly format?: 'int32' | 'int64';
}

export class IntegerSchema extends Schema<number> {
  constructor(private readonly opts: IntegerOptions = {}) {
    super(opts);
  }

  public override defaultValue(): number | undefined {
    return this.opts.default;
  }

  /**
   * The range the field's Go type can hold: the API server refuses an int32 field above 2^31-1
   * (and a YAML number such as 1e20 is an integer in JS). int64 is narrowed to what a JS number
   * holds exactly, so a value is never rounded on its way through.
   */
  private bounds(): { minimum: number; maximum: number } {
    const o = this.opts;
    const [low, high] = (o.format ?? 'int32') === 'int32' ? INT32 : SAFE_INT64;
    return { minimum: Math.max(low, o.minimum ?? low), maximum: Math.min(high, o.maximum ?? high) };
  }

  protected ownOpenApi(): OpenApiSchema {
    const o = this.opts;
    return {
      type: 'integer',
      format: o.format ?? 'int32',
      ...this.bounds(),
      ...(o.default !== undefined ? { default: o.default } : {}),
    };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      issues.push({ path, message: `must be an integer (got ${describe(value)})` });
      return undefined;
    }
    const { minimum, maximum } = this.bounds();
    const format = this.opts.format ?? 'int32';
    const why = (limit: number, given: number | undefined) => (given === limit ? '' : format === 'int32' ? ' (an int32)' : ' (the largest integer carried exactly)');
    if (value < minimum) issues.push({ path, message: `must be >= ${minimum}${why(minimum, this.opts.minimum)} (got ${value})` });
    if (value > maximum) issues.push({ path, message: `must be <= ${maximum}${why(maximum, this.opts.maximum)} (got ${value})` });
    return value;
  }
}

export class BooleanSchema extends Schema<boolean> {
  constructor(private readonly opts: CommonOptions & { readonly default?: boolean } = {}) {
    super(opts);
  }

  public override defaultValue(): boolean | undefined {
    return this.opts.default;
  }

  protected ownOpenApi(): OpenApiSchema {
    return { type: 'boolean', ...(this.opts.default !== undefined ? { default: this.opts.default } : {}) };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): boolean | undefined {
    if (typeof value !== 'boolean') {
      issues.push({ path, message: `must be a boolean (got ${describe(value)})` });
      return undefined;
    }
    return value;
  }
}

// The same grammar as k8s.io/apimachinery/pkg/api/resource, which the API server uses for the
// pattern of ResourceRequirements in generated CRDs.
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const QUANTITY = new RegExp(QUANTITY_PATTERN);

/** The same grammar without a sign: container resources and ConfigMap-free quantities must be >= 0. */
export const NON_NEGATIVE_QUANTITY_PATTERN = QUANTITY_PATTERN.replace('^(\\+|-)?', '^\\+?');
const NON_NEGATIVE_QUANTITY = new RegExp(NON_NEGATIVE_QUANTITY_PATTERN);

/** A Kubernetes resource.Quantity: an integer or a string such as `500m` or `64Mi`. */
export class QuantitySchema extends Schema<string | number> {
  constructor(private readonly opts: CommonOptions & { readonly nonNegative?: boolean } = {}) {
    super(opts);
  }

  protected ownOpenApi(): OpenApiSchema {
    return {
      'anyOf': [{ type: 'integer' }, { type: 'string' }],
      'pattern': this.opts.nonNegative ? NON_NEGATIVE_QUANTITY_PATTERN : QUANTITY_PATTERN,
      ...(this.opts.nonNegative ? { minimum: 0 } : {}),
      'x-kubernetes-int-or-string': true,
    };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): string | number | undefined {
    const nonNegative = this.opts.nonNegative === true;
    if (typeof value === 'number' && Number.isSafeInteger(value) && !(nonNegative && value < 0)) return value;
    const grammar = nonNegative ? NON_NEGATIVE_QUANTITY : QUANTITY;
    if (typeof value !== 'string' || !grammar.test(value)) {
      const sign = nonNegative ? ' that is not negative' : '';
      issues.push({ path, message: `must be a Kubernetes quantity${sign} such as 500m, 1, 64Mi or 1Gi (got ${describe(value)})` });
      return undefined;
    }
    return value;
  }
}

export class IntOrStringSchema extends Schema<string | number> {
  protected ownOpenApi(): OpenApiSchema {
    return { 'anyOf': [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): string | number | undefined {
    if ((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'string') return value;
    issues.push({ path, message: `must be an integer or a string (got ${describe(value)})` });
    return undefined;
  }
}

export interface ArrayOptions extends CommonOptions {
  readonly maxItems?: number;
  readonly minItems?: number;
  /** `atomic` (default for CRDs), `set`, or `map` with `listMapKeys`. */
  readonly listType?: 'atomic' | 'set' | 'map';
  readonly listMapKeys?: readonly string[];
}

export class ArraySchema<T> extends Schema<T[]> {
  constructor(private readonly items: Schema<T>, private readonly opts: ArrayOptions = {}) {
    super(opts);
  }

  protected ownOpenApi(): OpenApiSchema {
    const o = this.opts;
    return {
      type: 'array',
      items: this.items.openApi(),
      ...(o.minItems !== undefined ? { minItems: o.minItems } : {}),
      ...(o.maxItems !== undefined ? { maxItems: o.maxItems } : {}),
      ...(o.listType ? { 'x-kubernetes-list-type': o.listType } : {}),
      ...(o.listMapKeys ? { 'x-kubernetes-list-map-keys': [...o.listMapKeys] } : {}),
    };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): T[] | undefined {
    if (!Array.isArray(value)) {
      issues.push({ path, message: `must be a list (got ${describe(value)})` });
      return undefined;
    }
    const o = this.opts;
    if (o.maxItems !== undefined && value.length > o.maxItems) {
      issues.push({ path, message: `must have at most ${o.maxItems} items (got ${value.length})` });
    }
    if (o.minItems !== undefined && value.length < o.minItems) {
      issues.push({ path, message: `must have at least ${o.minItems} items (got ${value.length})` });
    }
    const out: T[] = [];
    value.forEach((item, i) => {
      const parsed = this.items.parse(item, `${path}[${i}]`, issues);
      if (parsed !== undefined) out.push(parsed);
    });
    if (o.listType === 'map' && o.listMapKeys) this.checkUniqueKeys(value, path, issues);
    if (o.listType === 'set') this.checkUniqueItems(value, path, issues);
    return out;
  }

  private checkUniqueKeys(value: unknown[], path: string, issues: ValidationIssue[]): void {
    const seen = new Map<string, number>();
    value.forEach((item, i) => {
      if (typeof item !== 'object' || item === null) return;
      const key = JSON.stringify((this.opts.listMapKeys ?? []).map((k) => (item as Record<string, unknown>)[k]));
      const first = seen.get(key);
      if (first !== undefined) issues.push({ path: `${path}[${i}]`, message: `duplicates ${path}[${first}] (same ${this.opts.listMapKeys?.join(', ')})` });
      else seen.set(key, i);
    });
  }

  private checkUniqueItems(value: unknown[], path: string, issues: ValidationIssue[]): void {
    const seen = new Map<string, number>();
    value.forEach((item, i) => {
      const key = JSON.stringify(item);
      const first = seen.get(key);
      if (first !== undefined) issues.push({ path: `${path}[${i}]`, message: `duplicates ${path}[${first}]` });
      else seen.set(key, i);
    });
  }
}

export interface MapOptions extends CommonOptions {
  /** Rules for the keys; they reach the CRD as one `self.all(k, ...)` CEL rule. */
  readonly keys?: StringSchema;
  /** Human wording of the key rules, used in error messages. */
  readonly keyHint?: string;
  /** Bounds the entries (and so the cost the API server estimates for the key rule). */
  readonly maxProperties?: number;
  /** Keep the key rule out of the CRD (CLI and controller only), for maps nested in lists: see CelRule.cliOnly. */
  readonly keysCliOnly?: boolean;
  /**
   * A limit on the bytes of the whole map, as the API server applies to ConfigMap data (values) and
   * to annotations (keys and values). CEL cannot sum a map, so only the CLI and the controller check it.
   */
  readonly maxTotalBytes?: { readonly bytes: number; readonly countKeys: boolean; readonly what: string };
}

export class MapSchema<T> extends Schema<Record<string, T>> {
  constructor(private readonly values: Schema<T>, private readonly opts: MapOptions = {}) {
    super(opts);
  }

  protected ownOpenApi(): OpenApiSchema {
    const keyRule = this.opts.keysCliOnly ? undefined : this.opts.keys?.celOver('k');
    const keyValidation = keyRule ? [{ rule: `self.all(k, ${keyRule})`, message: `every key must be ${this.opts.keyHint ?? 'valid'}` }] : undefined;
    return {
      type: 'object',
      additionalProperties: this.values.openApi(),
      ...(this.opts.maxProperties !== undefined ? { maxProperties: this.opts.maxProperties } : {}),
      ...(keyValidation ? { 'x-kubernetes-validations': keyValidation } : {}),
    };
  }

  public override openApi(): OpenApiSchema {
    const out = super.openApi();
    // The key rule and rules added with withRule share the one x-kubernetes-validations list.
    const own = this.ownOpenApi()['x-kubernetes-validations'] as unknown[] | undefined;
    if (own) out['x-kubernetes-validations'] = [...own, ...crdRules(this.rules)];
    return out;
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): Record<string, T> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path, message: `must be a map (got ${describe(value)})` });
      return undefined;
    }
    const entries = Object.entries(value as Record<string, unknown>);
    if (this.opts.maxProperties !== undefined && entries.length > this.opts.maxProperties) {
      issues.push({ path, message: `must have at most ${this.opts.maxProperties} entries (got ${entries.length})` });
    }
    const out: Record<string, T> = {};
    let bytes = 0;
    for (const [key, item] of entries) {
      const itemPath = `${path}[${JSON.stringify(key)}]`;
      const keyProblem = this.opts.keys?.problemsOf(key);
      if (keyProblem !== undefined) issues.push({ path: itemPath, message: `key must be ${this.opts.keyHint ?? 'valid'}: ${keyProblem}` });
      const parsed = this.values.parse(item, itemPath, issues);
      if (parsed !== undefined) setOwn(out, key, parsed);
      const total = this.opts.maxTotalBytes;
      if (total) bytes += (total.countKeys ? Buffer.byteLength(key) : 0) + (typeof item === 'string' ? Buffer.byteLength(item) : 0);
    }
    const total = this.opts.maxTotalBytes;
    if (total && bytes > total.bytes) issues.push({ path, message: `${total.what} must be at most ${total.bytes} bytes in total (got ${bytes})` });
    return out;
  }
}

/** Sets an own property, even for keys such as `__proto__` that plain assignment would not create. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function celString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

type Props = Record<string, Schema<any>>;

/** The parsed object: required fields present, optional ones may be absent. */
export type ObjectOf<P extends Props, R extends keyof P> = { -readonly [K in R]: Infer<P[K]> } & {
  -readonly [K in Exclude<keyof P, R>]?: Infer<P[K]>;
};

export interface ObjectOptions<R> extends CommonOptions {
  readonly required?: readonly R[];
}

export class ObjectSchema<P extends Props, R extends keyof P = never> extends Schema<ObjectOf<P, R>> {
  constructor(public readonly props: P, private readonly opts: ObjectOptions<R> = {}) {
    super(opts);
  }

  protected ownOpenApi(): OpenApiSchema {
    const properties: Record<string, OpenApiSchema> = {};
    for (const key of Object.keys(this.props).sort()) properties[key] = this.props[key]!.openApi();
    const required = (this.opts.required ?? []).map(String);
    return { type: 'object', ...(required.length > 0 ? { required } : {}), properties };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): ObjectOf<P, R> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path, message: `must be an object (got ${describe(value)})` });
      return undefined;
    }
    const input = value as Record<string, unknown>;
    // Own properties only, on both sides: `key in props` would take `constructor` or `toString` for
    // known fields (inherited from Object.prototype) and silently drop them.
    const own = (key: string) => (Object.hasOwn(input, key) ? input[key] : undefined);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(this.props, key)) {
        const known = Object.keys(this.props).sort().join(', ');
        issues.push({ path: join(path, key), message: `unknown field (known fields: ${known})` });
      }
    }
    for (const key of (this.opts.required ?? []).map(String)) {
      if (own(key) === undefined || own(key) === null) issues.push({ path: join(path, key), message: 'is required' });
    }
    for (const [key, schema] of Object.entries(this.props)) {
      const raw = own(key);
      if (raw === undefined || raw === null) {
        const fallback = schema.defaultValue();
        if (fallback !== undefined) out[key] = fallback;
        continue;
      }
      const parsed = schema.parse(raw, join(path, key), issues);
      if (parsed !== undefined) out[key] = parsed;
    }
    return out as ObjectOf<P, R>;
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Builders, so schemas read like the YAML they describe. */
export const s = {
  string: <E extends string = string>(o?: StringOptions<E>) => new StringSchema<E>(o),
  /** A string enum; the literal union becomes the TS type. */
  enum: <E extends string>(values: readonly E[], o: Omit<StringOptions<E>, 'enum'> = {}) => new StringSchema<E>({ ...o, enum: values }),
  integer: (o?: IntegerOptions) => new IntegerSchema(o),
  boolean: (o?: CommonOptions & { readonly default?: boolean }) => new BooleanSchema(o),
  quantity: (o?: CommonOptions & { readonly nonNegative?: boolean }) => new QuantitySchema(o),
  intOrString: (o?: CommonOptions) => new IntOrStringSchema(o),
  array: <T>(items: Schema<T>, o?: ArrayOptions) => new ArraySchema<T>(items, o),
  map: <T>(values: Schema<T>, o?: MapOptions) => new MapSchema<T>(values, o),
  object: <P extends Props, R extends keyof P = never>(props: P, o?: ObjectOptions<R>) => new ObjectSchema<P, R>(props, o),
};

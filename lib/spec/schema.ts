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
    if (this.rules.length > 0) {
      out['x-kubernetes-validations'] = this.rules.map((r) => ({
        rule: r.rule,
        message: r.message,
        ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
      }));
    }
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

  protected ownOpenApi(): OpenApiSchema {
    const o = this.opts;
    return {
      type: 'integer',
      format: o.format ?? 'int32',
      ...(o.minimum !== undefined ? { minimum: o.minimum } : {}),
      ...(o.maximum !== undefined ? { maximum: o.maximum } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      issues.push({ path, message: `must be an integer (got ${describe(value)})` });
      return undefined;
    }
    const o = this.opts;
    if (o.minimum !== undefined && value < o.minimum) {
      issues.push({ path, message: `must be >= ${o.minimum} (got ${value})` });
    }
    if (o.maximum !== undefined && value > o.maximum) {
      issues.push({ path, message: `must be <= ${o.maximum} (got ${value})` });
    }
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

/** A Kubernetes resource.Quantity: an integer or a string such as `500m` or `64Mi`. */
export class QuantitySchema extends Schema<string | number> {
  protected ownOpenApi(): OpenApiSchema {
    return {
      'anyOf': [{ type: 'integer' }, { type: 'string' }],
      'pattern': QUANTITY_PATTERN,
      'x-kubernetes-int-or-string': true,
    };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): string | number | undefined {
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value !== 'string' || !QUANTITY.test(value)) {
      issues.push({ path, message: `must be a Kubernetes quantity such as 500m, 1, 64Mi or 1Gi (got ${describe(value)})` });
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

export class MapSchema<T> extends Schema<Record<string, T>> {
  constructor(
    private readonly values: Schema<T>,
    private readonly opts: CommonOptions & { readonly keyPattern?: string; readonly keyHint?: string; readonly maxProperties?: number } = {},
  ) {
    super(opts);
  }

  protected ownOpenApi(): OpenApiSchema {
    return {
      type: 'object',
      additionalProperties: this.values.openApi(),
      ...(this.opts.maxProperties !== undefined ? { maxProperties: this.opts.maxProperties } : {}),
    };
  }

  protected parseOwn(value: unknown, path: string, issues: ValidationIssue[]): Record<string, T> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path, message: `must be a map (got ${describe(value)})` });
      return undefined;
    }
    const keyRegex = this.opts.keyPattern ? new RegExp(this.opts.keyPattern) : undefined;
    const entries = Object.entries(value as Record<string, unknown>);
    if (this.opts.maxProperties !== undefined && entries.length > this.opts.maxProperties) {
      issues.push({ path, message: `must have at most ${this.opts.maxProperties} entries (got ${entries.length})` });
    }
    const out: Record<string, T> = {};
    for (const [key, item] of entries) {
      const itemPath = `${path}[${JSON.stringify(key)}]`;
      if (keyRegex && !keyRegex.test(key)) {
        issues.push({ path: itemPath, message: `key must be ${this.opts.keyHint ?? `matching ${this.opts.keyPattern}`}` });
      }
      const parsed = this.values.parse(item, itemPath, issues);
      if (parsed !== undefined) out[key] = parsed;
    }
    return out;
  }
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
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (!(key in this.props)) {
        const known = Object.keys(this.props).sort().join(', ');
        issues.push({ path: join(path, key), message: `unknown field (known fields: ${known})` });
      }
    }
    for (const key of (this.opts.required ?? []).map(String)) {
      if (input[key] === undefined || input[key] === null) issues.push({ path: join(path, key), message: 'is required' });
    }
    for (const [key, schema] of Object.entries(this.props)) {
      const raw = input[key];
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
  quantity: (o?: CommonOptions) => new QuantitySchema(o),
  intOrString: (o?: CommonOptions) => new IntOrStringSchema(o),
  array: <T>(items: Schema<T>, o?: ArrayOptions) => new ArraySchema<T>(items, o),
  map: <T>(values: Schema<T>, o?: ConstructorParameters<typeof MapSchema>[1]) => new MapSchema<T>(values, o),
  object: <P extends Props, R extends keyof P = never>(props: P, o?: ObjectOptions<R>) => new ObjectSchema<P, R>(props, o),
};

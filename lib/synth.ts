/**
 * The one pipeline: YAML text → validated MCPServer resources → (registry resolution) → objects.
 * The CLI and the controller both call `desired()`; nothing here touches the network, files or the
 * process, apart from `readInputs`, which only reads.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'fs';
import { join, relative } from 'path';
import { App, Chart } from 'cdk8s';
import * as yaml from 'js-yaml';
import { MCPServer } from './construct/mcpserver';
import { MCPServerResource } from './spec/mcpserver';
import { checkResource, DocumentOrigin, InvalidInputError, Problem } from './spec/validate';
import { loadKubeYaml, YAML_LIMITS } from './spec/yaml';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
};

export interface SourceDocument {
  readonly origin: DocumentOrigin;
  readonly value: unknown;
}

export interface ValidatedResource {
  readonly origin: DocumentOrigin;
  readonly resource: MCPServerResource;
}

export interface DesiredOptions {
  /** Image holding the self-contained stdio bridge. */
  readonly bridgeImage?: string;
  /** Namespace for resources that name none (objects stay namespace-less when unset). */
  readonly namespace?: string;
}

export const STDIN = '-';
const YAML_FILE = /\.(ya?ml|json)$/i;

/** Files named by `-f` (files, directories searched recursively in sorted order, or `-`). */
export function readInputs(inputs: readonly string[], readStdin: () => string): SourceDocument[] {
  const problems: Problem[] = [];
  const docs: SourceDocument[] = [];
  for (const input of inputs) {
    for (const file of expand(input, problems)) {
      let text: string;
      try {
        text = file === STDIN ? readStdin() : readTextBounded(file);
      } catch (err) {
        problems.push({ origin: { file: displayName(file), index: 0 }, message: `cannot read: ${(err as Error).message}` });
        continue;
      }
      try {
        docs.push(...parseDocuments(text, displayName(file)));
      } catch (err) {
        if (err instanceof InvalidInputError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return docs;
}

function expand(input: string, problems: Problem[]): string[] {
  if (input === STDIN) return [STDIN];
  let stat;
  try {
    stat = statSync(input);
  } catch {
    problems.push({ origin: { file: input, index: 0 }, message: 'no such file or directory' });
    return [];
  }
  if (!stat.isDirectory()) return [input];
  const files = walk(input).filter((f) => YAML_FILE.test(f));
  if (files.length === 0) problems.push({ origin: { file: input, index: 0 }, message: 'directory holds no .yaml, .yml or .json files' });
  return files;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.isFile() ? [path] : [];
    });
}

function displayName(file: string): string {
  if (file === STDIN) return '<stdin>';
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/**
 * Splits multi-document YAML as kubectl does (on `---` lines) and reads each document with kubectl's
 * scalar rules (see ./spec/yaml.ts); empty documents (a trailing `---`) are skipped as kubectl does.
 */
export function parseDocuments(text: string, file: string): SourceDocument[] {
  const { documents, count, problems } = loadKubeYaml(text, file);
  if (problems.length > 0) throw new InvalidInputError(problems);
  if (documents.length === 0) throw new InvalidInputError([{ origin: { file, index: 0 }, message: 'holds no YAML document' }]);
  const multi = count > 1;
  return documents.map((d) => ({ origin: { file, index: d.index, multi }, value: d.value }));
}

/**
 * Reads at most `maxBytes` of a file, a pipe or a descriptor (stdin is 0) as strict UTF-8: a device
 * that never ends, or a file too large to be a manifest, is refused instead of filling memory, and
 * bytes that are not UTF-8 are refused (kubectl refuses them too) instead of becoming U+FFFD.
 */
export function readTextBounded(source: string | number, maxBytes: number = YAML_LIMITS.maxBytes): string {
  const fd = typeof source === 'number' ? source : openSync(source, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new Error(`larger than ${maxBytes} bytes; refusing to read more`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      throw new Error('is not valid UTF-8');
    }
  } finally {
    if (typeof source !== 'number') closeSync(fd);
  }
}

/**
 * Validates every document and returns them all, or throws one error listing every problem in
 * every document — so a caller never acts on a partly valid input. Two documents for the same
 * namespace and name are an error; `namespace` (the `-n` flag) is where the ones naming none land.
 */
export function validateDocuments(docs: readonly SourceDocument[], options: { readonly namespace?: string } = {}): ValidatedResource[] {
  const problems: Problem[] = [];
  const out: ValidatedResource[] = [];
  const seen = new Map<string, DocumentOrigin>();
  for (const doc of docs) {
    const { resource, issues } = checkResource(doc.value);
    const name = nameOf(doc.value);
    problems.push(...issues.map((i) => ({ origin: doc.origin, name, path: i.path || undefined, message: i.message })));
    if (!resource) continue;
    const namespace = resource.metadata.namespace ?? options.namespace;
    const key = `${namespace ?? ''}/${resource.metadata.name}`;
    const first = seen.get(key);
    if (first) {
      const where = namespace ? `namespace ${namespace}${resource.metadata.namespace ? '' : ' (from -n)'}` : 'no namespace';
      problems.push({ origin: doc.origin, name, path: 'metadata.name', message: `duplicates the MCPServer of ${first.file} document ${first.index + 1} (same name ${resource.metadata.name} in ${where}); the second would overwrite the first` });
      continue;
    }
    seen.set(key, doc.origin);
    out.push({ origin: doc.origin, resource });
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return out;
}

function nameOf(value: unknown): string | undefined {
  const name = (value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * The Kubernetes objects for one MCPServer: pure and deterministic (same input, same output), shared by
 * the library, the CLI and the controller.
 */
export function desired(resource: MCPServerResource, options: DesiredOptions = {}): KubeObject[] {
  const app = new App();
  const namespace = resource.metadata.namespace ?? options.namespace;
  const chart = new Chart(app, resource.metadata.name, { namespace, disableResourceNameHashes: true });
  new MCPServer(chart, resource.metadata.name, { ...resource.spec, name: resource.metadata.name, bridgeImage: options.bridgeImage });
  return chart.toJson() as KubeObject[];
}

/** Multi-document YAML with a stable layout, so the same objects always give the same bytes. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => yaml.dump(o, { noRefs: true, lineWidth: -1, sortKeys: false, quotingType: '"' })).join('---\n');
}

import { randomBytes } from 'crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, renameSync, rmdirSync, rmSync, Stats, writeFileSync } from 'fs';
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'path';

export interface CliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  /** Set by a command that finished without throwing but must not report success. */
  exitCode?: number;
  readStdin(): string;
}

export enum ExitCode {
  Ok = 0,
  /** Invalid input, or the operation failed. */
  Failure = 1,
  /** The command line itself is wrong. */
  Usage = 2,
}

/** A wrong command line (conflicting flags, a bad flag value): exit 2, like commander's own errors. */
export class UsageError extends Error {}

export type OutputFormat = 'yaml' | 'json';

export function parseFormat(value: string): OutputFormat {
  if (value !== 'yaml' && value !== 'json') throw new UsageError(`-o/--output must be yaml or json (got ${JSON.stringify(value)})`);
  return value;
}

export interface OutputFile {
  /** Path relative to the output directory. */
  readonly path: string;
  readonly content: string;
}

/**
 * Writes every file or none. Each is first written to a temp file beside its target, created with
 * O_EXCL under an unpredictable name (so a planted file or symlink makes the write fail instead of
 * being written through), then renamed over the target; if any step fails, targets this run replaced
 * get their previous content back, new ones and new directories are removed. Directories inside
 * `dir` that are symlinks are refused: the output stays inside the directory the user named.
 */
export function writeFilesAtomically(dir: string, files: readonly OutputFile[]): void {
  const targets = new Map<string, string>();
  for (const f of files) {
    const rel = normalize(f.path);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) throw new Error(`refusing to write ${f.path}: outside ${dir}`);
    const target = join(dir, rel);
    if (targets.has(target)) throw new Error(`two outputs would be written to ${target}; nothing was written`);
    targets.set(target, f.content);
  }
  const createdDirs: string[] = [];
  const staged: Array<{ target: string; temp: string; backup?: string; renamed?: boolean }> = [];
  try {
    for (const [target, content] of targets) {
      ensureRealDirectory(dir, dirname(target), createdDirs);
      const temp = join(dirname(target), `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
      const fd = openSync(temp, 'wx', 0o644);
      staged.push({ target, temp });
      try {
        writeFileSync(fd, content);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    for (const entry of staged) {
      const existing = lstatIfExists(entry.target);
      if (existing?.isDirectory()) throw new Error(`${entry.target} is a directory`);
      if (existing) {
        // A hard link keeps the previous file (or symlink, not what it points to) for the rollback.
        entry.backup = join(dirname(entry.target), `.${basename(entry.target)}.${randomBytes(8).toString('hex')}.bak`);
        linkSync(entry.target, entry.backup);
      }
      renameSync(entry.temp, entry.target);
      entry.renamed = true;
    }
  } catch (err) {
    for (const entry of staged.reverse()) {
      if (entry.renamed) {
        if (entry.backup) renameSync(entry.backup, entry.target);
        else rmSync(entry.target, { force: true });
      } else {
        rmSync(entry.temp, { force: true });
        if (entry.backup) rmSync(entry.backup, { force: true });
      }
    }
    // Only directories this run made, deepest first, and only while empty (rmdir never recurses).
    for (const created of createdDirs.reverse()) {
      try {
        rmdirSync(created);
      } catch {
        // Not empty: something else was put there meanwhile; leave it.
      }
    }
    throw err;
  }
  for (const entry of staged) if (entry.backup) rmSync(entry.backup, { force: true });
}

function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Creates `target` (below `root`) one level at a time, refusing a symlink or a file on the way. */
function ensureRealDirectory(root: string, target: string, created: string[]): void {
  if (!lstatIfExists(root)) {
    mkdirSync(root, { recursive: true });
    created.push(root);
  }
  const rel = relative(root, target);
  let current = root;
  for (const part of rel === '' ? [] : rel.split(sep)) {
    current = join(current, part);
    const stat = lstatIfExists(current);
    if (!stat) {
      mkdirSync(current);
      created.push(current);
    } else if (stat.isSymbolicLink()) {
      throw new Error(`refusing to write through the symlink ${current}`);
    } else if (!stat.isDirectory()) {
      throw new Error(`${current} is not a directory`);
    }
  }
}

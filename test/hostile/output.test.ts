/**
 * `synth -o`: duplicates are found before anything is written, temp files are created with O_EXCL
 * under unpredictable names, planted symlinks are never written through, and a failure part-way
 * leaves the directory as it was.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { writeFilesAtomically } from '../../lib/cli/io';
import { cli } from '../support/cli';

const server = (name: string, namespace?: string) =>
  `apiVersion: mcp.io/v1\nkind: MCPServer\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}spec:\n  image: ghcr.io/example/${name}\n`;

function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'mcp-out-'));
}

describe('duplicates are refused before anything is written', () => {
  test('the same name twice, once through -n: both files and documents are named', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.yaml'), server('tools', 'team'));
    writeFileSync(join(dir, 'b.yaml'), `${server('other')}---\n${server('tools')}`);
    const out = join(dir, 'out');
    const result = await cli(['synth', '-n', 'team', '-f', join(dir, 'a.yaml'), '-f', join(dir, 'b.yaml'), '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'b.yaml')}: document 2 (tools): metadata.name: duplicates the MCPServer of ${join(dir, 'a.yaml')} document 1 (same name tools in namespace team (from -n))`);
    expect(result.stderr).toMatch(/nothing was written/);
    expect(existsSync(out)).toBe(false);
  });

  test('without -n the same document names stay distinct from namespaced ones', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    const result = await cli(['synth', '-f', '-', '-o', out], `${server('tools', 'team')}---\n${server('tools')}`);
    expect(result.code).toBe(0);
    expect(tree(out)).toEqual(['team', 'team/tools.yaml', 'tools.yaml']);
  });

  test('a bad -n is a usage error', async () => {
    const result = await cli(['synth', '-n', 'Bad_NS', '-f', '-'], server('tools'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('-n/--namespace must be a DNS-1123 label');
  });

  test('the writer itself refuses two outputs with the same target', () => {
    const out = join(scratch(), 'out');
    expect(() => writeFilesAtomically(out, [{ path: 'a.yaml', content: '1' }, { path: './a.yaml', content: '2' }])).toThrow(/two outputs would be written to/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('planted files and symlinks', () => {
  test('a symlink planted at the old predictable temp name is never written through', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    mkdirSync(out);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    for (let pid = process.pid - 5; pid <= process.pid + 5; pid++) symlinkSync(victim, join(out, `tools.yaml.tmp-${pid}`));
    const result = await cli(['synth', '-f', '-', '-o', out], server('tools'));
    expect(result.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(join(out, 'tools.yaml'), 'utf8')).toContain('kind: Deployment');
    // Only the output and the planted links remain: no temp file of ours is left behind.
    expect(tree(out).filter((f) => !f.includes('.tmp-'))).toEqual(['tools.yaml']);
  });

  test('a symlink at the target is replaced, not followed', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    mkdirSync(out);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(out, 'tools.yaml'));
    const result = await cli(['synth', '-f', '-', '-o', out], server('tools'));
    expect(result.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(out, 'tools.yaml')).isSymbolicLink()).toBe(false);
  });

  test('a namespace directory that is a symlink is refused and nothing is written', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(out);
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(out, 'team'));
    const result = await cli(['synth', '-f', '-', '-o', out], `${server('first')}---\n${server('tools', 'team')}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`refusing to write through the symlink ${join(out, 'team')}`);
    expect(result.stderr).toMatch(/nothing was written/);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(tree(out)).toEqual(['team']);
  });

  test('temp names are unpredictable and created exclusively', () => {
    const out = join(scratch(), 'out');
    writeFilesAtomically(out, [{ path: 'a.yaml', content: 'one\n' }]);
    writeFilesAtomically(out, [{ path: 'a.yaml', content: 'two\n' }]);
    expect(readFileSync(join(out, 'a.yaml'), 'utf8')).toBe('two\n');
    expect(tree(out)).toEqual(['a.yaml']);
  });
});

describe('a failure part-way leaves the directory as it was', () => {
  test('the 2nd of 3 files failing: the 1st keeps its old content, new files and directories are removed', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'alpha.yaml'), 'old alpha\n');
    // A directory where the second file goes makes its rename fail after the first one succeeded.
    mkdirSync(join(out, 'beta.yaml'));
    const result = await cli(['synth', '-f', '-', '-o', out], `${server('alpha')}---\n${server('beta')}---\n${server('gamma', 'team')}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/beta\.yaml is a directory/);
    expect(result.stderr).toMatch(/nothing was written/);
    expect(readFileSync(join(out, 'alpha.yaml'), 'utf8')).toBe('old alpha\n');
    expect(tree(out)).toEqual(['alpha.yaml', 'beta.yaml']);
  });

  test('an unwritable directory: nothing appears, no temp file is left', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: make the failure a file standing where a directory must go instead.
      const dir = scratch();
      const out = join(dir, 'out');
      mkdirSync(out);
      writeFileSync(join(out, 'team'), 'a file, not a directory\n');
      const result = await cli(['synth', '-f', '-', '-o', out], `${server('alpha')}---\n${server('tools', 'team')}`);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${join(out, 'team')} is not a directory`);
      expect(tree(out)).toEqual(['team']);
      return;
    }
    const { chmodSync } = await import('fs');
    const dir = scratch();
    const out = join(dir, 'out');
    mkdirSync(out);
    chmodSync(out, 0o500);
    const result = await cli(['synth', '-f', '-', '-o', out], server('alpha'));
    chmodSync(out, 0o700);
    expect(result.code).toBe(1);
    expect(tree(out)).toEqual([]);
  });
});

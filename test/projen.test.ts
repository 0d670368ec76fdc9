import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { join, resolve } from 'path';

const ROOT = resolve(__dirname, '..');

test('re-running projen leaves every file it manages unchanged', () => {
  // package.json is written by projen too, though files.json does not list it.
  const managed: string[] = [...JSON.parse(readFileSync(join(ROOT, '.projen/files.json'), 'utf8')).files, 'package.json'];
  const before = Object.fromEntries(managed.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
  // --no-post skips the dependency install; the files are what matters here.
  const result = spawnSync(join(ROOT, 'node_modules/.bin/projen'), ['--no-post'], { cwd: ROOT, encoding: 'utf8' });
  expect(result.status).toBe(0);
  const after = Object.fromEntries(managed.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
  expect(after).toEqual(before);
  expect(managed).toEqual(expect.arrayContaining(['package.json', 'tsconfig.json', '.projen/tasks.json', 'renovate.json', 'test/tsconfig.json']));
});

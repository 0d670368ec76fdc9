import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { validate } from 'dockerfile-utils';

const ROOT = resolve(__dirname, '..');
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** Instructions of the last stage: what the running image is made of. */
function finalStage(): string[] {
  const lines = DOCKERFILE.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const from = lines.map((l, i) => (/^FROM /i.test(l) ? i : -1)).filter((i) => i >= 0);
  return lines.slice(from[from.length - 1]);
}

describe('container image', () => {
  test('the Dockerfile passes the linter with no findings', () => {
    expect(validate(DOCKERFILE)).toEqual([]);
  });

  test('multi-stage, numeric non-root user, exec-form entrypoint, no shell needed at run time', () => {
    const stage = finalStage();
    expect(DOCKERFILE.match(/^FROM /gm)).toHaveLength(2);
    expect(stage[0]).toMatch(/^FROM gcr\.io\/distroless\/nodejs24-debian12:nonroot$/);
    expect(stage).toContain('USER 65532:65532');
    expect(stage.some((l) => /^RUN /.test(l))).toBe(false);
    expect(stage.find((l) => l.startsWith('ENTRYPOINT'))).toMatch(/^ENTRYPOINT \["\/nodejs\/bin\/node", /);
  });

  test('the file tree the image holds runs the CLI without dev dependencies', () => {
    const root = mkdtempSync(join(tmpdir(), 'mcp-image-'));
    const dest = execFileSync('bash', [join(ROOT, 'hack/image-tree.sh'), root], { encoding: 'utf8' }).trim().split('\n').pop()!;
    expect(existsSync(join(dest, 'node_modules/jest'))).toBe(false);
    expect(existsSync(join(dest, 'node_modules/@kubernetes/client-node'))).toBe(true);
    const version = spawnSync('node', [join(dest, 'bin/mcp-operator.js'), '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const crd = spawnSync('node', [join(dest, 'bin/mcp-operator.js'), 'crd'], { encoding: 'utf8', cwd: root });
    expect(crd.status).toBe(0);
    expect(crd.stdout).toContain('name: mcpservers.mcp.io');
  });
});

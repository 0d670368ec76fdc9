import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { descendantsOf, expectProcessesBackTo, ROOT, tempDir } from './helpers';

// hack/build-bridge.sh builds the single executable and proves it in an empty directory with no
// node on PATH: it serves server-everything, `verify` passes against it, `install` copies it
// with mode 0755, and SIGTERM exits 0. This runs that script end to end into a temp directory.

test('hack/build-bridge.sh builds a working single executable', async () => {
  const baseline = descendantsOf();
  const out = tempDir('mcp-bridge-sea-');
  try {
    const build = spawn('bash', [join(ROOT, 'hack/build-bridge.sh')], { env: { ...process.env, OUT: out }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    build.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    build.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => build.kill('SIGKILL'), 90_000);
    const code = await new Promise<number | null>((resolveExit) => build.on('close', resolveExit));
    clearTimeout(timer);

    if (code !== 0) throw new Error(`build-bridge.sh exited ${code}:\n${output}`);
    expect(output).toContain('smoke test passed');
    expect(output).toMatch(/^OK\s+http:\/\/127\.0\.0\.1:\d+\/mcp$/m);
    expect(output).toMatch(/needs: Linux \S+, GLIBC_2\.\d+/);
    const binary = statSync(join(out, 'mcp-bridge'));
    expect((binary.mode % 0o1000).toString(8)).toBe('755');
    expect(binary.size).toBeGreaterThan(50 * 2 ** 20);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  await expectProcessesBackTo(baseline);
}, 120_000);

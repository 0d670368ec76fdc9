import { spawnSync } from 'child_process';
import { resolve } from 'path';

const ROOT = resolve(__dirname, '..');

/** Loads a module in a fresh Node process and lists the packages it pulled in. */
function packagesLoadedBy(specifier: string): string[] {
  const script = `require(${JSON.stringify(specifier)});
    const names = new Set(Object.keys(require.cache).map((f) => (f.match(/node_modules\\/((@[^/]+\\/)?[^/]+)/) || [])[1]).filter(Boolean));
    process.stdout.write(JSON.stringify([...names].sort()));`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout);
}

describe('package entry points', () => {
  test('the library root (the construct) loads neither the Kubernetes client nor the MCP SDK', () => {
    const loaded = packagesLoadedBy('mcp-operator');
    expect(loaded).toEqual(expect.arrayContaining(['cdk8s', 'cdk8s-plus-28', 'constructs']));
    expect(loaded).not.toContain('@kubernetes/client-node');
    expect(loaded).not.toContain('@modelcontextprotocol/sdk');
    expect(loaded).not.toContain('pino');
  });

  test('mcp-operator/controller is its own entry', () => {
    const result = spawnSync(process.execPath, ['-e', "const c = require('mcp-operator/controller'); process.stdout.write(typeof c.startController + ' ' + typeof c.controllerCommand)"], { cwd: ROOT, encoding: 'utf8' });
    // The library entry exports no commander objects: the command lives in lib/cli.
    expect(result.stdout).toBe('function undefined');
    expect(packagesLoadedBy('mcp-operator/controller')).not.toContain('@modelcontextprotocol/sdk');
  });
});

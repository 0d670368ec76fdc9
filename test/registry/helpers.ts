import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Command } from 'commander';
import { CliIo, ExitCode, UsageError } from '../../lib/cli/io';
import { initCommand, registryCommand } from '../../lib/cli/registry';
import { RegistryClient, RegistryClientOptions } from '../../lib/registry/client';
import { normalizeServerJson } from '../../lib/registry/normalize';
import { ServerJson } from '../../lib/registry/types';
import { fixturesDir } from '../support/registry-server';

export function tempDir(prefix = 'mcp-registry-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function realServer(file: string): ServerJson {
  return normalizeServerJson(JSON.parse(readFileSync(join(fixturesDir(), 'server-json', 'real', file), 'utf8')));
}

/** The test-owned server.json documents (see its README): shapes found outside the shared fixtures. */
export const TEST_SERVER_JSON = join(__dirname, '..', 'fixtures', 'registry', 'server-json');

export function testServer(file: string): ServerJson {
  return normalizeServerJson(JSON.parse(readFileSync(join(TEST_SERVER_JSON, file), 'utf8')));
}

/**
 * A copy of the shared registry fixtures (read-only, not ours to extend) with the test-owned documents
 * added to `server-json/real`, for a FakeRegistry that serves both.
 */
export function registryFixtures(): string {
  const dir = tempDir('mcp-registry-fixtures-');
  cpSync(fixturesDir(), dir, { recursive: true });
  for (const file of readdirSync(TEST_SERVER_JSON).filter((f) => f.endsWith('.json'))) {
    cpSync(join(TEST_SERVER_JSON, file), join(dir, 'server-json', 'real', file));
  }
  return dir;
}

/** A client whose waits are recorded instead of slept, so retry tests take no time. */
export interface FastClient {
  readonly client: RegistryClient;
  readonly sleeps: number[];
  readonly warnings: string[];
}

export function fastClient(baseUrl: string, options: Partial<RegistryClientOptions> = {}): FastClient {
  const sleeps: number[] = [];
  const warnings: string[] = [];
  const client = new RegistryClient({
    baseUrl,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    timeoutMs: 2_000,
    onWarning: (m) => void warnings.push(m),
    ...options,
  });
  return { client, sleeps, warnings };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `registry …` / `init …` in-process with captured streams, the way lib/cli/main.ts's `run`
 * does (the lead registers these commands there).
 */
export async function registryCli(args: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, readStdin: () => '' };
  const program = new Command('mcp-operator').exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  for (const c of [registryCommand(io), initCommand(io)]) {
    program.addCommand(c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) }));
  }
  let code: number;
  try {
    await program.parseAsync([...args], { from: 'user' });
    code = io.exitCode ?? ExitCode.Ok;
  } catch (err) {
    const e = err as { code?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') {code = ExitCode.Ok;} else if (e.code?.startsWith('commander.')) {code = ExitCode.Usage;} else if (err instanceof UsageError) {
      stderr += `error: ${err.message}\n`;
      code = ExitCode.Usage;
    } else {
      stderr += `error: ${(err as Error).message}\n`;
      code = ExitCode.Failure;
    }
  }
  return { code, stdout, stderr };
}

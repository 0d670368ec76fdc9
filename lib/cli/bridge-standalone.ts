/**
 * Entry point of the self-contained `mcp-bridge` executable (hack/build-bridge.sh bundles it
 * into a Node single executable application). It carries only the bridge, so an init
 * container can drop it into any glibc image and the image needs neither node nor a shell.
 */
import { chmodSync, copyFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isSea } from 'node:sea';
import { Command, type CommanderError } from 'commander';
import { bridgeCommand, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, verifyCommand } from './bridge';

function installCommand(): Command {
  return new Command('install')
    .summary('copy this executable to <dest> (mode 0755), e.g. into a shared emptyDir')
    .description(
      'Copy this executable to <dest> with mode 0755. Meant for an init container that shares the bridge ' +
        'with an image that has no node and no shell.',
    )
    .argument('<dest>', 'target file, or an existing directory to put mcp-bridge in')
    .addHelpText('after', '\nExample (init container):\n  $ mcp-bridge install /opt/mcp-bridge/mcp-bridge')
    .exitOverride(usageExit)
    .action((dest: string) => {
      process.exitCode = install(dest);
    });
}

function install(dest: string): number {
  if (!isSea()) {
    process.stderr.write('error: install only works from the single executable (build/bridge/mcp-bridge); this process is plain node\n');
    return EXIT_FAILURE;
  }
  const target = isDirectory(dest) ? join(dest, 'mcp-bridge') : dest;
  // Copy then rename: a container starting concurrently never sees a half-written binary.
  const partial = `${target}.partial-${process.pid}`;
  try {
    copyFileSync(process.execPath, partial);
    chmodSync(partial, 0o755);
    renameSync(partial, target);
  } catch (err) {
    rmSync(partial, { force: true });
    process.stderr.write(`error: could not install to ${target}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`installed ${target}\n`);
  return EXIT_OK;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function usageExit(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
}

const program = new Command('mcp-bridge')
  .description('Serve a stdio MCP server over HTTP, one server process per session.')
  .exitOverride(usageExit)
  .addCommand(bridgeCommand().name('serve'))
  .addCommand(verifyCommand())
  .addCommand(installCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(EXIT_FAILURE);
});

import { Command, CommanderError, Option } from 'commander';
import { controllerCommand } from './controller';
import { crdCommand } from './crd';
import { installCommand, uninstallCommand } from './install';
import { CliIo, ExitCode, UsageError } from './io';
import { initCommand, registryCommand } from './registry';
import { synthCommand, validateCommand } from './synth';
import { registryResolveHook } from '../controller/resolve';
import { readTextBounded } from '../synth';
import { terminalSafe } from '../util/terminal';
import { PROJECT_VERSION } from '../version';

export type { CliIo } from './io';

/**
 * Commands whose modules load the MCP SDK or the Kubernetes client. They are loaded only when
 * invoked (or their help is asked for), so `synth` and friends start without paying for them; the
 * top-level help lists them by these summaries (a test checks they match the real ones).
 */
export const LAZY_COMMANDS: Record<string, { readonly summary: string; load(io: CliIo): Command }> = {
  bridge: {
    summary: 'serve a stdio MCP server over streamable HTTP and legacy SSE',
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    load: (io) => require('./bridge').bridgeCommand(io),
  },
  verify: {
    summary: 'check that a URL serves a working MCP server',
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    load: (io) => require('./bridge').verifyCommand(io),
  },
};

/** Every command, wired to the given streams so tests can run the CLI in-process. */
export function buildProgram(io: CliIo, argv: readonly string[] = []): Command {
  const program = new Command('mcp-operator')
    .description('Run MCP (Model Context Protocol) servers on Kubernetes: synthesize manifests, resolve servers from the MCP Registry, run the controller.')
    .version(PROJECT_VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  const invoked = argv[0] === 'help' ? argv[1] : argv[0];
  const lazy = Object.entries(LAZY_COMMANDS).map(([name, c]) => (name === invoked ? c.load(io) : new Command(name).summary(c.summary)));
  const commands = [
    synthCommand(io), validateCommand(io), crdCommand(io), registryCommand(io), initCommand(io),
    ...lazy, controllerWithRegistry(io), installCommand(io), uninstallCommand(io),
  ];
  for (const command of commands) program.addCommand(command);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) }).showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

/** The controller resolves `spec.registry` with the same registry code as `synth`. */
function controllerWithRegistry(io: CliIo): Command {
  return controllerCommand(io, {
    makeResolver: (registryUrl, allowedRegistryUrls) => registryResolveHook({ registryUrl, allowedRegistryUrls, warn: (m) => io.stderr.write(`warning: ${m}\n`) }),
  });
}

/** Runs the CLI and returns the exit code: 0 ok, 1 invalid input or failure, 2 usage. */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io, argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return io.exitCode ?? ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.Ok;
      return ExitCode.Usage;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n`);
      return ExitCode.Usage;
    }
    io.stderr.write(`error: ${(err as Error).message}\n`);
    return ExitCode.Failure;
  }
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    // Diagnostics quote registry and server text (error bodies, names, descriptions): no escape
    // sequence in them may act on the terminal. stdout is data (YAML/JSON) and is sanitised where a
    // command renders external text for people (registry search/show, verify).
    stderr: { write: (s: string) => process.stderr.write(terminalSafe(s)) },
    // Bounded like every other input: `-f -` fed from an endless pipe is refused, not buffered.
    readStdin: () => readTextBounded(0),
  };
}

export { Option };

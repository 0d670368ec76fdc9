import { join } from 'path';
import { Command, Option } from 'commander';
import { formatProblem, InvalidInputError, namespaceProblem } from '../spec/validate';
import { desired, KubeObject, readInputs, toYaml, validateDocuments, ValidatedResource } from '../synth';
import { CliIo, ExitCode, OutputFormat, UsageError, writeFilesAtomically } from './io';
import { addResolveOptions, resolveResources, ResolveCliOptions } from './resolve';

interface SynthOptions extends ResolveCliOptions {
  filename: string[];
  outputDir?: string;
  format: OutputFormat;
  bridgeImage?: string;
  namespace?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function inputOptions(command: Command): Command {
  return command
    .requiredOption('-f, --filename <path>', 'MCPServer YAML: a file, a directory (searched recursively) or - for stdin; repeatable', collect)
    .addHelpText('after', '\nExit codes: 0 ok, 1 invalid input (nothing is written), 2 usage error.');
}

export function synthCommand(io: CliIo): Command {
  const command = new Command('synth')
    .description('Turn MCPServer YAML into Kubernetes manifests (Deployment, Service, ServiceAccount, ConfigMap)')
    .option('-o, --output-dir <dir>', 'write one file per server into this directory instead of stdout')
    .addOption(new Option('--format <format>', 'stdout format').choices(['yaml', 'json']).default('yaml'))
    .option('-n, --namespace <ns>', 'namespace for servers that name none')
    .option('--bridge-image <image>', 'image that holds the stdio bridge (for transport.type stdio)');
  inputOptions(command);
  addResolveOptions(command);
  return command.action(async (opts: SynthOptions) => {
    const rendered = await renderAll(opts, io);
    if (!rendered) return;
    if (opts.outputDir) {
      // Everything is rendered (and every target known) before the first byte is written.
      const files = rendered.map((r) => ({ path: r.file, content: toYaml(r.objects) }));
      try {
        writeFilesAtomically(opts.outputDir, files);
      } catch (err) {
        io.stderr.write(`error: ${(err as Error).message}\nerror: nothing was written\n`);
        io.exitCode = ExitCode.Failure;
        return;
      }
      for (const r of rendered) io.stderr.write(`wrote ${join(opts.outputDir, r.file)} (${r.objects.length} objects)\n`);
    } else if (opts.format === 'json') {
      io.stdout.write(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rendered.flatMap((r) => r.objects) }, null, 2)}\n`);
    } else {
      io.stdout.write(toYaml(rendered.flatMap((r) => r.objects)));
    }
  });
}

export function validateCommand(io: CliIo): Command {
  const command = new Command('validate')
    .description('Check MCPServer YAML against the schema the CRD enforces, and that it synthesizes; prints nothing else')
    .option('-n, --namespace <ns>', 'namespace for servers that name none');
  inputOptions(command);
  addResolveOptions(command);
  return command.action(async (opts: SynthOptions) => {
    const rendered = await renderAll({ ...opts, readOnly: true }, io);
    if (rendered) io.stderr.write(`${rendered.length} MCPServer${rendered.length === 1 ? '' : 's'} valid\n`);
  });
}

interface Rendered {
  readonly file: string;
  readonly objects: KubeObject[];
}

/** All or nothing: returns undefined (after reporting) when any document is invalid. */
async function renderAll(opts: SynthOptions, io: CliIo): Promise<Rendered[] | undefined> {
  const badNamespace = opts.namespace === undefined ? undefined : namespaceProblem(opts.namespace);
  if (badNamespace) throw new UsageError(`-n/--namespace ${badNamespace}`);
  try {
    const validated = validateDocuments(readInputs(opts.filename, io.readStdin), { namespace: opts.namespace });
    return await resolveResources(validated, opts, io, (v) => renderOne(v, opts));
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    for (const problem of err.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    io.stderr.write(`error: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} found; nothing was written\n`);
    io.exitCode = ExitCode.Failure;
    return undefined;
  }
}

function renderOne(v: ValidatedResource, opts: SynthOptions): Rendered {
  const { metadata } = v.resource;
  try {
    const objects = desired(v.resource, { bridgeImage: opts.bridgeImage, namespace: opts.namespace });
    const namespace = metadata.namespace ?? opts.namespace;
    return { file: namespace ? join(namespace, `${metadata.name}.yaml`) : `${metadata.name}.yaml`, objects };
  } catch (err) {
    throw new InvalidInputError([{ origin: v.origin, name: metadata.name, message: (err as Error).message }]);
  }
}

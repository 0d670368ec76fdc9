import { Command, Option } from 'commander';
import { mcpServerCrd } from '../spec/crd';
import { toYaml } from '../synth';
import { CliIo } from './io';

export function crdCommand(io: CliIo): Command {
  return new Command('crd')
    .description('Print the MCPServer CustomResourceDefinition (apply it with: mcp-operator crd | kubectl apply -f -)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action((opts: { output: 'yaml' | 'json' }) => {
      const crd = mcpServerCrd();
      io.stdout.write(opts.output === 'json' ? `${JSON.stringify(crd, null, 2)}\n` : toYaml([crd]));
    });
}

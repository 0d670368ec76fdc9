import { Command } from 'commander';
import { ValidatedResource } from '../synth';
import { CliIo } from './io';

export interface ResolveCliOptions {
  registryUrl?: string;
  offline?: boolean;
  update?: boolean;
  lockfile?: string;
  cacheDir?: string;
}

export function addResolveOptions(command: Command): Command {
  return command;
}

export async function resolveResources(resources: ValidatedResource[], _opts: ResolveCliOptions, _io: CliIo): Promise<ValidatedResource[]> {
  return resources;
}

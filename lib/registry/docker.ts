/**
 * OCI packages describe how to start them as `docker run` flags (`runtimeArguments`). A pod is not
 * `docker run`, so each flag is translated or dropped:
 *
 * | docker flag | in the pod |
 * | --- | --- |
 * | `-e/--env KEY=VALUE` | an environment variable, with the `{var}`'s required/secret/default/choices rules |
 * | `--entrypoint X` | `command: [X]` |
 * | `-p/--publish`, `--expose` | dropped, reported: the Service exposes `spec.port`; nothing publishes host ports |
 * | `-v/--volume`, `--mount`, `--tmpfs` | dropped, reported: host paths do not exist on a node we can rely on |
 * | `--network`, `--add-host`, `--dns`, `--hostname` | dropped, reported: the pod network decides |
 * | `--privileged`, `--cap-add`, `--user`, `--device`, ... | dropped, reported: pods run restricted (non-root, no capabilities) |
 * | `--rm`, `-i`, `-t`, `--init`, `--name`, ... | dropped silently: container lifecycle flags the kubelet and the stdio bridge replace |
 * | positional `run`, and the image reference itself | dropped silently: some publishers write the whole `docker run` line |
 * | anything else | dropped, reported |
 */
import { EnvRequirement, envFromDockerFlag, substitute } from './inputs';
import { Argument } from './types';

export interface DockerRuntime {
  readonly env: EnvRequirement[];
  readonly entrypoint?: string[];
  readonly warnings: string[];
}

const LIFECYCLE = new Set(['--rm', '-i', '-t', '-it', '-ti', '--interactive', '--tty', '--init', '-d', '--detach', '--name', '--pull', '--platform', '--restart', '--label', '-l', '--quiet', '-q', '--sig-proxy']);
const PORTS = new Set(['-p', '--publish', '-P', '--publish-all', '--expose']);
const STORAGE = new Set(['-v', '--volume', '--mount', '--tmpfs', '--volumes-from', '--read-only']);
const NETWORK = new Set(['--network', '--net', '--add-host', '--dns', '--hostname', '-h', '--network-alias']);
const PRIVILEGE = new Set(['--privileged', '--cap-add', '--cap-drop', '--security-opt', '--user', '-u', '--group-add', '--device', '--pid', '--ipc', '--userns', '--gpus']);
const ENV = new Set(['-e', '--env']);

const WHY: Array<[ReadonlySet<string>, string]> = [
  [PORTS, 'a pod publishes no host ports; the Service exposes spec.port'],
  [STORAGE, 'host paths cannot be mounted into a pod; the path stays empty unless you add a volume yourself'],
  [NETWORK, 'the pod network decides'],
  [PRIVILEGE, 'the pod runs restricted: non-root, no capabilities, no privilege escalation'],
];

export function dockerRuntime(args: readonly Argument[] | undefined, imageNames: readonly string[]): DockerRuntime {
  const out: { env: EnvRequirement[]; entrypoint?: string[]; warnings: string[] } = { env: [], warnings: [] };
  (args ?? []).forEach((arg, i) => {
    if (arg.type === 'positional') {
      const value = arg.value ?? arg.default;
      if ((i === 0 && value === 'run') || (value !== undefined && imageNames.includes(value))) return;
      out.warnings.push(`ignored positional docker argument ${JSON.stringify(value ?? arg.valueHint ?? '')}: a pod is not started with docker run`);
      return;
    }
    const flag = arg.name;
    if (ENV.has(flag)) {
      const req = envFromDockerFlag(arg);
      if (req) out.env.push({ ...req, source: `runtimeArguments[${i}]` });
      else out.warnings.push(`ignored docker flag ${flag} ${arg.value ?? ''}: not a KEY=VALUE environment variable`);
      return;
    }
    if (flag === '--entrypoint') {
      const value = substitute(arg.value ?? arg.default ?? '', arg.variables).value;
      if (value) out.entrypoint = [value];
      return;
    }
    if (LIFECYCLE.has(flag)) return;
    const shown = `${flag}${arg.value !== undefined ? ` ${arg.value}` : ''}`;
    const why = WHY.find(([set]) => set.has(flag))?.[1] ?? 'it has no equivalent in a pod spec';
    out.warnings.push(`ignored docker flag ${shown}: ${why}`);
  });
  return out;
}

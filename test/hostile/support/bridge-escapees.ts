import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStat } from '../../../lib/bridge/proc';
import { EVERYTHING, tempDir } from '../../bridge/helpers';

/**
 * How a process started by an MCP server tries to outlive its session. Each one records its
 * pid (`echo $$` before `exec sleep`, so the pid is the sleeping process) and ignores SIGTERM.
 */
export const ESCAPES = {
  // In the server's own group, orphaned by a double fork.
  'double fork': '( trap \'\' TERM; sh -c \'echo $$ >> "$1"; exec sleep 1000\' _ "$PIDS" & ) &',
  // Each job leads a process group of its own (setpgid) and exits at once, leaving a group whose
  // leader is gone: the class the issue counted 18 survivors of.
  'own process groups, leader gone': 'for i in 1 2 3; do perl -e \'setpgrp(0,0); exec @ARGV\' sh -c \'trap "" TERM; for j in 1 2; do sh -c "echo \\$\\$ >> \\"\\$1\\"; exec sleep 1000" _ "$1" & done\' _ "$PIDS" & done',
  // A new session, then a double fork: new sid, parent gone.
  'setsid + double fork': 'setsid sh -c \'trap "" TERM; sh -c "echo \\$\\$ >> \\"$1\\"; exec sleep 1000" _ "$1" &\' _ "$PIDS" &',
  // A new session with an empty environment while its parent (the server) lives.
  'setsid with a cleared environment': `env -i PIDS="$PIDS" ${'$'}(command -v setsid) /bin/sh -c 'trap "" TERM; echo $$ >> "$PIDS"; exec /bin/sleep 1000' &`,
} as const;

export type EscapeKind = keyof typeof ESCAPES;

export interface EscapeScript {
  /** Command and args for the bridge: the script starts the escapees, then execs server-everything. */
  readonly command: string;
  readonly args: string[];
  readonly dir: string;
  /** The pids the escapees of the server process `rootPid` recorded (probe and session run the script alike). */
  pids(rootPid: number): number[];
  /** Every escapee pid recorded by any run of the script. */
  allPids(): number[];
}

export function escapeScript(kinds: readonly EscapeKind[]): EscapeScript {
  const dir = tempDir('mcp-bridge-escape-');
  const script = join(dir, 'server.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `PIDS='${dir}/pids.'$$`,
      'export PIDS',
      ...kinds.map((kind) => `# ${kind}\n${ESCAPES[kind]}`),
      // Stdout belongs to the MCP protocol: the escapees never write to it.
      `exec '${process.execPath}' '${EVERYTHING}' stdio`,
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return {
    command: '/bin/sh',
    args: [script],
    dir,
    pids: (rootPid) => readPids(join(dir, `pids.${rootPid}`)),
    allPids: () => readdirSync(dir).filter((name) => name.startsWith('pids.')).flatMap((name) => readPids(join(dir, name))),
  };
}

function readPids(file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

/** Escapees one script of `kinds` starts. */
export function expectedCount(kinds: readonly EscapeKind[]): number {
  return kinds.reduce((n, kind) => n + (kind === 'own process groups, leader gone' ? 6 : 1), 0);
}

/** Running (not zombie) processes among `pids`. */
export function survivors(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    const stat = readStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  });
}

/** Best effort for a failed test: do not leave sleepers behind. */
export function killAll(pids: readonly number[]): void {
  for (const pid of survivors(pids)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

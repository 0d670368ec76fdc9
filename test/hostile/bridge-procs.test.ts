import { rmSync } from 'node:fs';
import { ESCAPES, escapeScript, expectedCount, killAll, survivors, type EscapeKind } from './support/bridge-escapees';
import { bridgeBundle, removeBridgeBundle } from './support/bridge-subprocess';
import type { BridgeHandle } from '../../lib/bridge';
import { connectStreamable, disconnect, listeningUrl, spawnNode, startTestBridge, textOf, waitFor } from '../bridge/helpers';

// Whatever a session's server starts ends with the session, however it tried to escape:
// double forks, process groups whose leader exited, setsid (with and without its environment),
// all ignoring SIGTERM. Before the fix, only the server's own process group was signalled.

jest.setTimeout(60_000);

const KINDS = Object.keys(ESCAPES) as EscapeKind[];
const started: number[] = [];
const bridges: BridgeHandle[] = [];

beforeAll(() => bridgeBundle());

afterEach(async () => {
  for (const bridge of bridges.splice(0)) await bridge.close({ graceMs: 0 });
  killAll(started.splice(0));
});

afterAll(() => removeBridgeBundle());

interface EscapeSession {
  readonly bridge: BridgeHandle;
  readonly conn: Awaited<ReturnType<typeof connectStreamable>>;
  /** Escapees of the session's server process. */
  readonly pids: number[];
  readonly dir: string;
}

async function sessionWithEscapees(kinds: readonly EscapeKind[]): Promise<EscapeSession> {
  const script = escapeScript(kinds);
  const bridge = await startTestBridge({ command: script.command, args: script.args, poolSize: 0, killGraceMs: 500 });
  bridges.push(bridge);
  const conn = await connectStreamable(bridge.url);
  expect(textOf(await conn.client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
  const root = bridge.stats().sessions[0]!.pid!;
  const pids = await waitFor(() => (script.pids(root).length >= expectedCount(kinds) ? script.pids(root) : undefined), 'the escapees to start');
  started.push(...script.allPids());
  expect(survivors(pids)).toEqual(pids);
  // The readiness probe ran the same script; its child was killed after the handshake, and so were its escapees.
  await waitFor(() => bridge.readiness().ready, 'the readiness probe');
  const probes = script.allPids().filter((pid) => !pids.includes(pid));
  await waitFor(() => survivors(probes).length === 0, `the probe's escapees to be gone (left: ${survivors(probes).join(',')})`, 5000);
  return { bridge, conn, pids, dir: script.dir };
}

test.each(KINDS)('%s: killed when the session ends', async (kind) => {
  const { conn, pids, dir } = await sessionWithEscapees([kind]);
  await disconnect(conn);
  await waitFor(() => survivors(pids).length === 0, `every escapee to be gone (left: ${survivors(pids).join(',')})`, 5000);
  rmSync(dir, { recursive: true, force: true });
});

test('all of them at once: nothing survives the bridge closing with the session still open', async () => {
  const { bridge, pids, dir } = await sessionWithEscapees(KINDS);
  expect(pids).toHaveLength(expectedCount(KINDS));
  await bridge.close({ graceMs: 0 });
  bridges.splice(bridges.indexOf(bridge), 1);
  expect(survivors(pids)).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

test('nothing survives SIGTERM to the bridge process', async () => {
  const script = escapeScript(KINDS);
  const bridge = spawnNode([await bridgeBundle(), 'serve', '--host', '127.0.0.1', '--port', '0', '--pool', '0', '--kill-grace', '0.5', '--', script.command, ...script.args]);
  const url = await listeningUrl(bridge);
  const conn = await connectStreamable(url);
  // Probe and session each ran the script: both sets must be gone after the bridge exits.
  const pids = await waitFor(() => (script.allPids().length >= 2 * expectedCount(KINDS) ? script.allPids() : undefined), 'the escapees to start');
  started.push(...pids);
  bridge.proc.kill('SIGTERM');
  const exit = await bridge.exited;
  expect(exit.code).toBe(0);
  expect(survivors(pids)).toEqual([]);
  await conn.client.close();
  rmSync(script.dir, { recursive: true, force: true });
});

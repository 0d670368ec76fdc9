import type { KubeObject } from '../lib/controller/kube';
import { NOT_READY_GRACE_MS, podIssue } from '../lib/controller/pods';

const pod = (status: Record<string, unknown>, name = 'p'): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, status });

describe('why pods are not ready (what Available says)', () => {
  test('a crash loop names the last exit code and the log tail, on one line, escape sequences removed', () => {
    const issue = podIssue([pod({
      containerStatuses: [{
        name: 'mcp-server',
        restartCount: 2,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: { terminated: { exitCode: 3, reason: 'Error', message: 'starting\n\x1b[31mcannot open the database\x1b[0m\n' } },
      }],
    })]);
    expect(issue).toEqual({ reason: 'CrashLoopBackOff', message: 'pod p, container mcp-server (restarted 2×): last run exited with code 3: starting cannot open the database' });
  });

  test('unschedulable comes with the scheduler\'s message; severity orders several pods', () => {
    const unschedulable = pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' }] }, 'a');
    const pulling = pod({ containerStatuses: [{ name: 'mcp-server', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } } }] }, 'b');
    expect(podIssue([unschedulable])).toEqual({ reason: 'Unschedulable', message: 'pod a cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu.' });
    expect(podIssue([unschedulable, pulling])?.reason).toBe('ImagePullBackOff');
  });

  test('a running container that is not ready is normal while it starts, reported only after the grace', () => {
    const startedAt = new Date(0).toISOString();
    const running = pod({ containerStatuses: [{ name: 'mcp-server', ready: false, state: { running: { startedAt } } }] });
    expect(podIssue([running], NOT_READY_GRACE_MS - 1)).toBeUndefined();
    expect(podIssue([running], NOT_READY_GRACE_MS + 1)?.reason).toBe('NotReady');
  });

  test('terminating pods and healthy pods say nothing', () => {
    const terminating = { ...pod({ containerStatuses: [{ name: 'c', state: { waiting: { reason: 'CrashLoopBackOff' } } }] }), metadata: { name: 't', deletionTimestamp: 'now' } };
    expect(podIssue([terminating, pod({ containerStatuses: [{ name: 'c', ready: true, state: { running: {} } }] })])).toBeUndefined();
  });
});

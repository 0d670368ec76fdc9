/**
 * The Pod Security Standards "restricted" profile (v1.28+), checked on a pod spec the way the
 * PodSecurity admission plugin checks it, so synthesis can prove compliance without a cluster. The
 * integration tests check the same objects against a real API server.
 */

export interface PolicyViolation {
  readonly path: string;
  readonly message: string;
}

type Obj = Record<string, any>;

const ALLOWED_VOLUME_TYPES = new Set([
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret',
]);

/** Violations of PodSecurity `restricted` in a pod spec; `path` is relative to the pod spec. */
export function restrictedViolations(podSpec: Obj): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const podSc: Obj = podSpec.securityContext ?? {};
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (podSpec[key] === true) out.push({ path: key, message: 'must not be true' });
  }
  (podSpec.volumes ?? []).forEach((v: Obj, i: number) => {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type && !ALLOWED_VOLUME_TYPES.has(type)) out.push({ path: `volumes[${i}].${type}`, message: 'volume type is not allowed' });
  });
  if (podSc.runAsUser === 0) out.push({ path: 'securityContext.runAsUser', message: 'must not be 0' });
  const podSeccomp = podSc.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp)) {
    out.push({ path: 'securityContext.seccompProfile.type', message: 'must be RuntimeDefault or Localhost' });
  }
  const containers: Array<[string, Obj]> = [
    ...(podSpec.initContainers ?? []).map((c: Obj, i: number) => [`initContainers[${i}]`, c] as [string, Obj]),
    ...(podSpec.containers ?? []).map((c: Obj, i: number) => [`containers[${i}]`, c] as [string, Obj]),
  ];
  for (const [path, c] of containers) out.push(...containerViolations(path, c, podSc));
  return out;
}

function containerViolations(path: string, c: Obj, podSc: Obj): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const sc: Obj = c.securityContext ?? {};
  if (sc.privileged === true) out.push({ path: `${path}.securityContext.privileged`, message: 'must not be true' });
  if (sc.allowPrivilegeEscalation !== false) out.push({ path: `${path}.securityContext.allowPrivilegeEscalation`, message: 'must be false' });
  const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
  if (runAsNonRoot !== true) out.push({ path: `${path}.securityContext.runAsNonRoot`, message: 'must be true (here or on the pod)' });
  if (sc.runAsUser === 0) out.push({ path: `${path}.securityContext.runAsUser`, message: 'must not be 0' });
  const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
  if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) {
    out.push({ path: `${path}.securityContext.seccompProfile.type`, message: 'must be RuntimeDefault or Localhost (here or on the pod)' });
  }
  const drop: string[] = sc.capabilities?.drop ?? [];
  if (!drop.includes('ALL')) out.push({ path: `${path}.securityContext.capabilities.drop`, message: 'must include ALL' });
  const add: string[] = sc.capabilities?.add ?? [];
  for (const cap of add) {
    if (cap !== 'NET_BIND_SERVICE') out.push({ path: `${path}.securityContext.capabilities.add`, message: `must not add ${cap}` });
  }
  (c.ports ?? []).forEach((p: Obj, i: number) => {
    if (p.hostPort) out.push({ path: `${path}.ports[${i}].hostPort`, message: 'must not be set' });
  });
  return out;
}

/** The pod spec inside a workload object, or undefined for objects that run no pods. */
export function podSpecOf(object: Obj): Obj | undefined {
  if (object.kind === 'Pod') return object.spec;
  return object.spec?.template?.spec;
}

/**
 * The PodSecurity `restricted` security contexts, shared by MCP server pods and the controller's own.
 * Kept as plain core/v1 JSON so both the cdk8s-plus constructs and the raw k8s bindings can use them.
 */
export function restrictedPodSecurityContext(user: number, group: number, fsGroup = group) {
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: group,
    fsGroup,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function restrictedContainerSecurityContext(user: number, group: number, readOnlyRootFilesystem: boolean) {
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: group,
    readOnlyRootFilesystem,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

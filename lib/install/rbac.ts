/**
 * The permissions the controller really uses, and nothing more. The integration tests run the
 * controller as a ServiceAccount bound to exactly these rules through a full create/update/delete.
 */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

const READ = ['get', 'list', 'watch'] as const;

export const CONTROLLER_RULES: readonly PolicyRule[] = [
  // The resources it reconciles; `update`/`patch` add and remove its finalizer.
  { apiGroups: ['mcp.io'], resources: ['mcpservers'], verbs: [...READ, 'update', 'patch'] },
  { apiGroups: ['mcp.io'], resources: ['mcpservers/status'], verbs: ['get', 'update', 'patch'] },
  // Setting blockOwnerDeletion on owned objects needs update on the owner's finalizers.
  { apiGroups: ['mcp.io'], resources: ['mcpservers/finalizers'], verbs: ['update'] },
  // The objects it owns, applied server-side and pruned.
  { apiGroups: ['apps'], resources: ['deployments'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['services', 'configmaps', 'serviceaccounts'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
  // Deletion waits until the pods are gone.
  { apiGroups: [''], resources: ['pods'], verbs: [...READ] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

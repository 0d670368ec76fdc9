/**
 * `mcp-operator/controller`: the controller, kept out of the main entry so that construct and CLI
 * users never load its Kubernetes client.
 */
export { startController, createLogger, DEFAULT_LEASE_NAMESPACE } from './controller';
export type { StartControllerOptions, RunningController, LeaderElectionOptions, ExitReason } from './controller';
export { noRegistryResolver, ResolverNotConfiguredError, registryResolveHook, REGISTRY_SYNC_ANNOTATION } from './resolve';
export type { ResolveHook, Resolution, RegistryHookOptions } from './resolve';
export type { Verifier, Verification } from './verify';
export type { ControllerMetrics } from './metrics';
export { FINALIZER, serverUrl, selectorFor } from './reconciler';
export { RECONCILE_ID_ANNOTATION } from './events';
export { FIELD_MANAGER } from './kube';
export { loadConnection } from './kubeconfig';
export type { ClusterConnection } from './kubeconfig';

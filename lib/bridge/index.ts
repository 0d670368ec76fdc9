export { startBridge, type BridgeHandle, type BridgeStats } from './bridge';
export { formatVerifyResult, type OutputFormat } from './format';
export { DEFAULTS as BRIDGE_DEFAULTS, type BridgeOptions } from './options';
export type { ReadinessState } from './readiness';
export type { SessionEndReason, SessionInfo, TransportKind } from './session';
export { verifyServer, type VerifyFailure, type VerifyOptions, type VerifyResult, type VerifyTool, type VerifyTransport } from './verify';

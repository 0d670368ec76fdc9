/**
 * Optional post-rollout check (`--verify` or `spec.verify`): connect to the server's in-cluster URL
 * as an MCP client and record how many tools it lists.
 */
export interface Verification {
  readonly ok: boolean;
  readonly tools?: number;
  readonly reason: string;
  readonly message: string;
}

export type Verifier = (url: string) => Promise<Verification>;

const TIMEOUT_MS = 10_000;

/**
 * The server checked is a tenant's pod, and the check runs inside the controller (256Mi limit, several
 * reconciles at once): what it may send is bounded well below the CLI's defaults.
 */
const LIMITS = { maxMessageBytes: 4 * 1024 * 1024, maxTotalBytes: 16 * 1024 * 1024 };

/** The bridge's MCP client check; loaded on first use so a controller that never verifies never loads the MCP SDK. */
export const mcpVerifier: Verifier = async (url) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { verifyServer } = require('../bridge/verify') as typeof import('../bridge/verify');
  const result = await verifyServer(url, { timeoutMs: TIMEOUT_MS, limits: LIMITS });
  if (result.ok) {
    return { ok: true, tools: result.tools.length, reason: 'ToolsListed', message: `${result.tools.length} tools listed via ${result.transport ?? 'MCP'}` };
  }
  const kind = result.error?.kind ?? 'network';
  return { ok: false, reason: pascal(kind), message: result.error?.message ?? 'verification failed' };
};

function pascal(kind: string): string {
  return kind.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

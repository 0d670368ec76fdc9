import { execFileSync } from 'child_process';
import { join, resolve } from 'path';

/** The helm binary, built from its Go module and cached outside the clone (hack/helm.sh) on first use. */
export const HELM = execFileSync('bash', [join(resolve(__dirname, '../..'), 'hack/helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

import { readFileSync, existsSync } from 'fs';
import { dirname, join } from 'path';

/** The package root, found by walking up: sources run from lib/ under ts-jest and from build/lib/ when compiled. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package.json of mcp-operator not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export const PROJECT_VERSION: string = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;

/** The project's own image: the controller, and the self-contained stdio bridge under /opt/mcp-operator. */
export const OPERATOR_IMAGE_REPOSITORY = 'ghcr.io/mcp-operator/mcp-operator';
export const BRIDGE_IMAGE = `${OPERATOR_IMAGE_REPOSITORY}:v${PROJECT_VERSION}`;

#!/usr/bin/env bash
# Lays out the file tree the container image holds under <root>/opt/mcp-operator: the compiled CLI and
# controller with production dependencies only, and the self-contained bridge. The Dockerfile runs it,
# and the tests run it too and start the controller from the tree, since no Docker engine runs here.
# Usage: hack/image-tree.sh <root>   (after `npx tsc --build` and `hack/build-bridge.sh`)
set -euo pipefail
root=${1:?usage: hack/image-tree.sh <root>}
src=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/opt/mcp-operator
rm -rf "$dest" && mkdir -p "$dest/build"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cp -r "$src/bin" "$dest/bin"
cp -r "$src/build/lib" "$dest/build/lib"
if [[ -x $src/build/bridge/mcp-bridge ]]; then cp "$src/build/bridge/mcp-bridge" "$dest/mcp-bridge"; fi
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$dest"

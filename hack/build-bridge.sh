#!/usr/bin/env bash
# Builds build/bridge/mcp-bridge: the in-pod MCP bridge as ONE self-contained executable
# (a Node.js single executable application). An init container copies it into a shared
# emptyDir (`mcp-bridge install /bridge/mcp-bridge`), and the MCP server's own image runs
# `/bridge/mcp-bridge serve --port 8080 -- <server command>` with no node and no shell of its own.
#
# Usage: hack/build-bridge.sh [--bundle-only] [--no-smoke]
#   --bundle-only  stop after the esbuild bundle (build/bridge/mcp-bridge.cjs, runs on any node >= 22)
#   --no-smoke     skip the end-to-end check of the executable
# Environment: NODE (the node binary to embed; default: node on PATH), OUT (default build/bridge).
#
# The executable embeds the node binary it is built with, so it runs where that node runs:
# same CPU architecture, glibc-based Linux (see the summary printed at the end).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/build/bridge}
NODE=$(readlink -f "${NODE:-$(command -v node)}")
SEA_FUSE=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
BUNDLE_ONLY=false
SMOKE=true
for arg in "$@"; do
  case "$arg" in
    --bundle-only) BUNDLE_ONLY=true ;;
    --no-smoke) SMOKE=false ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[build-bridge] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

node_major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 22 ] || die "$NODE is node $("$NODE" --version); node >= 22 is needed (run: source hack/env.sh)"
mkdir -p "$OUT"

# 1. One CommonJS file with every dependency inside: a SEA can only require() built-ins.
log "bundling lib/cli/bridge-standalone.ts"
"$ROOT/node_modules/.bin/esbuild" "$ROOT/lib/cli/bridge-standalone.ts" \
  --bundle --platform=node --target=node22 --format=cjs \
  --minify --keep-names --legal-comments=none --log-level=warning \
  --outfile="$OUT/mcp-bridge.cjs"
$BUNDLE_ONLY && { log "bundle: $OUT/mcp-bridge.cjs"; exit 0; }

# 2. The SEA blob. The code cache saves compiling the bundle at every start; it is only valid
#    for this exact node build, which is the one being embedded.
cat > "$OUT/sea-config.json" <<EOF
{
  "main": "$OUT/mcp-bridge.cjs",
  "output": "$OUT/sea-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": true,
  "useSnapshot": false
}
EOF
log "preparing the SEA blob with $NODE ($("$NODE" --version))"
"$NODE" --experimental-sea-config "$OUT/sea-config.json"

# 3. A copy of node with the blob injected behind the sentinel fuse.
grep -q "$SEA_FUSE" "$NODE" || die "$NODE has no SEA fuse (a distro build without SEA support?); use an official nodejs.org build"
cp "$NODE" "$OUT/mcp-bridge.tmp"
chmod u+w "$OUT/mcp-bridge.tmp"
# Official builds keep their full symbol table, which only profilers use: dropping it makes the
# file ~15% smaller to copy into every pod. .dynsym stays, so native addons would still link.
# Stripped before injection, since strip rewrites the sections the blob is injected into.
if command -v strip >/dev/null; then strip --strip-all "$OUT/mcp-bridge.tmp" 2>/dev/null; fi
log "injecting the blob"
"$NODE" "$ROOT/node_modules/postject/dist/cli.js" "$OUT/mcp-bridge.tmp" NODE_SEA_BLOB "$OUT/sea-prep.blob" \
  --sentinel-fuse "$SEA_FUSE" >/dev/null
mv "$OUT/mcp-bridge.tmp" "$OUT/mcp-bridge"
chmod 0755 "$OUT/mcp-bridge"
rm -f "$OUT/sea-prep.blob" "$OUT/sea-config.json"

# 4. Proof: from an empty directory, with no node on PATH and no node_modules anywhere near,
#    the executable serves server-everything over MCP, verifies it, installs itself, and exits 0
#    on SIGTERM.
smoke() {
  local dir pid url
  dir=$(mktemp -d)
  trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' RETURN
  cp "$OUT/mcp-bridge" "$dir/"
  cd "$dir"
  [ ! -e node_modules ] && [ ! -e ../node_modules ] || die "smoke directory is not isolated"
  env -i PATH=/usr/bin:/bin HOME="$dir" ./mcp-bridge serve --host 127.0.0.1 --port 0 --pool 1 -- \
    "$NODE" "$ROOT/node_modules/@modelcontextprotocol/server-everything/dist/index.js" stdio 2>"$dir/bridge.log" &
  pid=$!
  for _ in $(seq 100); do
    url=$(sed -n 's/.*"url":"\([^"]*\)".*"msg":"mcp bridge listening".*/\1/p' "$dir/bridge.log")
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$dir/bridge.log" >&2; die "the executable did not start listening"; }
  env -i PATH=/usr/bin:/bin ./mcp-bridge verify "$url" --timeout 20 >&2 || die "verify failed against the executable"
  mkdir "$dir/shared"
  env -i PATH=/usr/bin:/bin ./mcp-bridge install "$dir/shared" >&2
  [ "$(stat -c %a "$dir/shared/mcp-bridge")" = 755 ] || die "install did not set mode 0755"
  "$dir/shared/mcp-bridge" --help >/dev/null || die "the installed copy does not run"
  kill -TERM "$pid"
  wait "$pid" || die "the executable exited $? after SIGTERM (want 0)"
  log "smoke test passed: served MCP from $dir (no node_modules, no node on PATH), installed, exited 0 on SIGTERM"
}
$SMOKE && (smoke)

glibc=$(objdump -T "$OUT/mcp-bridge" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
glibcxx=$(objdump -T "$OUT/mcp-bridge" 2>/dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1 || true)
log "built $OUT/mcp-bridge ($(du -h "$OUT/mcp-bridge" | cut -f1), $(uname -m), node $("$NODE" --version))"
log "needs: Linux $(uname -m), ${glibc:-glibc} (libc.so.6), libstdc++.so.6 ${glibcxx:-}, libgcc_s.so.1, libm, libdl, libpthread"

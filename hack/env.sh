# Source this file: puts a Node.js >= 22.19 first on PATH, installing Node 24 from the npm registry
# into a cache outside the clone when the machine's own Node is older (Debian ships 20).
# Usage: source hack/env.sh
MCP_OPERATOR_CACHE="${MCP_OPERATOR_CACHE:-$HOME/.cache/mcp-operator}"
export MCP_OPERATOR_CACHE
__mcp_node_ok() {
  command -v node >/dev/null 2>&1 && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)'
}
if ! __mcp_node_ok; then
  __mcp_node_dir="$MCP_OPERATOR_CACHE/node-24"
  if [ ! -x "$__mcp_node_dir/node_modules/.bin/node" ]; then
    echo "hack/env.sh: installing Node 24 into $__mcp_node_dir" >&2
    mkdir -p "$__mcp_node_dir"
    npm install --silent --no-audit --no-fund --prefix "$__mcp_node_dir" node@24 >&2
  fi
  export PATH="$__mcp_node_dir/node_modules/.bin:$PATH"
  hash -r
  __mcp_node_ok || { echo "hack/env.sh: could not get Node >= 22.19" >&2; return 1 2>/dev/null || exit 1; }
fi
unset -f __mcp_node_ok

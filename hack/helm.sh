#!/usr/bin/env bash
# Prints the path of a helm binary built from its Go module at a pinned version, building it into the
# cache (outside the clone, keyed by version) the first time. Usage: "$(bash hack/helm.sh)" template ...
set -euo pipefail
HELM_VERSION=v3.22.0
CACHE_ROOT=${MCP_OPERATOR_CACHE:-${HOME:-/tmp}/.cache/mcp-operator}
DIR=$CACHE_ROOT/helm-$HELM_VERSION
if [[ ! -x $DIR/bin/helm ]] || ! "$DIR/bin/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  echo "[helm] building helm $HELM_VERSION into $DIR (first run only)" >&2
  tmp=$(mktemp -d "$CACHE_ROOT/.helm-build.XXXXXX")
  start=$(date +%s)
  GOTOOLCHAIN=local GOFLAGS=-trimpath GOBIN=$tmp/bin go install -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mkdir -p "$DIR"
  rm -rf "$DIR/bin" && mv "$tmp/bin" "$DIR/bin" && rm -rf "$tmp"
  echo "[helm] built in $(( $(date +%s) - start ))s" >&2
fi
echo "$DIR/bin/helm"

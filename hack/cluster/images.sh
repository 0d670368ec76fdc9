# Images for the e2e cluster, built without a container daemon (sourced by hack/cluster.sh).
#
#   registry.k8s.io/pause:3.10.1                  the sandbox image: a static C binary (pause.c)
#   localhost/mcp-test/server-everything:<ver>    Node + @modelcontextprotocol/server-everything installed,
#                                                 so nothing is fetched at pod start; serves MCP over stdio
#                                                 (through the bridge) or natively over streamable HTTP
#   <OPERATOR_IMAGE_REPOSITORY>:v<version>        the project's image: the same file tree as the Dockerfile
#                                                 (controller + the self-contained bridge) on a distroless-
#                                                 like root: /nodejs/bin/node, its shared libraries, CA
#                                                 certificates, passwd/group, nothing else (no shell)
#
# Base images are cached by the inputs that make them; the project's image by a hash of build/ (so a
# recompile rebuilds it, and an unchanged tree is not imported twice).

OCI_IMAGE=$CONF_SRC/oci-image.sh
PAUSE_REF=registry.k8s.io/pause:3.10.1
pkg_version() { node -p "const p=require('$REPO/package.json'); (p.dependencies||{})['$1'] || (p.devDependencies||{})['$1']"; }
SERVER_EVERYTHING_VERSION=$(pkg_version @modelcontextprotocol/server-everything)
TEST_SERVER_REF=localhost/mcp-test/server-everything:$SERVER_EVERYTHING_VERSION
PROJECT_VERSION=$(node -p "require('$REPO/package.json').version")
OPERATOR_REPOSITORY=$(sed -n "s/^export const OPERATOR_IMAGE_REPOSITORY = '\(.*\)';$/\1/p" "$REPO/lib/version.ts")
PROJECT_REF=$OPERATOR_REPOSITORY:v$PROJECT_VERSION

# The node binary the images carry: the one on PATH (hack/env.sh puts Node 24 there).
node_binary() { readlink -f "$(command -v node)"; }

# distroless_root DIR NODE_DEST: node, the shared libraries ldd lists, CA certificates, the nonroot
# user (65532) and a world-writable /tmp, as in gcr.io/distroless/nodejs*:nonroot.
distroless_root() {
  local root=$1 dest=$2 node lib
  node=$(node_binary)
  mkdir -p "$root$(dirname "$dest")" "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  cp "$node" "$root$dest"
  for lib in $(ldd "$node" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; fi
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$root/etc/group"
  chown 65532:65532 "$root/home/nonroot"
}

build_base_images() {
  mkdir -p "$IMAGES"
  local key w
  # pause: keyed by its source
  key=$(sha256sum "$CONF_SRC/pause.c" | cut -c1-16)
  if [[ ! -f $IMAGES/pause-$key.tar ]]; then
    w=$(mktemp -d)
    mkdir -p "$w/root"
    gcc -Os -static -o "$w/root/pause" "$CONF_SRC/pause.c"
    strip "$w/root/pause"
    "$OCI_IMAGE" "$w/root" "$PAUSE_REF" "$IMAGES/pause-$key.tar.tmp" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
    mv "$IMAGES/pause-$key.tar.tmp" "$IMAGES/pause-$key.tar"
    rm -rf "$w"
  fi
  ln -sfn "pause-$key.tar" "$IMAGES/pause.tar"
  # test MCP server: keyed by the server's version and the node binary
  key=$(printf '%s %s' "$SERVER_EVERYTHING_VERSION" "$(sha256sum "$(node_binary)" | cut -c1-16)" | sha256sum | cut -c1-16)
  if [[ ! -f $IMAGES/server-everything-$key.tar ]]; then
    log "building $TEST_SERVER_REF"
    w=$(mktemp -d)
    distroless_root "$w/root" /usr/local/bin/node
    mkdir -p "$w/root/opt/server-everything"
    npm install --prefix "$w/root/opt/server-everything" --omit=dev --no-audit --no-fund --no-save --loglevel=error \
      "@modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION" >&2
    "$OCI_IMAGE" "$w/root" "$TEST_SERVER_REF" "$IMAGES/server-everything-$key.tar.tmp" \
      '{"Entrypoint":["/usr/local/bin/node","/opt/server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js"],"Cmd":["stdio"],"User":"65532:65532","WorkingDir":"/opt/server-everything"}'
    mv "$IMAGES/server-everything-$key.tar.tmp" "$IMAGES/server-everything-$key.tar"
    rm -rf "$w"
  fi
  ln -sfn "server-everything-$key.tar" "$IMAGES/server-everything.tar"
}

load_base_images() {
  ctr images import "$IMAGES/pause.tar" >/dev/null
  ctr images import "$IMAGES/server-everything.tar" >/dev/null
}

# The project's image from the current build/ (npm run compile) and the bridge executable; `force`
# rebuilds even when the tree is unchanged. Loaded into containerd when the cluster's containerd runs.
ensure_project_image() {
  local force=${1:-} key w tree lockkey bridge_key bridge
  [[ -f $REPO/build/lib/cli/main.js ]] || die "build/ is missing: run 'npm run compile' first"
  # The bridge executable, cached by its sources, the lockfile and the node it embeds.
  bridge_key=$( { find "$REPO/lib" -name '*.ts' -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum "$REPO/package-lock.json" "$REPO/hack/build-bridge.sh" "$(node_binary)"; } | sha256sum | cut -c1-16)
  bridge=$CACHE_ROOT/bridge-$bridge_key/mcp-bridge
  if [[ ! -x $bridge ]]; then
    log "building the bridge executable"
    OUT=$CACHE_ROOT/bridge-$bridge_key bash "$REPO/hack/build-bridge.sh" --no-smoke >&2
    find "$CACHE_ROOT" -maxdepth 1 -name 'bridge-*' -not -name "bridge-$bridge_key" -exec rm -rf {} +
  fi
  # Production node_modules of the image tree, cached by the lockfile (npm ci is the slow part).
  lockkey=$(sha256sum "$REPO/package-lock.json" | cut -c1-16)
  tree=$CACHE_ROOT/image-tree-$lockkey
  if [[ ! -d $tree/opt/mcp-operator/node_modules ]]; then
    log "installing the image's production dependencies"
    rm -rf "$tree.tmp"
    bash "$REPO/hack/image-tree.sh" "$tree.tmp" >/dev/null
    rm -rf "$tree" && mv "$tree.tmp" "$tree"
    find "$CACHE_ROOT" -maxdepth 1 -name 'image-tree-*' -not -name "image-tree-$lockkey" -exec rm -rf {} +
  fi
  key=$( { find "$REPO/build/lib" "$REPO/bin" -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum "$bridge" "$REPO/package.json" "$(node_binary)"; echo "$lockkey"; } | sha256sum | cut -c1-16)
  if [[ $force == force || ! -f $IMAGES/project-$key.tar ]]; then
    log "building $PROJECT_REF"
    w=$(mktemp -d)
    distroless_root "$w/root" /nodejs/bin/node
    mkdir -p "$w/root/opt/mcp-operator/build"
    cp -a "$tree/opt/mcp-operator/node_modules" "$w/root/opt/mcp-operator/"
    cp "$REPO/package.json" "$REPO/package-lock.json" "$w/root/opt/mcp-operator/"
    cp -r "$REPO/bin" "$w/root/opt/mcp-operator/bin"
    cp -r "$REPO/build/lib" "$w/root/opt/mcp-operator/build/lib"
    cp "$bridge" "$w/root/opt/mcp-operator/mcp-bridge"
    # The same entrypoint and user as the Dockerfile.
    "$OCI_IMAGE" "$w/root" "$PROJECT_REF" "$IMAGES/project-$key.tar.tmp" \
      '{"Entrypoint":["/nodejs/bin/node","/opt/mcp-operator/bin/mcp-operator.js"],"Cmd":["controller","--leader-elect"],"User":"65532:65532","WorkingDir":"/opt/mcp-operator","ExposedPorts":{"8080/tcp":{},"8081/tcp":{}}}'
    mv "$IMAGES/project-$key.tar.tmp" "$IMAGES/project-$key.tar"
    rm -rf "$w"
    find "$IMAGES" -maxdepth 1 -name 'project-*.tar' -not -name "project-$key.tar" -delete
  fi
  ln -sfn "project-$key.tar" "$IMAGES/project.tar"
  if ours containerd /usr/bin/containerd >/dev/null 2>&1; then
    if [[ $force == force || $(cat "$RUN/project-image.loaded" 2>/dev/null) != "$key" ]]; then
      ctr images import "$IMAGES/project.tar" >/dev/null
      echo "$key" >"$RUN/project-image.loaded"
      log "loaded $PROJECT_REF ($key)"
    fi
  fi
}

#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine for the e2e tests and for trying the operator:
# etcd + kube-apiserver (hack/control-plane.sh), containerd + runc (Debian), a CNI bridge, kubelet,
# kube-controller-manager, kube-scheduler and kube-proxy, all v1.35.4 built from hack/controlplane/go.mod
# and cached by version outside the clone. Images are built without a daemon (hack/cluster/oci-image.sh)
# and imported into containerd; nothing is ever pulled.
#
#   hack/cluster.sh build                 build/cache the binaries and the images (no cluster started)
#   hack/cluster.sh up                    start (or reuse) the cluster; stdout: KUBECONFIG=<path> and KUBECTL=<path>
#   hack/cluster.sh status                exit 0 when every component runs and the node is Ready
#   hack/cluster.sh kubectl ARGS...       the cached kubectl against the cluster
#   hack/cluster.sh load-image ARCHIVE    import an OCI or docker-save archive into the node's containerd
#   hack/cluster.sh images                (re)build the project's image from the current build/ and load it
#   hack/cluster.sh rss                   resident memory of every component
#   hack/cluster.sh down                  stop everything by pid and restore the host (sysctls, iptables,
#                                         mounts, cni0, fixed paths the components wrote)
#
# What the host sees: the API server binds the bridge address 10.88.0.1 only (pods reach it through
# the `kubernetes` Service); the kubelet API takes client certificates and webhook authorization, never
# anonymous requests; two mangle/FORWARD rules drop anything entering or leaving cni0 from or to another
# interface, so pod traffic never leaves this machine.
#
# Environment:
#   MCP_OPERATOR_CACHE          binary and image cache root (default: $HOME/.cache/mcp-operator)
#   MCP_OPERATOR_CLUSTER_STATE  state dir: control plane, containerd root, kubelet, logs (default: /tmp/mcp-operator-cluster)
#
# Informational output goes to stderr; stdout carries only results.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HACK_DIR/.." && pwd)
MOD_DIR=$HACK_DIR/controlplane
CONF_SRC=$HACK_DIR/cluster
export GOTOOLCHAIN=local

log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

modver() { awk -v m="$1" '($1 == m && $2 ~ /^v[0-9]/) { print $2; exit }' "$MOD_DIR/go.mod"; }
K8S_VERSION=$(modver k8s.io/kubernetes)
ETCD_VERSION=$(modver go.etcd.io/etcd/server/v3)
CACHE_ROOT=${MCP_OPERATOR_CACHE:-${HOME:-/tmp}/.cache/mcp-operator}
CP_BIN=$CACHE_ROOT/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}/bin
NODE_BIN=$CACHE_ROOT/k8s-node-${K8S_VERSION}/bin
IMAGES=$CACHE_ROOT/images
STATE=${MCP_OPERATOR_CLUSTER_STATE:-/tmp/mcp-operator-cluster}
RUN=$STATE/run
PKI=$RUN/pki
CONF=$RUN/conf

# The node's network: a bridge that exists only on this machine. Its gateway address is also where
# the API server listens and the node's InternalIP.
BRIDGE=cni0 POD_CIDR=10.88.0.0/16 GW=10.88.0.1
# Not the bare control plane's 10.0.0.0/16: this node's kube-proxy routes its ClusterIPs on the host,
# and integration tests on a plane of their own must not reach these Services by accident.
SERVICE_CIDR=10.96.0.0/16
NODE_NAME=mcp-node
GUARD=mcp-operator-cluster-guard
# Sysctls kubelet and the bridge plugin change; saved at `up`, restored at `down`.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables)
# Host paths the components write outside the state dir; `down` removes those that did not exist before `up`.
FIXED_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /usr/libexec/kubernetes /var/lib/cni /run/containerd)

export MCP_OPERATOR_CP_STATE=$STATE/cp MCP_OPERATOR_CP_BIND=$GW MCP_OPERATOR_CP_NODE=1 MCP_OPERATOR_CP_SERVICE_CIDR=$SERVICE_CIDR
export CONTAINERD_ADDRESS=$RUN/containerd/containerd.sock CONTAINERD_NAMESPACE=k8s.io
KUBECONFIG_PATH=$STATE/cp/kubeconfig
K() { "$CP_BIN/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"; }
now() { date +%s%N; }
since() { echo "$((($(now) - $1) / 1000000)) ms"; }

# ---------------------------------------------------------------------------------------------------
# host packages and binaries
# ---------------------------------------------------------------------------------------------------
ensure_packages() {
  local missing=() p
  for p in containerd:containerd runc:runc iptables:iptables conntrack:conntrack jq:jq curl:curl openssl:openssl gcc:gcc; do
    command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap ]] || missing+=(containernetworking-plugins)
  [[ -f /usr/lib/x86_64-linux-gnu/libc.a || -f /usr/lib/libc.a ]] || missing+=(libc6-dev)
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]} (run as root or install them)"
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; }
  # Debian's package starts its own containerd service where systemd runs; ours uses its own socket
  # and root, so the two never share state.
}

node_binaries_ok() {
  local b out
  for b in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    [[ -x $NODE_BIN/$b ]] || return 1
    out=$("$NODE_BIN/$b" --version 2>/dev/null) || return 1
    [[ $out == *"$K8S_VERSION"* ]] || return 1
  done
}

build_node_binaries() {
  node_binaries_ok && return 0
  command -v go >/dev/null || die "go not found (needed once to build the node components)"
  mkdir -p "$CACHE_ROOT"
  exec 7>"$CACHE_ROOT/.node-build.lock"
  flock 7
  if node_binaries_ok; then exec 7>&-; return 0; fi
  local tmp=$CACHE_ROOT/k8s-node-${K8S_VERSION}.tmp.$$ minor=${K8S_VERSION#v1.} x= pkg start=$SECONDS
  minor=${minor%%.*}
  rm -rf "$CACHE_ROOT"/k8s-node-"${K8S_VERSION}".tmp.*
  mkdir -p "$tmp/bin"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
    x+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000"
  done
  log "building kubelet, kube-controller-manager, kube-scheduler, kube-proxy ${K8S_VERSION} (cold: ~3 min after the control plane)"
  (cd "$MOD_DIR" && CGO_ENABLED=0 go build -p 2 -trimpath -ldflags="-s -w${x}" -o "$tmp/bin/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy) || { rm -rf "$tmp"; die "node build failed"; }
  rm -rf "$CACHE_ROOT/k8s-node-${K8S_VERSION}"
  mv -T "$tmp" "$CACHE_ROOT/k8s-node-${K8S_VERSION}"
  exec 7>&-
  log "built node components in $((SECONDS - start))s -> $NODE_BIN"
}

# ---------------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------------
# shellcheck source=cluster/images.sh
source "$CONF_SRC/images.sh"

# ---------------------------------------------------------------------------------------------------
# processes: each started in its own session, tracked by pid file, stopped by pid (never by name)
# ---------------------------------------------------------------------------------------------------
start() {
  local name=$1; shift
  mkdir -p "$RUN/logs" "$RUN/pids"
  setsid "$@" </dev/null >>"$RUN/logs/$name.log" 2>&1 7>&- 8>&- 9>&- &
  echo $! >"$RUN/pids/$name.pid"
}
ours() { # ours NAME BINARY -> pid when the pid file's process still runs that binary
  local f=$RUN/pids/$1.pid p
  [[ -f $f ]] || return 1
  p=$(cat "$f")
  kill -0 "$p" 2>/dev/null || return 1
  [[ $(readlink "/proc/$p/exe" 2>/dev/null) == "$(readlink -f "$2")" ]] || return 1
  echo "$p"
}
stop() { # stop NAME BINARY [grace seconds]
  local p
  p=$(ours "$1" "$2") || { rm -f "$RUN/pids/$1.pid"; return 0; }
  log "stopping $1 (pid $p)"
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq $((${3:-15} * 10))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then log "$1 still running: SIGKILL"; kill -KILL "$p" 2>/dev/null || true; sleep 0.3; fi
  rm -f "$RUN/pids/$1.pid"
}
wait_for() { # wait_for SECONDS WHAT CMD...
  local t=$1 what=$2; shift 2
  for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what not ready after ${t}s (logs in $RUN/logs)"
}

COMPONENTS=(containerd:/usr/bin/containerd kubelet:NODE/kubelet kube-controller-manager:NODE/kube-controller-manager
  kube-scheduler:NODE/kube-scheduler kube-proxy:NODE/kube-proxy)
component_bin() { local b=${1#*:}; echo "${b/NODE/$NODE_BIN}"; }

node_ready() { [[ $(K get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }

healthy() {
  local c
  bash "$HACK_DIR/control-plane.sh" status >/dev/null 2>&1 || return 1
  for c in "${COMPONENTS[@]}"; do ours "${c%%:*}" "$(component_bin "$c")" >/dev/null || return 1; done
  node_ready
}

# ---------------------------------------------------------------------------------------------------
# configuration files (generated per state dir from the templates in hack/cluster/)
# ---------------------------------------------------------------------------------------------------
render() { # render TEMPLATE OUT: @STATE@ @RUN@ @PKI@ @CONF@ @GW@ @POD_CIDR@ @NODE_NAME@ @CP_PKI@
  sed -e "s|@RUN@|$RUN|g" -e "s|@PKI@|$PKI|g" -e "s|@CONF@|$CONF|g" -e "s|@GW@|$GW|g" \
    -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@NODE_NAME@|$NODE_NAME|g" -e "s|@CP_PKI@|$STATE/cp/pki|g" "$1" >"$2"
}

node_pki() {
  local server cp=$STATE/cp
  # shellcheck disable=SC1091
  source "$cp/state.env"
  server=https://$GW:$ST_APISERVER_PORT
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  cert() { # cert NAME CN ORG EXT...
    local n=$1 cn=$2 o=$3 subj
    shift 3
    subj="/CN=$cn"
    [[ -z $o ]] || subj="/O=$o/CN=$cn"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subj" \
      -keyout "$PKI/$n.key" -out "$PKI/$n.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$@" >"$PKI/$n.ext"
    openssl x509 -req -in "$PKI/$n.csr" -CA "$cp/pki/ca.crt" -CAkey "$cp/pki/ca.key" \
      -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 365 -extfile "$PKI/$n.ext" -out "$PKI/$n.crt" 2>/dev/null
    rm -f "$PKI/$n.csr" "$PKI/$n.ext"
  }
  kubeconfig() {
    cat >"$PKI/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: mcp-operator-cluster
  cluster: {server: "$server", certificate-authority: "$cp/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$PKI/$1.crt", client-key: "$PKI/$1.key"}
contexts:
- name: $1
  context: {cluster: mcp-operator-cluster, user: $1}
current-context: $1
KC
  }
  cert kubelet "system:node:$NODE_NAME" system:nodes "extendedKeyUsage=clientAuth"
  kubeconfig kubelet
  cert kube-controller-manager system:kube-controller-manager "" "extendedKeyUsage=clientAuth"
  kubeconfig kube-controller-manager
  cert kube-scheduler system:kube-scheduler "" "extendedKeyUsage=clientAuth"
  kubeconfig kube-scheduler
  cert kube-proxy system:kube-proxy "" "extendedKeyUsage=clientAuth"
  kubeconfig kube-proxy
  cert kubelet-serving "$NODE_NAME" "" "extendedKeyUsage=serverAuth" "subjectAltName=DNS:$NODE_NAME,IP:$GW"
  chmod 600 "$PKI"/*.key
}

# ---------------------------------------------------------------------------------------------------
# host network: the bridge, the guard, sysctls
# ---------------------------------------------------------------------------------------------------
save_host_state() {
  [[ -f $RUN/host.before ]] && return 0
  mkdir -p "$RUN"
  local k p
  {
    for k in "${SYSCTLS[@]}"; do
      if v=$(sysctl -n "$k" 2>/dev/null); then echo "sysctl $k=$v"; fi
    done
    for p in "${FIXED_PATHS[@]}"; do [[ -e $p ]] && echo "existed $p"; done
    ip link show "$BRIDGE" >/dev/null 2>&1 && echo "existed-link $BRIDGE"
    true
  } >"$RUN/host.before.tmp"
  mv "$RUN/host.before.tmp" "$RUN/host.before"
}

guard_rules() { # guard_rules -I|-D: traffic between cni0 and any other interface is dropped
  local op=$1 dir
  # A ClusterIP kube-proxy has not programmed yet (or no longer) would be routed off the machine:
  # refuse it here instead. DNAT runs before filter/OUTPUT, so programmed ClusterIPs never match.
  if [[ $op == -I ]]; then
    iptables -C OUTPUT -d "$SERVICE_CIDR" -m comment --comment "$GUARD" -j REJECT 2>/dev/null ||
      iptables -I OUTPUT 1 -d "$SERVICE_CIDR" -m comment --comment "$GUARD" -j REJECT
  else
    while iptables -D OUTPUT -d "$SERVICE_CIDR" -m comment --comment "$GUARD" -j REJECT 2>/dev/null; do :; done
  fi
  for dir in "-i $BRIDGE ! -o $BRIDGE" "-o $BRIDGE ! -i $BRIDGE"; do
    # shellcheck disable=SC2086
    if [[ $op == -I ]]; then
      iptables -t mangle -C FORWARD $dir -m comment --comment "$GUARD" -j DROP 2>/dev/null ||
        iptables -t mangle -I FORWARD 1 $dir -m comment --comment "$GUARD" -j DROP
    else
      while iptables -t mangle -D FORWARD $dir -m comment --comment "$GUARD" -j DROP 2>/dev/null; do :; done
    fi
  done
}

setup_bridge() {
  # Created here rather than by the CNI plugin at the first pod, because the API server binds its
  # address before any pod exists. The plugin adopts a bridge that already carries its gateway.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr show dev "$BRIDGE" | grep -q "inet $GW/" || ip addr add "$GW/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The guard goes in before anything can forward: the bridge plugin turns on ip_forward.
  guard_rules -I
  # Pods (hairpin) and kube-proxy's ClusterIP rules on a bridge need bridged traffic to pass iptables.
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
}

clean_kube_iptables() { # KUBE-* chains and jumps (kubelet, kube-proxy), and our guard
  local ipt t rule c
  for ipt in iptables ip6tables; do
    command -v "$ipt-save" >/dev/null || continue
    for t in filter nat mangle raw; do
      "$ipt-save" -t $t 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-' | sed 's/^-A /-D /' |
        while read -r rule; do eval "$ipt -t $t $rule" 2>/dev/null || true; done || true
      for c in $("$ipt-save" -t $t 2>/dev/null | awk '/^:KUBE-/ {print substr($1, 2)}'); do "$ipt" -t $t -F "$c" 2>/dev/null || true; done
      for c in $("$ipt-save" -t $t 2>/dev/null | awk '/^:KUBE-/ {print substr($1, 2)}'); do "$ipt" -t $t -X "$c" 2>/dev/null || true; done
    done
  done
  guard_rules -D
}

# ---------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------
cmd_build() {
  ensure_packages
  bash "$HACK_DIR/control-plane.sh" build
  build_node_binaries
  build_base_images
}

cmd_up() {
  local T t0
  T=$(now)
  [[ $(id -u) == 0 ]] || die "needs root (containerd, kubelet, iptables, a bridge)"
  mkdir -p "$STATE"
  exec 9>"$STATE.lock"
  flock 9
  if healthy; then
    log "already running (node $NODE_NAME Ready)"
    ensure_project_image
    print_env
    return 0
  fi
  if [[ -d $RUN ]]; then
    log "found a stale or partial cluster in $STATE; tearing it down first"
    do_down
  fi
  cmd_build
  mkdir -p "$RUN" "$CONF"
  save_host_state
  setup_bridge

  t0=$(now)
  bash "$HACK_DIR/control-plane.sh" up >/dev/null
  log "control plane ready in $(since "$t0") (binds $GW)"
  node_pki
  K apply -f "$CONF_SRC/rbac.yaml" >/dev/null

  for f in containerd.toml kubelet-config.yaml kube-proxy-config.yaml kube-scheduler-config.yaml 10-cluster.conflist; do
    render "$CONF_SRC/$f" "$CONF/$f"
  done
  mkdir -p "$CONF/cni" && mv "$CONF/10-cluster.conflist" "$CONF/cni/"

  t0=$(now)
  start containerd /usr/bin/containerd --config "$CONF/containerd.toml"
  wait_for 30 containerd ctr version
  log "containerd ready in $(since "$t0")"
  t0=$(now)
  load_base_images
  ensure_project_image
  log "images loaded in $(since "$t0")"

  t0=$(now)
  start kubelet "$NODE_BIN/kubelet" --config="$CONF/kubelet-config.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
    --root-dir="$RUN/kubelet" --node-ip="$GW" --hostname-override="$NODE_NAME" --v=1
  wait_for 90 "kubelet (Node $NODE_NAME Ready)" node_ready
  log "kubelet: node $NODE_NAME Ready in $(since "$t0")"

  t0=$(now)
  start kube-controller-manager "$NODE_BIN/kube-controller-manager" --kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
    --use-service-account-credentials=true --service-account-private-key-file="$STATE/cp/pki/sa.key" \
    --root-ca-file="$STATE/cp/pki/ca.crt" \
    --cluster-signing-cert-file="$STATE/cp/pki/ca.crt" --cluster-signing-key-file="$STATE/cp/pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allocate-node-cidrs=false \
    --flex-volume-plugin-dir="$RUN/kcm-flexvolume" --v=1
  start kube-scheduler "$NODE_BIN/kube-scheduler" --config="$CONF/kube-scheduler-config.yaml" \
    --bind-address=127.0.0.1 --secure-port=10259 --v=1
  start kube-proxy "$NODE_BIN/kube-proxy" --config="$CONF/kube-proxy-config.yaml" --v=1
  wait_for 60 kube-controller-manager curl -skf https://127.0.0.1:10257/healthz
  wait_for 60 kube-scheduler curl -skf https://127.0.0.1:10259/healthz
  wait_for 60 kube-proxy curl -sf http://127.0.0.1:10256/healthz
  log "controller-manager, scheduler, kube-proxy healthy in $(since "$t0")"

  # What pods need before a test may create one: the default ServiceAccount (ServiceAccount
  # admission refuses pods without it) and the `kubernetes` Service pointing at the bridge address.
  sa_ready() { K -n default get serviceaccount default >/dev/null; }
  wait_for 60 "default ServiceAccount" sa_ready
  api_endpoint() { K -n default get endpointslices -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[*].endpoints[*].addresses[*]}' | grep -qw "$GW"; }
  wait_for 60 "kubernetes Service endpoints" api_endpoint
  log "all up in $(since "$T")"
  print_env
}

print_env() {
  echo "KUBECONFIG=$KUBECONFIG_PATH"
  echo "KUBECTL=$CP_BIN/kubectl"
}

cmd_status() {
  if healthy; then
    echo "running: node $NODE_NAME Ready, API server https://$GW (state $STATE)"
    print_env
    return 0
  fi
  echo "not running"
  return 1
}

do_down() {
  local p m c
  if ours kubelet "$NODE_BIN/kubelet" >/dev/null && [[ -f $KUBECONFIG_PATH ]]; then
    log "deleting every pod while kubelet still runs (so it unmounts and tears down their networks)"
    for ns in $(K get ns -o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
      K -n "$ns" delete deploy,rs,sts,ds,jobs --all --wait=false >/dev/null 2>&1 || true
      K -n "$ns" delete pods --all --grace-period=1 --wait=false >/dev/null 2>&1 || true
    done
    nopods() { [[ -z $(K get pods -A --no-headers 2>/dev/null) ]]; }
    for _ in $(seq 300); do nopods && break; sleep 0.2; done
  fi
  stop kube-proxy "$NODE_BIN/kube-proxy"
  if [[ -x $NODE_BIN/kube-proxy ]]; then "$NODE_BIN/kube-proxy" --cleanup --v=0 >>"$RUN/logs/kube-proxy.log" 2>&1 || true; fi
  stop kube-scheduler "$NODE_BIN/kube-scheduler"
  stop kube-controller-manager "$NODE_BIN/kube-controller-manager"
  stop kubelet "$NODE_BIN/kubelet"
  if ours containerd /usr/bin/containerd >/dev/null; then # containers the kubelet did not get to
    for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
    sleep 0.5
    for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$c" >/dev/null 2>&1 || true; done
  fi
  stop containerd /usr/bin/containerd
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $RUN/containerd/containerd.sock" || true); do
    log "killing leftover shim $p"
    kill -KILL "$p" 2>/dev/null || true
  done
  # mounts under our state dir, deepest first; then kubepods cgroups, the bridge, iptables, sysctls
  for m in $(awk -v r="$STATE" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    if [[ -d $h/kubepods ]]; then find "$h/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  clean_kube_iptables
  local before=$RUN/host.before
  if [[ -f $before ]]; then
    grep -q "^existed-link $BRIDGE$" "$before" || { ip link del "$BRIDGE" 2>/dev/null || true; }
    while read -r kind rest; do
      [[ $kind == sysctl ]] && sysctl -qw "$rest" 2>/dev/null || true
    done <"$before"
    for p in "${FIXED_PATHS[@]}"; do
      grep -qxF "existed $p" "$before" || rm -rf "$p"
    done
  fi
  for m in /run/netns/cni-*; do [[ -e $m ]] && { umount "$m" 2>/dev/null || true; rm -f "$m"; }; done
  bash "$HACK_DIR/control-plane.sh" down 2>/dev/null || true
  if [[ -d $RUN/logs ]]; then
    rm -rf "$STATE.last-logs" && cp -a "$RUN/logs" "$STATE.last-logs" 2>/dev/null || true
  fi
  rm -rf "$RUN"
  rm -rf "$STATE"
}

cmd_down() {
  [[ -e $STATE ]] || { log "nothing running"; return 0; }
  exec 9>"$STATE.lock"
  flock 9
  do_down
  log "down; host state restored (component logs kept in $STATE.last-logs)"
}

cmd_kubectl() {
  [[ -f $KUBECONFIG_PATH ]] || die "cluster not up; run: $0 up"
  exec "$CP_BIN/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"
}

cmd_load_image() {
  local archive=${1:?usage: load-image <oci-or-docker-archive.tar>}
  [[ -f $archive ]] || die "no such file: $archive"
  ours containerd /usr/bin/containerd >/dev/null || die "cluster not up; run: $0 up"
  ctr images import --all-platforms "$archive" >&2
}

cmd_rss() {
  local c p
  for c in "${COMPONENTS[@]}"; do
    p=$(ours "${c%%:*}" "$(component_bin "$c")") || continue
    printf '%-26s %6d MiB\n' "${c%%:*}" $(($(awk '/VmRSS/{print $2}' "/proc/$p/status") / 1024))
  done
  # shellcheck disable=SC1091
  source "$STATE/cp/state.env"
  for p in $ST_ETCD_PID $ST_APISERVER_PID; do
    printf '%-26s %6d MiB\n' "$(basename "$(readlink "/proc/$p/exe")")" $(($(awk '/VmRSS/{print $2}' "/proc/$p/status") / 1024))
  done
  ps -eo rss=,args= | awk -v s="$RUN/containerd/containerd.sock" 'index($0, "containerd-shim-runc-v2") && index($0, s) {t+=$1; n++}
    END {printf "%-26s %6d MiB (%d shims)\n", "containerd-shim-runc-v2", t/1024, n}'
}

case ${1:-} in
  build) cmd_build ;;
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  kubectl) shift; cmd_kubectl "$@" ;;
  load-image) shift; cmd_load_image "$@" ;;
  images) ensure_project_image force ;;
  rss) cmd_rss ;;
  -h | --help | help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "usage: $0 build|up|down|status|kubectl ARGS...|load-image ARCHIVE|images|rss (see --help)" >&2; exit 2 ;;
esac

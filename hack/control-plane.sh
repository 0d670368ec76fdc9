#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver, plus kubectl) for integration tests,
# built from Go modules (hack/controlplane/go.mod) and bound to 127.0.0.1 only.
#
#   hack/control-plane.sh build              build the binaries into the cache (skipped when present)
#   hack/control-plane.sh up                 start (or reuse) the control plane; last stdout line: KUBECONFIG=<path>
#   hack/control-plane.sh status             print whether it is running (exit 0 running, 1 not)
#   hack/control-plane.sh kubectl ARGS...    run the built kubectl against it
#   hack/control-plane.sh restart-apiserver  restart kube-apiserver only (same etcd, same port, same credentials)
#   hack/control-plane.sh stop-apiserver     stop kube-apiserver only (etcd keeps running)
#   hack/control-plane.sh start-apiserver    start kube-apiserver again after stop-apiserver
#   hack/control-plane.sh down               stop everything it started (by process group) and remove the state dir
#   hack/control-plane.sh gen-gomod K8S ETCD regenerate hack/controlplane/go.mod for another release
#   hack/control-plane.sh env                print the cache/state paths and versions
#
# Environment:
#   MCP_OPERATOR_CACHE       binary cache root        (default: $HOME/.cache/mcp-operator)
#   MCP_OPERATOR_CP_STATE    state dir (pids, logs, pki, kubeconfig, etcd data) (default: /tmp/mcp-operator-cp)
#   MCP_OPERATOR_CP_TIMEOUT  seconds to wait for readiness (default: 120)
#   MCP_OPERATOR_CP_STOP_GRACE  seconds between SIGTERM and SIGKILL on stop (default: 15)
#   MCP_OPERATOR_CP_BIND     address kube-apiserver binds and advertises (default: 127.0.0.1, advertising
#                            the host's own IPv4). hack/cluster.sh passes the CNI bridge address, so pods
#                            reach the API server through the `kubernetes` Service without it listening
#                            on any outside interface.
#   MCP_OPERATOR_CP_SERVICE_CIDR  Service IP range (default 10.0.0.0/16; its first address is the
#                            `kubernetes` Service). hack/cluster.sh uses another range, so ClusterIPs of
#                            this plane never collide with the routes the real node's kube-proxy installs.
#   MCP_OPERATOR_CP_NODE=1   run as the control plane of a real node: ServiceAccount admission on (pods
#                            get projected tokens), and a kubelet client certificate so the kubelet API
#                            needs no anonymous access. Off for API-server-only tests (no token controller
#                            runs there, so pods could not be admitted with the plugin on).
#
# Informational output goes to stderr; stdout carries only results (KUBECONFIG=..., status, kubectl output).
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MOD_DIR=$HACK_DIR/controlplane
export GOTOOLCHAIN=local

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- versions (read from go.mod, so `up` needs no Go toolchain when the cache is warm) -------------
modver() { awk -v m="$1" '($1 == m && $2 ~ /^v[0-9]/) { print $2; exit }' "$MOD_DIR/go.mod"; }
K8S_VERSION=$(modver k8s.io/kubernetes)
ETCD_VERSION=$(modver go.etcd.io/etcd/server/v3)
[[ -n $K8S_VERSION && -n $ETCD_VERSION ]] || die "cannot read versions from $MOD_DIR/go.mod"

CACHE_ROOT=${MCP_OPERATOR_CACHE:-${HOME:-/tmp}/.cache/mcp-operator}
BUILD_NAME=k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}
BIN_DIR=$CACHE_ROOT/$BUILD_NAME/bin
STATE=${MCP_OPERATOR_CP_STATE:-/tmp/mcp-operator-cp}
TIMEOUT=${MCP_OPERATOR_CP_TIMEOUT:-120}
STOP_GRACE=${MCP_OPERATOR_CP_STOP_GRACE:-15}
BIND=${MCP_OPERATOR_CP_BIND:-127.0.0.1}
NODE_MODE=${MCP_OPERATOR_CP_NODE:-0}
SERVICE_CIDR=${MCP_OPERATOR_CP_SERVICE_CIDR:-10.0.0.0/16}

# =====================================================================================================
# build
# =====================================================================================================
binaries_ok() { # $1 = bin dir
  local d=$1
  local out
  [[ -x $d/kube-apiserver && -x $d/etcd && -x $d/kubectl ]] || return 1
  # (capture first: `cmd | grep -q` can fail with SIGPIPE under pipefail)
  out=$("$d/kube-apiserver" --version 2>/dev/null) || return 1
  [[ $'\n'$out$'\n' == *$'\n'"Kubernetes ${K8S_VERSION}"$'\n'* ]] || return 1
  out=$("$d/etcd" --version 2>/dev/null) || return 1
  [[ $'\n'$out$'\n' == *$'\n'"etcd Version: ${ETCD_VERSION#v}"$'\n'* ]] || return 1
  out=$("$d/kubectl" version --client 2>/dev/null) || return 1
  [[ $'\n'$out$'\n' == *$'\n'"Client Version: ${K8S_VERSION}"$'\n'* ]] || return 1
}

cmd_build() {
  if binaries_ok "$BIN_DIR"; then
    log "binaries present: $BIN_DIR"
    return 0
  fi
  command -v go >/dev/null || die "go not found (needed once to build $BUILD_NAME)"
  mkdir -p "$CACHE_ROOT"
  exec 8>"$CACHE_ROOT/.build.lock"
  log "waiting for build lock $CACHE_ROOT/.build.lock"
  flock 8
  if binaries_ok "$BIN_DIR"; then # built meanwhile by someone else
    exec 8>&-
    log "binaries present: $BIN_DIR"
    return 0
  fi
  # Under the lock any leftover temp dir is from a killed build.
  rm -rf "$CACHE_ROOT/$BUILD_NAME".tmp.*
  local tmp=$CACHE_ROOT/$BUILD_NAME.tmp.$$
  BUILD_TMP=$tmp
  mkdir -p "$tmp/bin"
  trap 'rm -rf "$BUILD_TMP"' EXIT
  trap 'exit 130' INT TERM HUP
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local x=
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
    x+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000"
  done
  log "building kube-apiserver ${K8S_VERSION}, kubectl ${K8S_VERSION}, etcd ${ETCD_VERSION} (cold: ~6-10 min on 2 cores, plus module downloads)"
  local start=$SECONDS
  (
    cd "$MOD_DIR"
    CGO_ENABLED=0 go build -p 2 -trimpath -ldflags="-s -w${x}" -o "$tmp/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3
  )
  # `go build -o DIR/` names go.etcd.io/etcd/server/v3 after the element before the major-version
  # suffix, i.e. "server".
  local n
  for n in server v3; do
    if [[ -f $tmp/bin/$n ]]; then mv "$tmp/bin/$n" "$tmp/bin/etcd"; break; fi
  done
  binaries_ok "$tmp/bin" || die "built binaries fail their --version check"
  rm -rf "${CACHE_ROOT:?}/$BUILD_NAME" # a stale/broken one (binaries_ok failed above)
  mv -T "$tmp" "$CACHE_ROOT/$BUILD_NAME"
  trap - EXIT INT TERM HUP
  exec 8>&-
  log "built $BUILD_NAME in $((SECONDS - start))s -> $BIN_DIR"
}

# =====================================================================================================
# helpers for processes
# =====================================================================================================
free_port() {
  # Ask the kernel for a free port (bind to :0); fall back to a random probe below the ephemeral range.
  local p
  if command -v python3 >/dev/null &&
    p=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null); then
    echo "$p"; return
  fi
  if command -v node >/dev/null &&
    p=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null); then
    echo "$p"; return
  fi
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# Is pid $1 still the process we started from binary $2 (guards against pid reuse)?
is_ours() {
  local pid=$1 bin=$2 arg0
  alive "$pid" || return 1
  arg0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
  [[ $arg0 == "$bin" ]]
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# stop_groups PGID NAME BINARY [PGID NAME BINARY ...]: SIGTERM each process group, wait up to
# STOP_GRACE s for all of them, then SIGKILL what is left. Never signals anything by name.
stop_groups() {
  local pgs=() pg name bin arg0
  while (($# >= 3)); do
    pg=$1 name=$2 bin=$3
    shift 3
    [[ -n $pg ]] || continue
    group_alive "$pg" || continue
    # The group id stays reserved while any member lives, so only a live leader running some other
    # program means the pid was reused. (A dying or zombie leader has an empty cmdline.)
    arg0=$(tr '\0' '\n' <"/proc/$pg/cmdline" 2>/dev/null | head -n1) || true
    if [[ -n $arg0 && $arg0 != "$bin" ]]; then
      log "pid $pg is no longer our $name ($arg0); not touching it"
      continue
    fi
    log "stopping $name (process group $pg)"
    kill -TERM -- "-$pg" 2>/dev/null || true
    pgs+=("$pg")
  done
  ((${#pgs[@]})) || return 0
  local deadline=$((SECONDS + STOP_GRACE)) left
  while :; do
    left=()
    for pg in "${pgs[@]}"; do group_alive "$pg" && left+=("$pg"); done
    ((${#left[@]})) || return 0
    ((SECONDS < deadline)) || break
    sleep 0.1
  done
  for pg in "${left[@]}"; do
    log "process group $pg did not stop within ${STOP_GRACE}s; SIGKILL"
    kill -KILL -- "-$pg" 2>/dev/null || true
  done
  deadline=$((SECONDS + 10))
  for pg in "${left[@]}"; do
    while group_alive "$pg" && ((SECONDS < deadline)); do sleep 0.1; done
  done
}

# spawn LOGFILE CMD...: start CMD in its own session/process group, detached from our stdio and
# from the lock fd; echoes its pid (= pgid).
spawn() {
  local logf=$1; shift
  setsid "$@" </dev/null >>"$logf" 2>&1 9>&- 8>&- &
  local pid=$!
  # setsid(1) only forks when the caller is a group leader, which a background job of a
  # non-interactive shell is not, so $! is the server itself; verify and fall back to its pgid.
  local pg
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || true
    [[ $pg == "$pid" ]] && break
    sleep 0.05
  done
  echo "$pid"
}

tail_log() { log "---- last lines of $1 ----"; tail -n "${2:-40}" "$1" >&2 || true; log "----"; }

# =====================================================================================================
# state
# =====================================================================================================
load_state() {
  [[ -f $STATE/state.env ]] || return 1
  # shellcheck disable=SC1091
  source "$STATE/state.env"
  # state written before these existed
  ST_BIND=${ST_BIND:-127.0.0.1} ST_NODE_MODE=${ST_NODE_MODE:-0} ST_SERVICE_CIDR=${ST_SERVICE_CIDR:-10.0.0.0/16}
}

save_state() {
  local tmpf=$STATE/state.env.tmp
  {
    printf 'ST_BIN_DIR=%q\n' "$BIN_DIR"
    printf 'ST_ETCD_PID=%q\nST_ETCD_PORT=%q\nST_PEER_PORT=%q\n' "$ST_ETCD_PID" "$ST_ETCD_PORT" "$ST_PEER_PORT"
    printf 'ST_APISERVER_PID=%q\nST_APISERVER_PORT=%q\n' "${ST_APISERVER_PID:-}" "$ST_APISERVER_PORT"
    printf 'ST_ADVERTISE=%q\nST_ENDPOINT_RECONCILER=%q\n' "$ST_ADVERTISE" "$ST_ENDPOINT_RECONCILER"
    printf 'ST_BIND=%q\nST_NODE_MODE=%q\nST_SERVICE_CIDR=%q\n' "$ST_BIND" "$ST_NODE_MODE" "$ST_SERVICE_CIDR"
  } >"$tmpf"
  mv "$tmpf" "$STATE/state.env"
}

token() { cat "$STATE/pki/token"; }

apiserver_ready() {
  curl -sf --max-time 5 --cacert "$STATE/pki/ca.crt" -H "Authorization: Bearer $(token)" \
    "https://${ST_BIND}:${ST_APISERVER_PORT}/readyz" >/dev/null 2>&1
}

healthy() {
  load_state 2>/dev/null || return 1
  is_ours "$ST_ETCD_PID" "$ST_BIN_DIR/etcd" || return 1
  is_ours "${ST_APISERVER_PID:-}" "$ST_BIN_DIR/kube-apiserver" || return 1
  apiserver_ready
}

# =====================================================================================================
# PKI and kubeconfig
# =====================================================================================================
make_pki() {
  local pki=$STATE/pki
  mkdir -p "$pki"
  chmod 700 "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=mcp-operator-test-ca" -keyout ca.key -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
    local base=${ST_SERVICE_CIDR%/*}
    local san="IP:127.0.0.1,DNS:localhost,IP:${base%.*}.$((${base##*.} + 1)),DNS:kubernetes,DNS:kubernetes.default"
    san+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    [[ $ST_ADVERTISE == 127.0.0.1 ]] || san+=",IP:$ST_ADVERTISE"
    [[ $ST_BIND == 127.0.0.1 || $ST_BIND == "$ST_ADVERTISE" ]] || san+=",IP:$ST_BIND"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=$san" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
      -days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >token
    printf '%s,test-admin,test-admin-uid,"system:masters"\n' "$(cat token)" >tokens.csv
    if [[ $ST_NODE_MODE == 1 ]]; then
      # kube-apiserver's client identity toward kubelets (logs, exec, port-forward): system:masters,
      # so the kubelet's webhook authorizer allows it without extra RBAC.
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" -keyout kubelet-client.key -out kubelet-client.csr 2>/dev/null
      printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth" >kubelet-client.ext
      openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
        -days 3650 -extfile kubelet-client.ext -out kubelet-client.crt 2>/dev/null
      rm -f kubelet-client.csr kubelet-client.ext
    fi
    chmod 600 ./*.key token tokens.csv
  )
}

write_kubeconfig() {
  local kc=$STATE/kubeconfig tmpf=$STATE/kubeconfig.tmp
  cat >"$tmpf" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mcp-operator-test
  cluster:
    server: https://${ST_BIND}:${ST_APISERVER_PORT}
    certificate-authority: ${STATE}/pki/ca.crt
users:
- name: test-admin
  user:
    token: $(token)
contexts:
- name: mcp-operator-test
  context:
    cluster: mcp-operator-test
    user: test-admin
    namespace: default
current-context: mcp-operator-test
EOF
  chmod 600 "$tmpf"
  mv "$tmpf" "$kc"
  json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
  {
    printf '{\n'
    printf '  "kubeconfigPath": %s,\n' "$(json_str "$kc")"
    printf '  "server": %s,\n' "$(json_str "https://${ST_BIND}:${ST_APISERVER_PORT}")"
    printf '  "token": %s,\n' "$(json_str "$(token)")"
    printf '  "caFile": %s,\n' "$(json_str "$STATE/pki/ca.crt")"
    printf '  "kubectlPath": %s,\n' "$(json_str "$BIN_DIR/kubectl")"
    printf '  "stateDir": %s,\n' "$(json_str "$STATE")"
    printf '  "etcdEndpoint": %s,\n' "$(json_str "http://127.0.0.1:${ST_ETCD_PORT}")"
    printf '  "k8sVersion": %s,\n' "$(json_str "$K8S_VERSION")"
    printf '  "etcdVersion": %s\n' "$(json_str "$ETCD_VERSION")"
    printf '}\n'
  } >"$STATE/connection.json.tmp"
  chmod 600 "$STATE/connection.json.tmp"
  mv "$STATE/connection.json.tmp" "$STATE/connection.json"
}

# kube-apiserver needs an advertise address; with only loopback bound it derives one from the
# default route and exits when there is none. Pass the host's own non-loopback IPv4 explicitly.
# Without any (e.g. an isolated network namespace) use 127.0.0.1 and turn off the endpoint
# reconciler, which is the only consumer of that address (the `kubernetes` Endpoints object).
pick_advertise() {
  local ip=
  if [[ $ST_BIND != 127.0.0.1 ]]; then # a local non-loopback bind is its own advertise address
    ST_ADVERTISE=$ST_BIND ST_ENDPOINT_RECONCILER=lease
    return
  fi
  if command -v ip >/dev/null; then
    ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
  fi
  if [[ -z $ip ]] && command -v hostname >/dev/null; then
    ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -n1) || true
  fi
  if [[ -n $ip ]]; then
    ST_ADVERTISE=$ip ST_ENDPOINT_RECONCILER=lease
  else
    ST_ADVERTISE=127.0.0.1 ST_ENDPOINT_RECONCILER=none
  fi
}

# =====================================================================================================
# etcd / kube-apiserver
# =====================================================================================================
start_etcd() {
  mkdir -p "$STATE/etcd-data" "$STATE/logs"
  chmod 700 "$STATE/etcd-data"
  ST_ETCD_PORT=$(free_port)
  ST_PEER_PORT=$(free_port)
  while [[ $ST_PEER_PORT == "$ST_ETCD_PORT" ]]; do ST_PEER_PORT=$(free_port); done
  ST_ETCD_PID=$(spawn "$STATE/logs/etcd.log" "$BIN_DIR/etcd" \
    --name=test --data-dir="$STATE/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$ST_ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ST_ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ST_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ST_PEER_PORT" \
    --initial-cluster="test=http://127.0.0.1:$ST_PEER_PORT" --initial-cluster-state=new \
    --unsafe-no-fsync=true --log-level=warn)
  local deadline=$((SECONDS + TIMEOUT))
  until curl -sf --max-time 2 "http://127.0.0.1:$ST_ETCD_PORT/health" >/dev/null 2>&1; do
    if ! alive "$ST_ETCD_PID"; then tail_log "$STATE/logs/etcd.log"; die "etcd exited during startup"; fi
    if ((SECONDS >= deadline)); then tail_log "$STATE/logs/etcd.log"; die "etcd not healthy after ${TIMEOUT}s"; fi
    sleep 0.1
  done
}

start_apiserver() {
  local pki=$STATE/pki
  mkdir -p "$STATE/apiserver-certs" "$STATE/logs"
  local args=(
    --etcd-servers="http://127.0.0.1:$ST_ETCD_PORT"
    --bind-address="$ST_BIND" --secure-port="$ST_APISERVER_PORT"
    --advertise-address="$ST_ADVERTISE" --endpoint-reconciler-type="$ST_ENDPOINT_RECONCILER"
    --cert-dir="$STATE/apiserver-certs"
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key"
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv"
    --service-account-issuer=https://kubernetes.default.svc.cluster.local
    --service-account-key-file="$pki/sa.key" --service-account-signing-key-file="$pki/sa.key"
    --service-cluster-ip-range="$ST_SERVICE_CIDR"
    --authorization-mode=RBAC --allow-privileged=true
  )
  if [[ $ST_NODE_MODE == 1 ]]; then
    args+=(--kubelet-client-certificate="$pki/kubelet-client.crt" --kubelet-client-key="$pki/kubelet-client.key"
      --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP)
  else
    # No token controller runs beside a bare API server, so the plugin would refuse every pod.
    args+=(--disable-admission-plugins=ServiceAccount)
  fi
  {
    echo "===== $(date -u +%FT%TZ) starting kube-apiserver"
  } >>"$STATE/logs/apiserver.log"
  ST_APISERVER_PID=$(spawn "$STATE/logs/apiserver.log" "$BIN_DIR/kube-apiserver" "${args[@]}")
  save_state
  local deadline=$((SECONDS + TIMEOUT))
  until apiserver_ready; do
    if ! alive "$ST_APISERVER_PID"; then tail_log "$STATE/logs/apiserver.log"; die "kube-apiserver exited during startup"; fi
    if ! alive "$ST_ETCD_PID"; then tail_log "$STATE/logs/etcd.log"; die "etcd died while kube-apiserver was starting"; fi
    if ((SECONDS >= deadline)); then tail_log "$STATE/logs/apiserver.log"; die "kube-apiserver not ready after ${TIMEOUT}s"; fi
    sleep 0.2
  done
}

with_lock() {
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$STATE.lock"
  flock 9
}

cmd_up() {
  local start=$SECONDS
  cmd_build
  with_lock
  if healthy; then
    log "already running and ready (kube-apiserver pid $ST_APISERVER_PID, etcd pid $ST_ETCD_PID)"
    echo "KUBECONFIG=$STATE/kubeconfig"
    return 0
  fi
  if [[ -e $STATE ]]; then
    log "found a stale or unhealthy control plane in $STATE; tearing it down"
    do_down
  fi
  local t0=$SECONDS
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  ST_BIND=$BIND ST_NODE_MODE=$NODE_MODE ST_SERVICE_CIDR=$SERVICE_CIDR
  pick_advertise
  make_pki
  ST_APISERVER_PID=
  ST_APISERVER_PORT=$(free_port)
  start_etcd
  while [[ $ST_APISERVER_PORT == "$ST_ETCD_PORT" || $ST_APISERVER_PORT == "$ST_PEER_PORT" ]]; do ST_APISERVER_PORT=$(free_port); done
  save_state
  start_apiserver
  write_kubeconfig
  service_guard -I
  log "ready in $((SECONDS - t0))s (total $((SECONDS - start))s): https://$ST_BIND:$ST_APISERVER_PORT (etcd 127.0.0.1:$ST_ETCD_PORT, advertise $ST_ADVERTISE)"
  echo "KUBECONFIG=$STATE/kubeconfig"
}

# No kube-proxy runs beside this plane, so its ClusterIPs lead nowhere; without this rule a client
# (a test of an unreachable server) would send them out of the machine's default route. Root only.
service_guard() { # -I | -D
  command -v iptables >/dev/null && [[ $(id -u) == 0 ]] || return 0
  local rule=(OUTPUT -d "$ST_SERVICE_CIDR" -m comment --comment "mcp-operator-cp:$STATE" -j REJECT)
  if [[ $1 == -I ]]; then
    iptables -C "${rule[@]}" 2>/dev/null || iptables -I "${rule[0]}" 1 "${rule[@]:1}" 2>/dev/null || true
  else
    while iptables -D "${rule[@]}" 2>/dev/null; do :; done
  fi
}

do_down() {
  if load_state 2>/dev/null; then
    service_guard -D
    # kube-apiserver first, and only then etcd: its graceful shutdown removes its endpoint lease
    # from etcd and otherwise hangs (until SIGKILL) when etcd disappears at the same time.
    stop_groups "${ST_APISERVER_PID:-}" kube-apiserver "$ST_BIN_DIR/kube-apiserver"
    stop_groups "${ST_ETCD_PID:-}" etcd "$ST_BIN_DIR/etcd"
  fi
  rm -rf "${STATE:?}"
}

cmd_down() {
  with_lock
  if [[ ! -e $STATE ]]; then
    log "nothing running"
    return 0
  fi
  do_down
  log "stopped; removed $STATE"
}

cmd_status() {
  if healthy; then
    echo "running: https://$ST_BIND:$ST_APISERVER_PORT (kube-apiserver pid $ST_APISERVER_PID, etcd pid $ST_ETCD_PID, $K8S_VERSION, etcd $ETCD_VERSION)"
    echo "KUBECONFIG=$STATE/kubeconfig"
    return 0
  fi
  if load_state 2>/dev/null; then
    local e=dead a=dead
    is_ours "$ST_ETCD_PID" "$ST_BIN_DIR/etcd" && e="pid $ST_ETCD_PID"
    is_ours "${ST_APISERVER_PID:-}" "$ST_BIN_DIR/kube-apiserver" && a="pid $ST_APISERVER_PID (not ready)"
    echo "not running (unhealthy: etcd $e, kube-apiserver $a; state in $STATE)"
  else
    echo "not running"
  fi
  return 1
}

require_etcd() {
  load_state 2>/dev/null || die "control plane not up (no $STATE/state.env); run: $0 up"
  is_ours "$ST_ETCD_PID" "$ST_BIN_DIR/etcd" || die "etcd is not running; run: $0 down && $0 up"
  BIN_DIR=$ST_BIN_DIR
}

cmd_stop_apiserver() {
  with_lock
  require_etcd
  stop_groups "${ST_APISERVER_PID:-}" kube-apiserver "$ST_BIN_DIR/kube-apiserver"
  ST_APISERVER_PID=
  save_state
}

cmd_start_apiserver() {
  with_lock
  require_etcd
  if is_ours "${ST_APISERVER_PID:-}" "$ST_BIN_DIR/kube-apiserver"; then
    log "kube-apiserver already running (pid $ST_APISERVER_PID)"
  else
    local t0=$SECONDS
    start_apiserver
    log "kube-apiserver ready in $((SECONDS - t0))s"
  fi
  echo "KUBECONFIG=$STATE/kubeconfig"
}

cmd_restart_apiserver() {
  with_lock
  require_etcd
  local t0=$SECONDS
  stop_groups "${ST_APISERVER_PID:-}" kube-apiserver "$ST_BIN_DIR/kube-apiserver"
  ST_APISERVER_PID=
  save_state
  start_apiserver
  log "kube-apiserver restarted and ready in $((SECONDS - t0))s (pid $ST_APISERVER_PID, port $ST_APISERVER_PORT)"
  echo "KUBECONFIG=$STATE/kubeconfig"
}

cmd_kubectl() {
  [[ -f $STATE/kubeconfig ]] || die "control plane not up; run: $0 up"
  load_state 2>/dev/null || true
  exec "${ST_BIN_DIR:-$BIN_DIR}/kubectl" --kubeconfig="$STATE/kubeconfig" "$@"
}

cmd_gen_gomod() {
  local k8s=${1:?usage: gen-gomod K8S_VERSION ETCD_VERSION (e.g. v1.35.4 v3.6.5)} etcd=${2:?etcd version, e.g. v3.6.5}
  local staging=v0.${k8s#v1.} up m
  command -v go >/dev/null || die "go not found"
  up=$(cd /tmp && go mod download -json "k8s.io/kubernetes@${k8s}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [[ -f $up ]] || die "cannot download k8s.io/kubernetes@${k8s}"
  cd "$MOD_DIR"
  cp go.mod go.mod.bak
  cp go.sum go.sum.bak 2>/dev/null || true
  trap 'mv -f go.mod.bak go.mod; [[ ! -f go.sum.bak ]] || mv -f go.sum.bak go.sum; log "gen-gomod failed; go.mod/go.sum restored"' ERR
  {
    cat <<'EOF2'
// Build-only module for the integration-test control plane (etcd + kube-apiserver + kubectl).
// Built by ../control-plane.sh into a cache outside the clone; never vendored, never shipped.
//
// k8s.io/kubernetes requires its staging modules at the placeholder v0.0.0, so every one of them
// is replaced by the matching published v0.<minor>.<patch> tag (list taken from the upstream
// go.mod of that tag). To move to another release: `hack/control-plane.sh gen-gomod v1.35.x v3.6.y`.
module mcp-operator/hack/controlplane

go 1.26.0

// Same runtime defaults as the upstream k8s.io/kubernetes v1.35 build (go.mod: godebug default=go1.25).
godebug default=go1.25

replace (
EOF2
    # every k8s.io module that upstream requires at the placeholder v0.0.0 is a staging module
    # shellcheck disable=SC2013
    for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) v0\.0\.0\([[:space:]].*\)\{0,1\}$#\1#p' "$up" | sort -u); do
      printf '\t%s => %s %s\n' "$m" "$m" "$staging"
    done
    echo ')'
  } >go.mod
  rm -f go.sum
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@${k8s}" "k8s.io/kubernetes/cmd/kubectl@${k8s}" \
    "go.etcd.io/etcd/server/v3@${etcd}"
  go mod tidy
  trap - ERR
  rm -f go.mod.bak go.sum.bak
  log "regenerated $MOD_DIR/go.mod for ${k8s} / etcd ${etcd}"
}

cmd_env() {
  echo "K8S_VERSION=$K8S_VERSION"
  echo "ETCD_VERSION=$ETCD_VERSION"
  echo "BIN_DIR=$BIN_DIR"
  echo "STATE=$STATE"
}

main() {
  case ${1:-} in
    build) cmd_build ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kubectl) shift; cmd_kubectl "$@" ;;
    restart-apiserver) cmd_restart_apiserver ;;
    stop-apiserver) cmd_stop_apiserver ;;
    start-apiserver) cmd_start_apiserver ;;
    gen-gomod) shift; cmd_gen_gomod "$@" ;;
    env) cmd_env ;;
    *)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

# One line, parsed whole before it runs: bash reads scripts lazily, so editing or checking out this
# file while a long `build`/`up` runs must not make it execute a shifted remainder.
main "$@"; exit $?

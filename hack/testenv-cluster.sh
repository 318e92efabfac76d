# shellcheck shell=bash
# The cluster profile of hack/testenv (sourced by it): a real single-node
# cluster on this machine — containerd + runc (Debian), a kubelet, CNI bridge,
# kube-controller-manager, kube-scheduler and kube-proxy from the pinned
# Kubernetes module — on top of the bare profile's etcd, API server and
# registries. Why each setting is there: shared docs testenv.md §8b-§8c.
#
# One cluster per machine: it owns fixed interfaces (sw-node0, sw-cni0), the
# node and pod addresses below and kube-proxy's KUBE-* iptables chains, which
# a second kube-proxy would rewrite. /run/sigwatch-testenv-cluster names the
# state directory of the cluster that is up.
#
# No packet leaves the machine: the node address lives on a port-less bridge,
# pods on a second bridge, Service IPs are answered by kube-proxy, and guard
# rules (mangle table, comment "sigwatch-testenv") drop anything from the pod
# network or to the service range that would leave through another interface.
# Name lookups are the other way out; containerd gets a hosts.toml per public
# registry name pointing at the local registry, and the API server reaches the
# kubelet by InternalIP, never by name.

NODE_NAME=sigwatch-node0
NODE_IF=sw-node0
NODE_IP=10.254.0.1
NODE_NET=10.254.0.0/24
POD_IF=sw-cni0
POD_CIDR=10.253.0.0/24
POD_GW=10.253.0.1
SERVICE_CIDR=10.0.0.0/24
CLUSTER_LOCK=/run/sigwatch-testenv-cluster
GUARD=(-m comment --comment sigwatch-testenv)
CLUSTER_COMPONENTS=(containerd kubelet kube-controller-manager kube-scheduler kube-proxy)
# Kernel settings the kubelet sets at start (container_manager_linux.go,
# unless protectKernelDefaults); recorded by `up`, restored by `down`.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
NODE_BINARIES=(kubelet kube-controller-manager kube-scheduler kube-proxy pause testapp)

cluster_preflight() {
  [ "$(id -u)" -eq 0 ] || die "the cluster profile needs root (network interfaces, iptables, containerd, kubelet)"
  local b missing=()
  for b in "${NODE_BINARIES[@]}"; do [ -x "$BIN/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] || die "missing in $BIN: ${missing[*]}; build them with 'make tools' (hack/build-tools.sh node pause testapp)"
  for b in containerd containerd-shim-runc-v2 ctr runc iptables ip6tables ip; do
    command -v "$b" >/dev/null || die "$b is missing; run hack/install-apt.sh"
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] ||
    die "CNI plugins are missing in /usr/lib/cni; run hack/install-apt.sh (containernetworking-plugins)"
  if [ -f "$CLUSTER_LOCK" ]; then
    local owner
    owner=$(cat "$CLUSTER_LOCK")
    if [ "$owner" != "$DIR" ] && cluster_live "$owner"; then
      die "a cluster environment is already up in $owner (one per machine: it owns $NODE_IF, $POD_IF and kube-proxy's iptables chains); stop it with 'hack/testenv down --dir $owner'"
    fi
    # Its owner is gone (a run killed before `down`): nothing of it is alive.
    say "removing what a stale cluster environment ($owner) left behind"
    cluster_cleanup "$owner"
    rm -f "$CLUSTER_LOCK"
  fi
  # Leftovers of a run killed before it wrote the lock.
  if ip link show "$NODE_IF" >/dev/null 2>&1 || ip link show "$POD_IF" >/dev/null 2>&1; then
    say "removing stale interfaces $NODE_IF/$POD_IF"
    cluster_cleanup ""
  fi
  # What `down` removes machine-wide (kubepods cgroups, KUBE-*/CNI-* chains)
  # must all be ours: refuse to start beside a node this script did not start.
  if ls -d /sys/fs/cgroup/*/kubepods* >/dev/null 2>&1 ||
    iptables-save 2>/dev/null | grep -q '^:KUBE-' || ip6tables-save 2>/dev/null | grep -q '^:KUBE-'; then
    die "this machine already has kubepods cgroups or KUBE-* iptables chains that no test environment recorded (another kubelet or kube-proxy?); the cluster profile will not start beside them"
  fi
}

# Whether the cluster environment in `dir` still has a live process of its own.
cluster_live() { # dir
  local DIR=$1 c
  [ -f "$DIR/up" ] || [ -f "$DIR/starting" ] || return 1
  for c in kube-apiserver containerd kubelet etcd; do alive "$c" && return 0; done
  return 1
}

cluster_pki() {
  local d=$DIR/pki
  client_cert node "/O=system:nodes/CN=system:node:$NODE_NAME"
  client_cert kcm "/CN=system:kube-controller-manager"
  client_cert scheduler "/CN=system:kube-scheduler"
  client_cert proxy "/CN=system:kube-proxy"
}

cluster_network_up() {
  # This kernel has no dummy driver; a bridge without ports holds the node
  # address just as well. The kubelet refuses a loopback node IP.
  ip link add "$NODE_IF" type bridge
  ip addr add "$NODE_IP/32" dev "$NODE_IF"
  ip link set "$NODE_IF" up
  # The bridge plugin turns forwarding on and the kubelet sets kernel
  # tunables; `down` restores what was here.
  sysctl -n net.ipv4.ip_forward >"$DIR/ip_forward"
  local k
  for k in "${KUBELET_SYSCTLS[@]}"; do printf '%s %s\n' "$k" "$(sysctl -n "$k")"; done >"$DIR/sysctls"
  # Guards go in mangle: kube-proxy puts ACCEPT jumps at the top of filter
  # FORWARD, and filter OUTPUT sees the interface before kube-proxy's DNAT.
  local t
  for t in filter mangle; do
    iptables -t $t -I FORWARD -i "$POD_IF" ! -o "$POD_IF" "${GUARD[@]}" -j DROP
    iptables -t $t -I FORWARD -s "$POD_CIDR" ! -o "$POD_IF" "${GUARD[@]}" -j DROP
  done
  iptables -t mangle -I POSTROUTING -s "$POD_CIDR" ! -o "$POD_IF" "${GUARD[@]}" -j DROP
  iptables -t mangle -I POSTROUTING -d "$POD_CIDR" ! -o "$POD_IF" "${GUARD[@]}" -j DROP
  # A Service IP kube-proxy did not translate has nowhere local to go.
  iptables -t mangle -I POSTROUTING -d "$SERVICE_CIDR" "${GUARD[@]}" -j DROP
  iptables -t mangle -I POSTROUTING -d "$NODE_NET" ! -o lo "${GUARD[@]}" -j DROP
  # Local delivery (the host's own replies and ICMP errors) is never dropped.
  iptables -t mangle -I POSTROUTING -o lo "${GUARD[@]}" -j RETURN
  ip6tables -I FORWARD -i "$POD_IF" "${GUARD[@]}" -j DROP
  ip6tables -t mangle -I FORWARD -i "$POD_IF" "${GUARD[@]}" -j DROP
  # Inbound: the node and pod addresses answer only this machine (loopback)
  # and its pods (the pod bridge), never a host that routes them here.
  iptables -t mangle -I PREROUTING -d "$POD_CIDR" "${GUARD[@]}" -j DROP
  iptables -t mangle -I PREROUTING -d "$NODE_NET" "${GUARD[@]}" -j DROP
  iptables -t mangle -I PREROUTING -i "$POD_IF" "${GUARD[@]}" -j RETURN
  iptables -t mangle -I PREROUTING -i lo "${GUARD[@]}" -j RETURN
}

# The guard rules `up` installs, as `iptables -S` prints them, in order: each
# mangle chain's first rules must be exactly these (for status).
GUARD_RULES_V4=(
  "mangle|-A PREROUTING -i lo -m comment --comment sigwatch-testenv -j RETURN"
  "mangle|-A PREROUTING -i $POD_IF -m comment --comment sigwatch-testenv -j RETURN"
  "mangle|-A PREROUTING -d $NODE_NET -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A PREROUTING -d $POD_CIDR -m comment --comment sigwatch-testenv -j DROP"
  "filter|-A FORWARD -s $POD_CIDR ! -o $POD_IF -m comment --comment sigwatch-testenv -j DROP"
  "filter|-A FORWARD -i $POD_IF ! -o $POD_IF -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A FORWARD -s $POD_CIDR ! -o $POD_IF -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A FORWARD -i $POD_IF ! -o $POD_IF -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A POSTROUTING -o lo -m comment --comment sigwatch-testenv -j RETURN"
  "mangle|-A POSTROUTING -d $NODE_NET ! -o lo -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A POSTROUTING -d $SERVICE_CIDR -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A POSTROUTING -d $POD_CIDR ! -o $POD_IF -m comment --comment sigwatch-testenv -j DROP"
  "mangle|-A POSTROUTING -s $POD_CIDR ! -o $POD_IF -m comment --comment sigwatch-testenv -j DROP"
)

# Prints one line per guard rule that is missing or out of place (a chain's
# first rules must be the guards, in order); nothing when all are in place.
cluster_guard_missing() {
  local entry t rule chain n key
  declare -A seen=()
  for entry in "${GUARD_RULES_V4[@]}"; do
    t=${entry%%|*}; rule=${entry#*|}
    chain=$(echo "$rule" | awk '{print $2}')
    key="$t $chain"
    n=$(( ${seen[$key]:-0} + 1 ))
    seen[$key]=$n
    if [ "$t" = filter ]; then
      # kube-proxy puts its own jumps first in filter FORWARD: there only
      # presence counts (mangle, which runs first, holds the same rules).
      iptables -t filter -S "$chain" 2>/dev/null | grep -qxF -- "$rule" || echo "iptables -t filter: $rule"
    else
      [ "$(iptables -t "$t" -S "$chain" 2>/dev/null | grep '^-A ' | sed -n "${n}p")" = "$rule" ] ||
        echo "iptables -t $t, rule $n of $chain: $rule"
    fi
  done
  for t in filter mangle; do
    ip6tables -t $t -S FORWARD 2>/dev/null | grep -qxF -- "-A FORWARD -i $POD_IF -m comment --comment sigwatch-testenv -j DROP" ||
      echo "ip6tables -t $t: FORWARD -i $POD_IF DROP"
  done
}

cluster_containerd_config() {
  local c=$DIR/containerd rp=$1 lp=$2 h
  mkdir -p "$c/certs.d" "$DIR/cni/net.d" "$DIR/cni/ipam"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$c/containerd.sock"

[ttrpc]
  address = "$c/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$NODE_IP:$rp/pause:$KUBERNETES_VERSION"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # root here lacks CAP_SYS_RESOURCE: runc cannot give the pause container
  # oom_score_adj -998 and every sandbox would fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$c/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$c/certs.d"
EOF
  # The local registries speak plain HTTP. Every other registry name (a
  # manifest's default `sigwatch:0.1.0` means docker.io) goes to the referrers
  # registry through `_default` (containerd >= 1.6.?; checked in 1.6.20's
  # remotes/docker/config): it fails to pull here rather than making
  # containerd resolve a public name.
  for h in "$NODE_IP:$rp" "$NODE_IP:$lp" _default; do
    local server="http://$NODE_IP:$rp"
    [ "$h" = "$NODE_IP:$lp" ] && server="http://$NODE_IP:$lp"
    mkdir -p "$c/certs.d/$h"
    printf 'server = "%s"\n\n[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$server" "$server" >"$c/certs.d/$h/hosts.toml"
  done
  cat >"$DIR/cni/net.d/10-sigwatch.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sigwatch-testenv",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_IF",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$DIR/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GW" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

# The sandbox image: Kubernetes' pause.c, static, one layer, reproducible.
cluster_push_pause() {
  local rp=$1 root=$DIR/images/pause
  mkdir -p "$root"
  cp "$BIN/pause" "$root/pause"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$DIR/images/pause.tar" -C "$root" pause
  "$BIN/crane" append --insecure --oci-empty-base -f "$DIR/images/pause.tar" -t "$NODE_IP:$rp/pause:base" >/dev/null 2>>"$(log_of crane)"
  # containerd matches os/architecture in the image config: set the platform.
  "$BIN/crane" mutate --insecure "$NODE_IP:$rp/pause:base" --entrypoint /pause --set-platform linux/amd64 \
    -t "$NODE_IP:$rp/pause:$KUBERNETES_VERSION" >/dev/null 2>>"$(log_of crane)"
}

cluster_kubelet_config() {
  local k=$DIR/kubelet
  mkdir -p "$k/root" "$k/pki" "$k/volume-plugins" "$k/pod-logs"
  cat >"$k/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has the cgroup v1 hierarchy, no swap accounting and no systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$DIR/containerd/containerd.sock
address: $NODE_IP
port: $(port_of kubelet)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(port_of kubelet-healthz)
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: AlwaysAllow}
enforceNodeAllocatable: []
volumePluginDir: $k/volume-plugins
podLogsDir: $k/pod-logs
registerNode: true
serializeImagePulls: false
# Every image the node holds in status.images (the default lists the 50 largest): a run leaves many small test
# images on the one node, and the eviction tests predict replacements from that list. The partial-list rule is
# tested with Node objects (test/integration/operator/eviction-nodes.test.ts).
nodeStatusMaxImages: -1
# The kubelet must never evict or collect images on its own in a test.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
EOF
}

cluster_proxy_config() {
  mkdir -p "$DIR/kube-proxy"
  cat >"$DIR/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $DIR/kubeconfigs/proxy
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:$(port_of kube-proxy)
metricsBindAddress: 127.0.0.1:$(port_of kube-proxy-metrics)
nodePortAddresses: ["$NODE_IP/32"]
iptables:
  masqueradeAll: false
  localhostNodePorts: false
# Sizes 0: kube-proxy leaves the machine's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" --request-timeout 5s "$@"; }

# Waits for a condition given as a command; dies naming what it waited for.
wait_for() { # seconds what cmd...
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what: not within ${secs}s"
    sleep 0.3
  done
}

node_ready() {
  [ "$(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ] &&
    [ -z "$(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.spec.taints}')" ]
}
default_service_account() { kubectl_admin get serviceaccount default -n default; }
kubernetes_endpoints() {
  kubectl_admin get endpointslices -n default -l kubernetes.io/service-name=kubernetes \
    -o 'jsonpath={.items[*].endpoints[*].addresses[*]}' | grep -qx "$NODE_IP"
}

# Starts the node and the controllers; the API server is already up.
cluster_start() {
  local rp lp
  rp=$(port_of olareg); lp=$(port_of legacy-registry)
  for c in node kcm scheduler proxy; do
    kubeconfig_for "$c" "$DIR/kubeconfigs/$c"
  done
  local kv=$KUBERNETES_VERSION t
  t=$(date +%s)
  cluster_kubelet_config
  start kubelet "$BIN/kubelet" --config "$DIR/kubelet/config.yaml" --kubeconfig "$DIR/kubeconfigs/node" \
    --root-dir "$DIR/kubelet/root" --cert-dir "$DIR/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$DIR/kubeconfigs/kcm" --authentication-kubeconfig "$DIR/kubeconfigs/kcm" \
    --authorization-kubeconfig "$DIR/kubeconfigs/kcm" --use-service-account-credentials=true \
    --service-account-private-key-file "$DIR/pki/sa.key" --root-ca-file "$DIR/pki/ca.crt" \
    --service-cluster-ip-range "$SERVICE_CIDR" --flex-volume-plugin-dir "$DIR/kcm-flexvolume" \
    --bind-address 127.0.0.1 --secure-port "$(port_of kube-controller-manager)" --leader-elect=false --v=1
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$DIR/kubeconfigs/scheduler" --authentication-kubeconfig "$DIR/kubeconfigs/scheduler" \
    --authorization-kubeconfig "$DIR/kubeconfigs/scheduler" \
    --bind-address 127.0.0.1 --secure-port "$(port_of kube-scheduler)" --leader-elect=false --v=1
  cluster_proxy_config
  start kube-proxy "$BIN/kube-proxy" --config "$DIR/kube-proxy/config.yaml" --v=1
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do wait_healthy "$c"; done
  wait_for 90 "node $NODE_NAME Ready and untainted (log: $(log_of kubelet))" node_ready
  say "node $NODE_NAME Ready in $(( $(date +%s) - t ))s (kubelet $kv, $(containerd --version | awk '{print $1" "$3}'))"
  # Pods need the ServiceAccount admission's `default` account and the
  # `kubernetes` Service's endpoint (in-cluster clients) before tests start.
  wait_for 60 "ServiceAccount default/default (log: $(log_of kube-controller-manager))" default_service_account
  wait_for 60 "endpoints of Service default/kubernetes = $NODE_IP" kubernetes_endpoints
}

cluster_healthy() { # component
  case $1 in
    containerd) ctr --address "$DIR/containerd/containerd.sock" --timeout 2s version >/dev/null 2>&1 ;;
    kubelet) [ "$(curl -s -m 2 "http://127.0.0.1:$(port_of kubelet-healthz)/healthz")" = ok ] ;;
    kube-proxy) curl -sf -m 2 -o /dev/null "http://127.0.0.1:$(port_of kube-proxy)/healthz" ;;
    kube-controller-manager | kube-scheduler) [ "$(curl -sk -m 2 "https://127.0.0.1:$(port_of "$1")/healthz")" = ok ] ;;
    *) return 1 ;;
  esac
}

# Every pid in a cgroup subtree of every v1 hierarchy, then the cgroups,
# bottom-up: containers outlive a killed kubelet and shim.
cluster_cgroups_clean() {
  local h top pids i
  for i in 1 2 3; do
    pids=$(cat /sys/fs/cgroup/*/kubepods*/cgroup.procs /sys/fs/cgroup/*/kubepods*/*/cgroup.procs \
      /sys/fs/cgroup/*/kubepods*/*/*/cgroup.procs /sys/fs/cgroup/*/kubepods*/*/*/*/cgroup.procs 2>/dev/null | sort -u || true)
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  for h in /sys/fs/cgroup/*/; do
    for top in "$h"kubepods*; do
      [ -d "$top" ] || continue
      find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      if [ -d "$top" ]; then say "cgroup still present: $top"; fi
    done
  done
}

# Removes the iptables rules this profile (guards) and its kube-proxy,
# kubelet and CNI plugins (KUBE-*, CNI-* chains) left, in both families.
cluster_iptables_clean() {
  local fam t ch
  local -a r
  for fam in iptables ip6tables; do
    for t in filter mangle nat; do
      # Rules are split into words, never evaluated: they are text a rule's
      # author (a comment, a chain name) partly controls.
      "$fam" -t $t -S 2>/dev/null | grep -- '--comment sigwatch-testenv' | sed 's/^-A /-D /' |
        while read -ra r; do "$fam" -t $t "${r[@]}" 2>/dev/null || true; done || true
      "$fam" -t $t -S 2>/dev/null | grep -E '^-A ' | grep -E -- '-j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-' |
        sed 's/^-A /-D /' | while read -ra r; do "$fam" -t $t "${r[@]}" 2>/dev/null || true; done || true
      for ch in $("$fam" -t $t -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/{print $2}'); do "$fam" -t $t -F "$ch" 2>/dev/null || true; done
      for ch in $("$fam" -t $t -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/{print $2}'); do "$fam" -t $t -X "$ch" 2>/dev/null || true; done
    done
  done
}

# Stops the cluster's processes and removes everything it made outside its
# directory. Idempotent; with an empty directory argument it removes only
# machine-wide leftovers (interfaces, rules, cgroups). Safe before `up`.
cluster_cleanup() { # dir
  local d=$1 c v owner
  # The machine-wide part (cgroups, interfaces, chains, sysctls) belongs to
  # the environment named by the lock: `down` on a directory whose start
  # failed must not tear down a cluster another run has up meanwhile.
  owner=$(cat "$CLUSTER_LOCK" 2>/dev/null || true)
  local machine=1
  if [ -n "$owner" ] && [ "$owner" != "$d" ]; then machine=0; fi
  if [ -n "$d" ] && [ -d "$d" ]; then
    local DIR=$d
    # Pods first, while the kubelet and containerd still run: the kubelet tears
    # sandboxes down through CNI DEL (addresses, veths). Controllers stop first
    # so nothing recreates them.
    stop_one kube-controller-manager
    stop_one kube-scheduler
    if alive kubelet && alive kube-apiserver; then
      kubectl_admin delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
      local deadline=$(( $(date +%s) + 20 ))
      while [ "$(date +%s)" -lt "$deadline" ] &&
        ctr --address "$d/containerd/containerd.sock" --timeout 2s -n k8s.io tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING" {f = 1} END {exit !f}'; do
        sleep 0.5
      done
    fi
    stop_one kubelet
    stop_one kube-proxy
    if [ $machine = 1 ] && [ -f "$d/kube-proxy/config.yaml" ]; then
      "$BIN/kube-proxy" --cleanup >"$d/logs/kube-proxy-cleanup.log" 2>&1 || true
    fi
    stop_one kube-apiserver
    stop_one containerd
    # Shims of this containerd outlive it; their -address is its socket.
    for v in $(pgrep -f "containerd-shim-runc-v2 .*-address $d/containerd/containerd.sock" || true); do
      kill -KILL "$v" 2>/dev/null || true
    done
  fi
  if [ -n "$d" ]; then
    # containerd's loopback CNI results, per sandbox of this environment.
    for v in "$d"/containerd/root/io.containerd.grpc.v1.cri/sandboxes/*; do
      if [ -d "$v" ]; then rm -f /var/lib/cni/results/*-"$(basename "$v")"-* 2>/dev/null; fi
    done
  fi
  if [ $machine = 0 ]; then
    say "the machine's cluster slot belongs to $owner: leaving interfaces, rules and cgroups to it"
  else
    cluster_cgroups_clean
  fi
  if [ -n "$d" ]; then
    # The kubelet bind-mounts its root dir onto itself; netns and overlay
    # mounts live under containerd's state: unmount deepest first.
    awk -v p="$d/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  fi
  [ $machine = 1 ] || return 0
  for v in $(ip -o link show master "$POD_IF" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 || true); do
    ip link del "$v" 2>/dev/null || true
  done
  for v in "$POD_IF" "$NODE_IF"; do ip link del "$v" 2>/dev/null || true; done
  cluster_iptables_clean
  if [ -n "$d" ] && [ -f "$d/ip_forward" ]; then sysctl -qw "net.ipv4.ip_forward=$(cat "$d/ip_forward")" || true; fi
  if [ -n "$d" ] && [ -f "$d/sysctls" ]; then
    while read -r c v; do sysctl -qw "$c=$v" 2>/dev/null || true; done <"$d/sysctls"
  fi
  # Written outside the configured directories by the kubelet and CNI.
  for v in /var/log/containers/*.log; do
    if [ -L "$v" ] && [ -n "$d" ] && readlink "$v" | grep -q "^$d/"; then rm -f "$v"; fi
  done
  rm -f /var/lib/cni/results/sigwatch-testenv-* /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null || true
  rm -f /var/lib/kubelet/plugins_registry/* 2>/dev/null || true
  rmdir /var/lib/kubelet/plugins_registry /var/lib/kubelet/plugins 2>/dev/null || true
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/lib/cni/results /var/lib/cni /var/log/containers 2>/dev/null || true
  if [ -f "$CLUSTER_LOCK" ] && { [ -z "$d" ] || [ "$(cat "$CLUSTER_LOCK")" = "$d" ]; }; then rm -f "$CLUSTER_LOCK"; fi
}

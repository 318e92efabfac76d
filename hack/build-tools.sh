#!/usr/bin/env bash
# Builds (or installs) every binary the test environment needs into a cache
# outside the repository, idempotently:
#
#   ${SIGWATCH_CACHE:-$HOME/.cache/sigwatch}/
#     bin/          kube-apiserver kubectl etcd cosign olareg crane legacy-registry
#                   kubelet kube-controller-manager kube-scheduler kube-proxy
#                   pause testapp (the cluster profile's node and its images)
#     bin/.stamps/  one file per binary holding the version it was built from
#     go/mod go/build   Go module and build caches (kept apart from the user's)
#     build/<name>/ throw-away wrapper modules
#
# Versions come from hack/versions.env only. A binary whose stamp matches its
# pinned version is not rebuilt, so a warm cache costs seconds. The cold build
# (kube-apiserver dominates) takes 20-35 minutes on 2 cores; a heartbeat line
# is printed every 30 s so CI logs show progress.
#
# Usage: hack/build-tools.sh [component...]   (default: all)
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/versions.env
. "$HACK_DIR/versions.env"

CACHE=${SIGWATCH_CACHE:-$HOME/.cache/sigwatch}
BIN=$CACHE/bin
STAMPS=$BIN/.stamps
BUILD=$CACHE/build
mkdir -p "$BIN" "$STAMPS" "$BUILD" "$CACHE/go/mod" "$CACHE/go/build"

export GOMODCACHE=$CACHE/go/mod
export GOCACHE=$CACHE/go/build
# Never let the go command download another toolchain: only registries are
# reachable, and a silent toolchain switch would hide a too-old Go.
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"

log() { printf '[build-tools %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

check_go() {
  command -v go >/dev/null || die "Go is not installed; Go >= $GO_MIN_VERSION is needed to build the test environment"
  local have
  have=$(go env GOVERSION | sed 's/^go//')
  if [ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$have" | sort -V | head -1)" != "$GO_MIN_VERSION" ]; then
    die "Go $have is too old; Go >= $GO_MIN_VERSION is needed (GOTOOLCHAIN=local: no toolchain download)"
  fi
}

is_current() { # name version
  [ -x "$BIN/$1" ] && [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$2" ]
}

stamp() { printf '%s\n' "$2" >"$STAMPS/$1"; }

# Runs "$@" with its output in a log file, printing a heartbeat with the number
# of packages compiled so far (go build -v prints one line per package).
run_logged() { # name cmd...
  local name=$1; shift
  local logf=$BUILD/$name.log start pid
  start=$(date +%s)
  "$@" >"$logf" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if [ $(( ($(date +%s) - start) % 30 )) -lt 5 ] && kill -0 "$pid" 2>/dev/null; then
      log "$name: still building, $(( $(date +%s) - start ))s, $(wc -l <"$logf") log lines"
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$logf" >&2
    die "$name failed after $(( $(date +%s) - start ))s; full log: $logf"
  fi
  log "$name: done in $(( $(date +%s) - start ))s"
  TIMES+=("$name $(( $(date +%s) - start ))s")
}

# One line per built step with its time, for CI logs ("cached" components are
# not listed: they cost nothing).
TIMES=()

# A fresh wrapper module per component, so minimal version selection in one
# cannot move another's dependencies.
wrapper() { # name -> prints dir
  local dir=$BUILD/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && go mod init "sigwatch.test/$1-build" >/dev/null 2>&1 && go mod edit -go=1.26.0)
  printf '%s\n' "$dir"
}

# A wrapper module for k8s.io/kubernetes commands. k8s.io/kubernetes requires
# its staging modules at v0.0.0 with replace lines pointing into ./staging;
# replaces only apply in the main module, so the wrapper maps each one to its
# published version, read from the tag's own go.mod so the list never goes
# stale. Every wrapper gets the same lines, so they share one build cache.
k8s_wrapper() { # name -> prints dir
  local kv=$KUBERNETES_VERSION dir sv gomod
  dir=$(wrapper "$1")
  sv=v0.${kv#v1.}
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$kv" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$kv"
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod" | while read -r m; do
    (cd "$dir" && go mod edit -replace="$m=$m@$sv")
  done
  printf '%s\n' "$dir"
}

# Only makes /version and --version truthful (the Node's kubeletVersion comes
# from it); behaviour comes from the code.
k8s_ldflags() {
  local kv=$KUBERNETES_VERSION v=k8s.io/component-base/version
  echo "-s -w -X $v.gitVersion=$kv -X $v.gitMajor=1 -X $v.gitMinor=$(echo "$kv" | cut -d. -f2) -X $v.gitTreeState=clean"
}

build_kubernetes() {
  local kv=$KUBERNETES_VERSION dir ld
  if is_current kube-apiserver "$kv" && is_current kubectl "$kv"; then
    log "kube-apiserver, kubectl $kv: cached"; return
  fi
  log "kube-apiserver, kubectl $kv: building (the long one: 5-10 min cold)"
  dir=$(k8s_wrapper kubernetes)
  ld=$(k8s_ldflags)
  run_logged kubernetes-deps bash -c "cd '$dir' && go get -tool k8s.io/kubernetes/cmd/kube-apiserver@$kv && go get -tool k8s.io/kubernetes/cmd/kubectl@$kv"
  run_logged kube-apiserver bash -c "cd '$dir' && go build -v -ldflags '$ld' -o '$BIN/kube-apiserver' k8s.io/kubernetes/cmd/kube-apiserver"
  stamp kube-apiserver "$kv"
  run_logged kubectl bash -c "cd '$dir' && go build -v -ldflags '$ld' -o '$BIN/kubectl' k8s.io/kubernetes/cmd/kubectl"
  stamp kubectl "$kv"
}

# The cluster profile's node and controllers, from the same pinned module:
# kubelet, kube-controller-manager, kube-scheduler, kube-proxy. With the
# kube-apiserver build cache warm this adds ~2 min (testenv.md §8c).
NODE_COMMANDS=(kubelet kube-controller-manager kube-scheduler kube-proxy)
build_node() {
  local kv=$KUBERNETES_VERSION dir ld c all=1 pkgs=()
  for c in "${NODE_COMMANDS[@]}"; do is_current "$c" "$kv" || all=0; done
  if [ $all = 1 ]; then log "${NODE_COMMANDS[*]} $kv: cached"; return; fi
  log "${NODE_COMMANDS[*]} $kv: building"
  dir=$(k8s_wrapper node)
  ld=$(k8s_ldflags)
  for c in "${NODE_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  run_logged node-deps bash -c "cd '$dir' && for p in ${pkgs[*]}; do go get -tool \$p@$kv || exit 1; done"
  run_logged node bash -c "cd '$dir' && go build -v -ldflags '$ld' -o '$BIN/' ${pkgs[*]}"
  for c in "${NODE_COMMANDS[@]}"; do stamp "$c" "$kv"; done
}

# The sandbox ("pause") image's binary: Kubernetes' own pause.c from the
# pinned module, linked statically with Debian's gcc (no registry.k8s.io).
build_pause() {
  local kv=$KUBERNETES_VERSION src dir
  if is_current pause "$kv"; then log "pause $kv: cached"; return; fi
  command -v gcc >/dev/null || die "gcc is missing (hack/install-apt.sh installs gcc and libc6-dev)"
  log "pause $kv: building"
  dir=$(wrapper pause)
  (cd "$dir" && go mod download "k8s.io/kubernetes@$kv") || die "could not download k8s.io/kubernetes@$kv"
  src=$GOMODCACHE/k8s.io/kubernetes@$kv/build/pause/linux/pause.c
  [ -f "$src" ] || die "pause.c not found at $src"
  run_logged pause bash -c "gcc -Os -Wall -Werror -static -DVERSION=$kv -o '$BIN/pause' '$src' && strip '$BIN/pause'"
  stamp pause "$kv"
}

# The runnable test image's binary (hack/testapp): sleeps, answers /healthz,
# exits on SIGTERM. Keyed by the source's hash so an edit rebuilds it.
build_testapp() {
  local sum dir
  sum=$(cat "$HACK_DIR/testapp/go.mod" "$HACK_DIR/testapp/main.go" | sha256sum | cut -c1-16)
  if is_current testapp "$sum"; then log "testapp $sum: cached"; return; fi
  log "testapp $sum: building"
  dir=$BUILD/testapp
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$HACK_DIR/testapp/go.mod" "$HACK_DIR/testapp/main.go" "$dir/"
  run_logged testapp bash -c "cd '$dir' && go build -v -ldflags '-s -w' -o '$BIN/testapp' ."
  stamp testapp "$sum"
}

build_etcd() {
  # server/go.mod has replace directives, which `go install pkg@version`
  # refuses; as a tool of a wrapper module it builds.
  build_tool etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
}

# `go install pkg@version` is avoided: it reads the module's version list to
# check deprecations, and the proxy answers 403 for some lists (olareg). A
# wrapper module with the command as a tool needs only the pinned version.
build_tool() { # name package version [extra ldflags]
  if is_current "$1" "$3"; then log "$1 $3: cached"; return; fi
  log "$1 $3: building"
  local dir
  dir=$(wrapper "$1")
  run_logged "$1" bash -c "cd '$dir' && go get -tool '$2@$3' && go build -v -ldflags '-s -w ${4:-}' -o '$BIN/$1' '$2'"
  stamp "$1" "$3"
}

build_legacy_registry() {
  if is_current legacy-registry "$GGCR_VERSION"; then log "legacy-registry $GGCR_VERSION: cached"; return; fi
  log "legacy-registry (go-containerregistry $GGCR_VERSION, referrers API off): building"
  local dir
  dir=$(wrapper legacy-registry)
  cp "$HACK_DIR/legacy-registry/main.go" "$dir/main.go"
  run_logged legacy-registry bash -c "cd '$dir' && go get github.com/google/go-containerregistry@$GGCR_VERSION && go mod tidy && go build -v -ldflags '-s -w' -o '$BIN/legacy-registry' ."
  stamp legacy-registry "$GGCR_VERSION"
}

main() {
  check_go
  local start all=(olareg crane legacy-registry etcd cosign kubernetes node pause testapp helm)
  start=$(date +%s)
  [ $# -gt 0 ] || set -- "${all[@]}"
  log "cache: $CACHE (Go $(go env GOVERSION), GOPROXY=$(go env GOPROXY))"
  for c in "$@"; do
    case $c in
      olareg) build_tool olareg github.com/olareg/olareg/cmd/olareg "$OLAREG_VERSION" ;;
      crane) build_tool crane github.com/google/go-containerregistry/cmd/crane "$GGCR_VERSION" ;;
      legacy-registry) build_legacy_registry ;;
      etcd) build_etcd ;;
      cosign) build_tool cosign github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN_VERSION" ;;
      # The chart's tests (lint, template, install/upgrade/uninstall, OCI push).
      # 251 s from an empty module and build cache on 2 cores (2 min 16 s with the module cache warm);
      # the -X makes `helm version` truthful.
      helm) build_tool helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" ;;
      kubernetes) build_kubernetes ;;
      node) build_node ;;
      pause) build_pause ;;
      testapp) build_testapp ;;
      *) die "unknown component '$c' (known: ${all[*]})" ;;
    esac
  done
  if [ ${#TIMES[@]} -eq 0 ]; then log "build times: everything cached"; else log "build times: $(printf '%s, ' "${TIMES[@]}" | sed 's/, $//')"; fi
  log "all tools ready in $BIN ($(( $(date +%s) - start ))s)"
}

main "$@"

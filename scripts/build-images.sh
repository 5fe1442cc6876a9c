#!/usr/bin/env bash
# Build the cache-cluster container images locally, without any registry.
#
# No image can be pulled on our machines, so instead of `docker build FROM ...`
# each image is a minimal root filesystem assembled from the Debian packages
# installed on this host (see scripts/install-system.sh) and turned into an
# image with `tar -C rootfs -c . | docker import - TAG`.
#
#   cache-cluster/redis:<redis version>-debian
#       redis-server (+ redis-sentinel, redis-check-* symlinks), redis-cli,
#       redis-benchmark, /bin/sh (dash), busybox applets (cat, sleep, cp, mkdir,
#       rm, ...), their shared libraries, /etc/passwd with `redis` (999) and
#       `nobody`, nsswitch.conf for Docker's embedded DNS, /data, /tmp,
#       /etc/cache-cluster.  No ENTRYPOINT, CMD ["redis-server"], WORKDIR /data:
#       used like the upstream redis:7 image (`docker run IMG redis-server ...`,
#       `docker run IMG sh -c ...`, `docker run IMG redis-cli ...`).
#
#   cache-cluster/redis-exporter:<exporter version>-debian
#       /usr/bin/prometheus-redis-exporter (+ /redis_exporter symlink, as in the
#       upstream oliver006/redis_exporter image), ENTRYPOINT the exporter,
#       USER nobody.
#
#   cache-cluster/prometheus:<prometheus version>-debian
#       /bin/prometheus and /bin/promtool (as in the upstream prom/prometheus
#       image), Debian's web UI assets (/usr/share/prometheus/web, without the
#       unused time zone data), busybox applets (sh, wget for the health
#       check), /prometheus owned by nobody, USER nobody, ENTRYPOINT
#       /bin/prometheus.
#
#   cache-cluster/hook:<package version>-debian
#       this package and its CLI (`cache-cluster init ...`, the post-deploy
#       hook): Debian's python3 (the interpreter, its shared libraries and the
#       standard library without tests, GUI, build and packaging modules) and
#       the package with its dependencies installed from the wheels pip finds
#       here (`pip install --target`), byte-compiled at build time so a start
#       compiles nothing. ENTRYPOINT cache-cluster, USER nobody. The registry
#       equivalent is the repository's Dockerfile. Rebuilt when the package's
#       sources (components/, pyproject.toml) change.
#
# The tags are written to scripts/images.env (KEY=VALUE lines, usable with
# Makefile `include` and shell `set -a; . scripts/images.env`):
#   CACHE_CLUSTER_REDIS_IMAGE=...
#   CACHE_CLUSTER_EXPORTER_IMAGE=...
#   CACHE_CLUSTER_PROMETHEUS_IMAGE=...
#   CACHE_CLUSTER_HOOK_IMAGE=...
#
# An image is not rebuilt when its tag exists and was built by this same
# version of the script from the same Debian package versions (labels), unless
# --force is given.
#
# Usage: scripts/build-images.sh [--force] [--env-only]
#   --force     rebuild even when up to date
#   --env-only  only compute the tags and write scripts/images.env
# Env: CACHE_CLUSTER_IMAGES_ENV  path of the env file (default scripts/images.env)
#      BUILD_LOCK_TIMEOUT        seconds to wait for a concurrent build (default 300)
#      PYTHON                    the Python whose pip installs the hook's wheels (default .venv/bin/python)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
PIP_PYTHON=${PYTHON:-$REPO_ROOT/.venv/bin/python}
ENV_FILE=${CACHE_CLUSTER_IMAGES_ENV:-$SCRIPT_DIR/images.env}
LOCK_TIMEOUT=${BUILD_LOCK_TIMEOUT:-300}

FORCE=0
ENV_ONLY=0
for arg in "$@"; do
  case $arg in
    --force) FORCE=1 ;;
    --env-only) ENV_ONLY=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$SCRIPT_PATH" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

log() { printf '[build-images] %s\n' "$*"; }
die() { printf '[build-images] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- versions ---
pkg_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
    die "Debian package $1 is not installed; run scripts/install-system.sh"
}
# "5:7.0.15-1~deb12u10" -> "7.0.15": drop the epoch and the Debian revision,
# keep only characters allowed in a docker tag.
upstream_version() {
  local v=${1#*:}
  v=${v%-*}
  printf '%s' "${v//[^A-Za-z0-9_.-]/_}"
}

REDIS_DEB_VERSION=$(pkg_version redis-server)
EXPORTER_DEB_VERSION=$(pkg_version prometheus-redis-exporter)
PROMETHEUS_DEB_VERSION=$(pkg_version prometheus)
REDIS_VERSION=$(upstream_version "$REDIS_DEB_VERSION")
EXPORTER_VERSION=$(upstream_version "$EXPORTER_DEB_VERSION")
PYTHON_DEB_VERSION=$(pkg_version python3-minimal)
PACKAGE_VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/pyproject.toml" | head -n1)
[[ -n $PACKAGE_VERSION ]] || die "no version = \"...\" in $REPO_ROOT/pyproject.toml"
# The hook image holds the package's sources: a change to them is a new image (like a new Debian package).
SOURCE_HASH=$(cd "$REPO_ROOT" && find components pyproject.toml -type f \( -name '*.py' -o -name '*.toml' -o -name py.typed \) \
  -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
# "2.42.0+ds-5+deb12u1" -> "2.42.0": also drop Debian's "+ds" repack suffix.
PROMETHEUS_VERSION=$(upstream_version "${PROMETHEUS_DEB_VERSION%%+*}")
REDIS_IMAGE="cache-cluster/redis:${REDIS_VERSION}-debian"
EXPORTER_IMAGE="cache-cluster/redis-exporter:${EXPORTER_VERSION}-debian"
PROMETHEUS_IMAGE="cache-cluster/prometheus:${PROMETHEUS_VERSION}-debian"
HOOK_IMAGE="cache-cluster/hook:${PACKAGE_VERSION}-debian"
HOOK_BUILD_INPUTS="python3=$PYTHON_DEB_VERSION;sources=$SOURCE_HASH"
# Changing this script changes the recipe label, which triggers a rebuild.
RECIPE=$(sha256sum "$SCRIPT_PATH" | cut -c1-16)

write_env_file() {
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  {
    echo "# Written by scripts/build-images.sh; image tags of the locally built images."
    echo "CACHE_CLUSTER_REDIS_IMAGE=$REDIS_IMAGE"
    echo "CACHE_CLUSTER_EXPORTER_IMAGE=$EXPORTER_IMAGE"
    echo "CACHE_CLUSTER_PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"
    echo "CACHE_CLUSTER_HOOK_IMAGE=$HOOK_IMAGE"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

print_tags() {
  echo "CACHE_CLUSTER_REDIS_IMAGE=$REDIS_IMAGE"
  echo "CACHE_CLUSTER_EXPORTER_IMAGE=$EXPORTER_IMAGE"
  echo "CACHE_CLUSTER_PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"
  echo "CACHE_CLUSTER_HOOK_IMAGE=$HOOK_IMAGE"
}

if [[ $ENV_ONLY -eq 1 ]]; then
  write_env_file
  log "wrote $ENV_FILE"
  print_tags
  exit 0
fi

# ----------------------------------------------------------- prerequisites ---
for tool in docker tar ldd sha256sum flock busybox dash redis-server redis-cli prometheus-redis-exporter prometheus promtool; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-system.sh"
done
[[ -x /usr/bin/python3 ]] || die "Debian's /usr/bin/python3 not found; run scripts/install-system.sh"
[[ -x $PIP_PYTHON ]] || die "no Python at $PIP_PYTHON to install the hook image's wheels; run 'make venv' (or set PYTHON)"
timeout 20 docker info >/dev/null 2>&1 || die "docker daemon not answering; run scripts/start-dockerd.sh"

# Serialise concurrent runs (e.g. make and the e2e tests at the same time).
LOCK_FILE=/tmp/cache-cluster-build-images.lock
exec 9>"$LOCK_FILE"
if ! flock -n 9; then
  log "another build holds $LOCK_FILE; waiting up to ${LOCK_TIMEOUT}s for it"
  flock -w "$LOCK_TIMEOUT" 9 || die "timed out after ${LOCK_TIMEOUT}s waiting for the lock $LOCK_FILE"
fi

WORK=$(mktemp -d /tmp/cache-cluster-images.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- helpers ---
# Debian 12 is merged-/usr: /bin, /sbin, /lib, /lib64 are symlinks into /usr.
# Reproduce that so every path ldd prints resolves inside the rootfs.
new_rootfs() {
  local root=$1
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/usr/local/bin "$root"/etc \
    "$root"/tmp "$root"/run "$root"/root "$root"/var/tmp
  ln -s usr/bin "$root/bin"
  ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 0700 "$root/root"
  # Docker bind-mounts these at run time; provide the mount points.
  : >"$root/etc/hosts"
  : >"$root/etc/resolv.conf"
  : >"$root/etc/hostname"
  cat >"$root/etc/nsswitch.conf" <<'NSS'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
NSS
}

# copy_file SRC ROOT [DEST]: copy the file SRC points to (dereferenced) to
# ROOT/DEST (default: the same path as SRC).
copy_file() {
  local src=$1 root=$2 dest=${3:-$1}
  mkdir -p "$root$(dirname "$dest")"
  cp -L --preserve=mode "$src" "$root$dest"
}

# copy_libs ROOT BIN...: copy every shared library ldd lists for BIN
# (including the dynamic loader) to the same path inside ROOT.
copy_libs() {
  local root=$1 bin lib
  shift
  for bin in "$@"; do
    if ! ldd "$bin" >/dev/null 2>&1; then
      continue # static binary
    fi
    while read -r lib; do
      [[ -n $lib ]] || continue
      [[ -e $root$lib ]] || copy_file "$lib" "$root"
    done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
  done
}

# root_and_nobody ROOT SHELL: /etc/passwd and /etc/group with root (login shell SHELL) and nobody only.
root_and_nobody() {
  local root=$1 shell=$2
  printf 'root:x:0:0:root:/root:%s\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' "$shell" >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

image_up_to_date() {
  local tag=$1 deb_version=$2 labels
  labels=$(docker image inspect "$tag" --format \
    '{{index .Config.Labels "cache-cluster.recipe"}} {{index .Config.Labels "cache-cluster.debian-package-version"}}' 2>/dev/null) || return 1
  [[ $labels == "$RECIPE $deb_version" ]]
}

# import_rootfs ROOT TAG CHANGE...: tar ROOT into a new image TAG.
import_rootfs() {
  local root=$1 tag=$2
  shift 2
  local args=() c
  for c in "$@"; do args+=(--change "$c"); done
  tar --numeric-owner -C "$root" -c . | docker import "${args[@]}" - "$tag" >/dev/null
}

image_size() {
  docker image inspect "$1" --format '{{.Size}}' | awk '{printf "%.1f MB", $1/1000/1000}'
}

COMMON_LABELS=(
  "LABEL org.opencontainers.image.source=debian-packages"
  "LABEL cache-cluster.recipe=$RECIPE"
)
BASE_PATH="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# ------------------------------------------------------------ redis image ---
build_redis() {
  local root=$WORK/redis
  new_rootfs "$root"

  # redis-server/redis-sentinel are symlinks to redis-check-rdb in Debian; the
  # binary picks its mode from argv[0], so symlinks to the real copy work.
  copy_file "$(readlink -f "$(command -v redis-server)")" "$root" /usr/bin/redis-server
  ln -s redis-server "$root/usr/bin/redis-sentinel"
  ln -s redis-server "$root/usr/bin/redis-check-rdb"
  ln -s redis-server "$root/usr/bin/redis-check-aof"
  copy_file "$(readlink -f "$(command -v redis-cli)")" "$root" /usr/bin/redis-cli
  if command -v redis-benchmark >/dev/null 2>&1; then
    copy_file "$(readlink -f "$(command -v redis-benchmark)")" "$root" /usr/bin/redis-benchmark
  fi
  copy_file "$(readlink -f "$(command -v dash)")" "$root" /usr/bin/dash
  ln -s dash "$root/usr/bin/sh"

  # busybox-static: every applet as a symlink, unless the path is taken
  # (so /bin/sh stays dash).
  copy_file "$(readlink -f "$(command -v busybox)")" "$root" /usr/bin/busybox
  local applet
  while read -r applet; do
    [[ -n $applet ]] || continue
    [[ -e $root/$applet || -L $root/$applet ]] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /usr/bin/busybox "$root/$applet"
  done < <("$root/usr/bin/busybox" --list-full)

  local bins=("$root/usr/bin/redis-server" "$root/usr/bin/redis-cli" "$root/usr/bin/dash")
  if [[ -e $root/usr/bin/redis-benchmark ]]; then
    bins+=("$root/usr/bin/redis-benchmark")
  fi
  copy_libs "$root" "${bins[@]}"
  # glibc >= 2.34 has the files/dns NSS modules built into libc.so.6; the
  # libnss_*.so.2 files are empty compatibility stubs.  Ship them anyway so
  # a libc that still dlopen()s them finds them.
  local nss
  for nss in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 \
    /lib/x86_64-linux-gnu/libresolv.so.2; do
    if [[ -e $nss && ! -e $root$nss ]]; then
      copy_file "$nss" "$root"
    fi
  done

  cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
redis:x:999:999:redis:/data:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
  cat >"$root/etc/group" <<'GR'
root:x:0:
redis:x:999:
nogroup:x:65534:
GR
  mkdir -p "$root/data" "$root/etc/cache-cluster" "$root/etc/redis" "$root/var/log/redis" "$root/run/redis"
  chown 999:999 "$root/data" "$root/etc/cache-cluster" "$root/var/log/redis" "$root/run/redis"
  chmod 0777 "$root/data"
  chmod 0775 "$root/etc/cache-cluster"

  import_rootfs "$root" "$REDIS_IMAGE" \
    "${COMMON_LABELS[@]}" \
    "LABEL org.opencontainers.image.title=cache-cluster-redis" \
    "LABEL org.opencontainers.image.version=$REDIS_VERSION" \
    "LABEL cache-cluster.debian-package-version=$REDIS_DEB_VERSION" \
    "ENV $BASE_PATH" \
    "WORKDIR /data" \
    "EXPOSE 6379" \
    'CMD ["redis-server"]'
  rm -rf "$root"
}

# --------------------------------------------------------- exporter image ---
build_exporter() {
  local root=$WORK/exporter
  new_rootfs "$root"
  copy_file "$(readlink -f "$(command -v prometheus-redis-exporter)")" "$root" /usr/bin/prometheus-redis-exporter
  ln -s /usr/bin/prometheus-redis-exporter "$root/redis_exporter"
  copy_libs "$root" "$root/usr/bin/prometheus-redis-exporter"
  root_and_nobody "$root" /bin/false
  import_rootfs "$root" "$EXPORTER_IMAGE" \
    "${COMMON_LABELS[@]}" \
    "LABEL org.opencontainers.image.title=cache-cluster-redis-exporter" \
    "LABEL org.opencontainers.image.version=$EXPORTER_VERSION" \
    "LABEL cache-cluster.debian-package-version=$EXPORTER_DEB_VERSION" \
    "ENV $BASE_PATH" \
    "USER 65534:65534" \
    "EXPOSE 9121" \
    'ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]'
  rm -rf "$root"
}

# ------------------------------------------------------------- hook image ---
# Standard library parts the CLI never imports: tests, GUI, build/packaging tools, databases.
STDLIB_SKIP=(test idlelib tkinter turtledemo ensurepip lib2to3 pydoc_data distutils venv sqlite3 dbm curses
  "config-3.*" __pycache__ EXTERNALLY-MANAGED)
DYNLOAD_SKIP=("_tkinter*" "_sqlite3*" "_curses*" "_dbm*" "_gdbm*" "_test*" "xx*" "_xx*" "_ctypes_test*" "_nis*" "readline*")

# pip evaluates environment markers against its own interpreter (the venv's), not Debian's python3 that runs
# the image: redis-py needs async-timeout below Python 3.11.3 (Debian 12 ships 3.11.2), a marker the venv's
# newer Python skips. Named here so the image has it whatever interpreter runs pip.
HOOK_EXTRA_REQUIREMENTS=("async-timeout>=4.0.3")

build_hook() {
  local root=$WORK/hook python version stdlib
  new_rootfs "$root"
  # Debian's interpreter, not whatever `python3` is first on PATH (pyenv shims, a venv).
  python=$(readlink -f /usr/bin/python3)
  version=$(basename "$python") # python3.11
  stdlib=/usr/lib/$version
  copy_file "$python" "$root" "/usr/bin/$version"
  ln -s "$version" "$root/usr/bin/python3"

  local excludes=() pattern
  for pattern in "${STDLIB_SKIP[@]}"; do excludes+=(--exclude="./$pattern" --exclude="*/$pattern"); done
  for pattern in "${DYNLOAD_SKIP[@]}"; do excludes+=(--exclude="./lib-dynload/$pattern"); done
  mkdir -p "$root$stdlib"
  tar -C "$stdlib" "${excludes[@]}" -cf - . | tar -C "$root$stdlib" -xf -
  copy_libs "$root" "$root/usr/bin/$version" "$root$stdlib"/lib-dynload/*.so

  # The package and its runtime dependencies only (no Pulumi, no test tools), where Debian's python3 looks.
  local site=/usr/lib/python3/dist-packages
  "$PIP_PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-warn-script-location \
    --target "$root$site" "$REPO_ROOT" "${HOOK_EXTRA_REQUIREMENTS[@]}" >"$WORK/pip.log" 2>&1 || die "pip install of the hook failed: $(tail -n 20 "$WORK/pip.log")"
  rm -rf "$root$site/bin"
  local extensions=()
  mapfile -t extensions < <(find "$root$site" -name '*.so' -type f)
  [[ ${#extensions[@]} -eq 0 ]] || copy_libs "$root" "${extensions[@]}"
  find "$root$site" -depth -type d \( -name __pycache__ -o -name tests \) -exec rm -rf {} +
  printf '%s\n' "#!/usr/bin/$version" "from cache_cluster.cli import main" "raise SystemExit(main())" \
    >"$root/usr/bin/cache-cluster"
  chmod 0755 "$root/usr/bin/cache-cluster"
  # Compiled now, with the image's own paths in the .pyc files: nobody (the user) cannot write them later.
  "$python" -m compileall -q -j 0 -s "$root" -p / "$root$stdlib" "$root$site" >/dev/null ||
    die "compileall failed in the hook image's root"

  root_and_nobody "$root" /bin/false
  import_rootfs "$root" "$HOOK_IMAGE" \
    "${COMMON_LABELS[@]}" \
    "LABEL org.opencontainers.image.title=cache-cluster-hook" \
    "LABEL org.opencontainers.image.version=$PACKAGE_VERSION" \
    "LABEL cache-cluster.debian-package-version=$HOOK_BUILD_INPUTS" \
    "ENV $BASE_PATH" \
    "ENV PYTHONDONTWRITEBYTECODE=1" \
    "ENV PYTHONUNBUFFERED=1" \
    "ENV HOME=/tmp" \
    "WORKDIR /tmp" \
    "USER 65534:65534" \
    'ENTRYPOINT ["cache-cluster"]' \
    'CMD ["--help"]'
  rm -rf "$root"
}

# ------------------------------------------------------- prometheus image ---
PROMETHEUS_WEB=/usr/share/prometheus/web
build_prometheus() {
  local root=$WORK/prometheus
  new_rootfs "$root"
  copy_file "$(readlink -f "$(command -v prometheus)")" "$root" /usr/bin/prometheus
  copy_file "$(readlink -f "$(command -v promtool)")" "$root" /usr/bin/promtool
  copy_file "$(readlink -f "$(command -v busybox)")" "$root" /usr/bin/busybox
  local applet
  for applet in sh wget cat ls; do
    ln -s busybox "$root/usr/bin/$applet"
  done
  copy_libs "$root" "$root/usr/bin/prometheus" "$root/usr/bin/promtool"
  # Debian's Prometheus serves its web UI from these files (--web.local-assets); most of them are
  # symlinks into other Debian packages. The time zone database (~200 MB) is not used by the UI.
  mkdir -p "$root$PROMETHEUS_WEB"
  cp -rL "$PROMETHEUS_WEB/." "$root$PROMETHEUS_WEB/"
  rm -rf "$root$PROMETHEUS_WEB/static/moment-timezone/data"
  mkdir -p "$root/etc/prometheus" "$root/prometheus"
  chown 65534:65534 "$root/prometheus"
  root_and_nobody "$root" /bin/sh
  import_rootfs "$root" "$PROMETHEUS_IMAGE" \
    "${COMMON_LABELS[@]}" \
    "LABEL org.opencontainers.image.title=cache-cluster-prometheus" \
    "LABEL org.opencontainers.image.version=$PROMETHEUS_VERSION" \
    "LABEL cache-cluster.debian-package-version=$PROMETHEUS_DEB_VERSION" \
    "ENV $BASE_PATH" \
    "USER 65534:65534" \
    "WORKDIR /prometheus" \
    "EXPOSE 9090" \
    'ENTRYPOINT ["/bin/prometheus"]' \
    'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
  rm -rf "$root"
}

# ------------------------------------------------------------------- main ---
smoke_test() {
  local tag=$1
  shift
  local out
  if ! out=$(timeout 60 docker run --rm "$tag" "$@" 2>&1); then
    docker image rm -f "$tag" >/dev/null 2>&1 || true
    die "smoke test '$*' failed in $tag (image removed): $out"
  fi
  log "  smoke test: $* -> $(head -n1 <<<"$out")"
}

build_one() {
  local tag=$1 deb_version=$2 fn=$3
  shift 3
  if [[ $FORCE -eq 0 ]] && image_up_to_date "$tag" "$deb_version"; then
    log "up to date: $tag ($(image_size "$tag")), skipping (use --force to rebuild)"
    return
  fi
  local start=$SECONDS old_id
  old_id=$(docker image inspect "$tag" --format '{{.Id}}' 2>/dev/null || true)
  log "building $tag from Debian package version $deb_version"
  "$fn"
  smoke_test "$tag" "$@"
  log "built $tag ($(image_size "$tag")) in $((SECONDS - start))s"
  # Drop the image this tag pointed to before, now untagged (kept if a
  # container still uses it).
  if [[ -n $old_id && $old_id != "$(docker image inspect "$tag" --format '{{.Id}}')" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
}

total_start=$SECONDS
build_one "$REDIS_IMAGE" "$REDIS_DEB_VERSION" build_redis redis-server --version
build_one "$EXPORTER_IMAGE" "$EXPORTER_DEB_VERSION" build_exporter --version
build_one "$PROMETHEUS_IMAGE" "$PROMETHEUS_DEB_VERSION" build_prometheus --version
build_one "$HOOK_IMAGE" "$HOOK_BUILD_INPUTS" build_hook check-config --help
write_env_file
log "done in $((SECONDS - total_start))s; wrote $ENV_FILE"
print_tags

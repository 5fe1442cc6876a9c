#!/usr/bin/env bash
# Install the Debian packages cache-cluster needs (Docker, Redis, the Redis
# exporter, Prometheus and the tools the local image build uses).
#
# Idempotent: packages already installed are skipped, and `apt-get update`
# runs at most once, only when something is missing.  Package maintainer
# scripts are prevented from starting daemons (redis-server, redis-sentinel,
# prometheus-redis-exporter, prometheus, docker) through a temporary policy-rc.d; the
# cluster runs its own Redis processes in containers.
set -euo pipefail

PACKAGES=(
  docker.io          # container runtime the cluster and e2e tests use
  redis-server       # source of the redis-server binary baked into the image
  redis-sentinel
  redis-tools        # redis-cli
  prometheus-redis-exporter
  prometheus         # promtool for the rule tests; the binary baked into the offline Prometheus image
  dash               # /bin/sh inside the image
  busybox-static     # cat/sleep/cp/mkdir/rm... inside the image
  tar
)

log() { printf '[install-system] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (apt-get install)" >&2
  exit 1
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if is_installed "$pkg"; then
    log "ok: $pkg already installed"
  else
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "nothing to install"
  exit 0
fi

redis_pids() { pgrep -x 'redis-server|redis-sentinel|redis-check-rdb|prometheus-redi|prometheus' 2>/dev/null | sort || true; }
before_pids=$(redis_pids)

# Keep postinst scripts from starting services (standard Debian mechanism,
# exit code 101 = "action forbidden").  Only install ours if none exists.
POLICY=/usr/sbin/policy-rc.d
policy_installed=0
cleanup() {
  if [[ $policy_installed -eq 1 ]]; then
    rm -f "$POLICY"
  fi
  if [[ -n ${APT_LOG:-} ]]; then
    rm -f "$APT_LOG"
  fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  policy_installed=1
fi

export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=l
APT_LOG=$(mktemp /tmp/cache-cluster-apt.XXXXXX)
run_quiet() {
  if ! "$@" >>"$APT_LOG" 2>&1; then
    log "error: '$*' failed; last lines of its output:" >&2
    tail -n 30 "$APT_LOG" >&2
    exit 1
  fi
}
log "apt-get update"
run_quiet apt-get update -qq
log "apt-get install ${missing[*]}"
run_quiet apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

for pkg in "${missing[@]}"; do
  if ! is_installed "$pkg"; then
    log "error: $pkg is still not installed" >&2
    exit 1
  fi
done
log "installed: ${missing[*]}"

# We never kill daemons we did not start; just report any that appeared.
after_pids=$(redis_pids)
new_pids=$(comm -13 <(printf '%s\n' "$before_pids") <(printf '%s\n' "$after_pids") | grep -v '^$' || true)
if [[ -n $new_pids ]]; then
  log "note: package scripts started redis/exporter processes (left running): $(echo "$new_pids" | tr '\n' ' ')"
fi

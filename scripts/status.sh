#!/usr/bin/env bash
# Show a cache cluster's state: the containers (Compose), then the cluster as the hook sees it through the
# published ports (cache-cluster status --via published).
#
# Usage: scripts/status.sh [SPEC] [cache-cluster status options, e.g. --json]
set -euo pipefail

LOG_TAG=status
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage_on_help "${1:-}"
spec=Pulumi.dev.yaml
if [[ $# -gt 0 && $1 != -* ]]; then
  spec=$1
  shift
fi

require_tools docker cache-cluster
enter_root "$spec"
docker_ready
load_secrets existing >&2
stack_init plain

if [[ " $* " != *" --json "* ]]; then
  "${COMPOSE[@]}" -p "$STACK_NAME" ps -a --format 'table {{.Service}}\t{{.Status}}\t{{.Ports}}'
  echo
fi
exec cache-cluster status "$SPEC" --via published "$@"

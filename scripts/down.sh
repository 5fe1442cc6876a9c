#!/usr/bin/env bash
# Stop and remove a cache cluster's containers and network. Data volumes are kept unless --volumes is given.
#
# Usage: scripts/down.sh [SPEC] [--volumes]
#   make down     keeps the data volumes: the next `make up` brings the same cluster back, with its keys
#   make destroy  --volumes: also deletes the data volumes (every key, every node's identity)
set -euo pipefail

LOG_TAG=down
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

spec=Pulumi.dev.yaml
volumes=0
for arg in "$@"; do
  case $arg in
    --volumes | -v) volumes=1 ;;
    -h | --help)
      print_usage
      exit 0
      ;;
    -*) die "unknown option $arg; usage: scripts/down.sh [SPEC] [--volumes]" 2 ;;
    *) spec=$arg ;;
  esac
done

require_tools docker
enter_root "$spec"
docker_ready
stack_init plain

# The project name is enough: Compose finds the containers, network and volumes by their labels, so no
# Compose file (and no password for its interpolation) is needed to take a stack down.
if [[ $volumes -eq 1 ]]; then
  existing=$(docker volume ls -q --filter "label=com.docker.compose.project=$STACK_NAME" | tr '\n' ' ')
  if [[ -n $existing ]]; then
    log "DELETING the data volumes of $STACK_NAME (every key is lost): $existing"
  else
    log "$STACK_NAME has no data volumes to delete"
  fi
  "${COMPOSE[@]}" -p "$STACK_NAME" down --volumes --timeout 20
  log "$STACK_NAME removed: containers, network and data volumes"
else
  log "stopping $STACK_NAME; its data volumes are kept (make destroy SPEC=$SPEC deletes them)"
  "${COMPOSE[@]}" -p "$STACK_NAME" down --timeout 20
  log "$STACK_NAME stopped; 'make up SPEC=$SPEC' brings it back with its data"
fi

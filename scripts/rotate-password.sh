#!/usr/bin/env bash
# Rotate the application user's password (REDIS_PASSWORD, also the `default` user's) of a running Compose stack
# without downtime. `make rotate-password` runs this.
#
# Usage: scripts/rotate-password.sh [SPEC]     SPEC: a cluster file or Pulumi.<stack>.yaml (default Pulumi.dev.yaml)
#
# Steps (each safe to re-run; an interrupted rotation resumes with the same new password):
#   1. a new password in .cache-cluster/secrets/.redis-password.new (0600), unless one is waiting there
#   2. cache-cluster rotate-password --phase add: the new password beside the old on every node and sentinel
#   3. the containers' secret file /run/secrets/redis-password gets the new one (a restart keeps it), written
#      through docker exec's stdin (no argv, no environment); then .cache-cluster/secrets/redis-password
#   4. CACHE_CLUSTER_ROTATE_GRACE seconds (default 5) for clients to reconnect with the new password
#   5. cache-cluster rotate-password --phase finish: the new password alone; connections that signed in with
#      the old one stay signed in
#   6. cache-cluster validate
# Env: CACHE_CLUSTER_SECRETS_DIR  where the secrets are (default .cache-cluster/secrets)
set -euo pipefail
LOG_TAG=rotate
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case ${1:-} in
  -h | --help)
    print_usage
    exit 0
    ;;
esac
[[ $# -le 1 ]] || die "usage: scripts/rotate-password.sh [SPEC]" 2
GRACE=${CACHE_CLUSTER_ROTATE_GRACE:-5}
require_tools docker cache-cluster
enter_root "${1:-Pulumi.dev.yaml}"
docker_ready
load_secrets existing
stack_init plain
current="$SECRETS_DIR/redis-password"
next="$SECRETS_DIR/.redis-password.new"
[[ -f $current ]] ||
  die "$current does not exist: the application's password is not kept there; nothing rotated" 2
if [[ -f $next ]]; then
  log "resuming: a new password is already waiting in $next"
else
  (umask 077 && "$PY" -c 'import secrets, string; a = string.ascii_letters + string.digits; print("".join(secrets.choice(a) for _ in range(32)), end="")' >"$next")
  log "new password generated into $next (not printed)"
fi
rotate() { cache-cluster rotate-password "$SPEC" --via published --phase "$1" --new-password-file "$2"; }
log "phase add: the new password beside the old on every server"
rotate add "$next"
containers=$(docker ps -q --filter "label=com.docker.compose.project=$STACK_NAME")
updated=0
for container in $containers; do
  # The exporter has no shell (and no such file): skipped.
  docker exec "$container" sh -c 'test -f /run/secrets/redis-password' >/dev/null 2>&1 || continue
  # The file is root's (0444); the value travels on stdin.
  docker exec -i -u 0 "$container" sh -c 'cat > /run/secrets/.redis-password.new && chmod 0444 /run/secrets/.redis-password.new && mv /run/secrets/.redis-password.new /run/secrets/redis-password' <"$next"
  updated=$((updated + 1))
done
log "secret file updated in $updated containers"
mv -f "$next" "$current"
log "$current holds the new password; clients reconnecting now use it (waiting ${GRACE}s before finishing)"
sleep "$GRACE"
log "phase finish: the new password alone"
rotate finish "$current"
cache-cluster validate "$SPEC" --via published --timeout 60 >/dev/null || die "validate failed after the rotation; run make status" 1
log "rotated: validate passed"

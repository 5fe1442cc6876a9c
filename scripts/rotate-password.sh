#!/usr/bin/env bash
# Rotate passwords of a running Compose stack without downtime. `make rotate-password` runs this.
#
# Usage: scripts/rotate-password.sh [SPEC [SECRET...]]
#   SPEC    a cluster file or Pulumi.<stack>.yaml (default Pulumi.dev.yaml)
#   SECRET  password (the application's, REDIS_PASSWORD; the default), admin, exporter, replication, sentinel,
#           acl:<user> (a user of spec.auth.acl_users), or all (every one, the application's last)
#
# For each secret in turn (each step safe to re-run; an interrupted rotation resumes with the same new password):
#   1. a new password in .cache-cluster/secrets/.<name>.new (0600), unless one is waiting there
#   2. cache-cluster rotate-password --phase add: the new password beside the old on every server defining the
#      user; the replica links (masterauth) and the sentinels (auth-pass, sentinel-pass) switch to it and are
#      proven to work
#   3. .cache-cluster/secrets/<name> gets it, then every container holding /run/secrets/<name> (so a restart keeps
#      it): running containers with a shell through docker exec's stdin and an atomic rename; the others (the
#      exporter has no shell, the one-shot init service has exited) with `docker cp` of a tar stream. Compose does
#      not recreate a container when a secret's value changes (it compares the service's configuration, where
#      only the secret's name is), so a later `make up` leaves these files alone
#   4. exporter: its password map (.cache-cluster/secrets/redis-exporter-password-map, rendered again) is copied
#      in the same way, and the exporter alone is restarted: redis_exporter 1.45 reads --redis.password-file only
#      at start. Its /metrics must answer again (a gap of a second or two in the metrics; no client sees it)
#   5. password and acl:<user>: CACHE_CLUSTER_ROTATE_GRACE seconds (default 5) for clients to reconnect with the
#      new password (the other secrets' users are switched already)
#   6. cache-cluster rotate-password --phase finish: the new password alone; connections that signed in with the
#      old one stay signed in
# Then cache-cluster validate.
# Env: CACHE_CLUSTER_SECRETS_DIR  where the secrets are (default .cache-cluster/secrets)
#      CACHE_CLUSTER_ROTATE_GRACE seconds clients get to switch (default 5)
set -euo pipefail
LOG_TAG=rotate
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
usage_on_help "${1:-}"
GRACE=${CACHE_CLUSTER_ROTATE_GRACE:-5}
EXPORTER_WAIT=30
require_tools docker cache-cluster tar
enter_root "${1:-Pulumi.dev.yaml}"
shift || true
[[ $# -gt 0 ]] || set -- password

# The deployment's secrets: kind -> file name and variable (scripts/stack_info.py secrets).
declare -A FILE_OF VARIABLE_OF
KINDS=()
while read -r kind name variable; do
  FILE_OF[$kind]=$name
  VARIABLE_OF[$kind]=$variable
  KINDS+=("$kind")
done < <("$PY" scripts/stack_info.py secrets "$SPEC")
[[ ${#KINDS[@]} -gt 0 ]] || die "stopped: $SPEC cannot be used (see the error above)" 2

requested=()
for secret in "$@"; do
  if [[ $secret == all ]]; then
    # The links and the hook's own user first, the applications' passwords last.
    for kind in replication sentinel exporter admin; do [[ -n ${FILE_OF[$kind]:-} ]] && requested+=("$kind"); done
    for kind in "${KINDS[@]}"; do [[ $kind == acl:* ]] && requested+=("$kind"); done
    requested+=(password)
  elif [[ -n ${FILE_OF[$secret]:-} ]]; then
    requested+=("$secret")
  else
    die "unknown secret '$secret'; fix: one of ${KINDS[*]} all" 2
  fi
done
for kind in "${requested[@]}"; do
  variable=${VARIABLE_OF[$kind]}
  # A value in the environment wins over the file (render secrets): rotating the file would not change it.
  [[ -z ${!variable:-} ]] ||
    die "$variable is set in the environment: that password is kept by you, not in $SECRETS_DIR; fix: unset it (and keep the new value where you keep it after the rotation)" 2
done

docker_ready
load_secrets existing
stack_init plain
EXPORTER_MAP_FILE=redis-exporter-password-map

# After a file changed: the variables again from the files (and the exporter's map rendered from its password).
reload_secrets() {
  local kind
  for kind in "${KINDS[@]}"; do unset "${VARIABLE_OF[$kind]}"; done
  unset REDIS_EXPORTER_PASSWORD_MAP
  load_secrets existing
}

# Copy $SECRETS_DIR/$1 into every container of the stack that holds /run/secrets/$1.
update_containers() {
  local name=$1 container updated=0 copied=0
  for container in $(docker ps -aq --filter "label=com.docker.compose.project=$STACK_NAME"); do
    docker cp "$container:/run/secrets/$name" - >/dev/null 2>&1 || continue # not one of its secrets
    if [[ $(docker inspect --format '{{.State.Running}}' "$container") == true ]] &&
      docker exec "$container" sh -c true >/dev/null 2>&1; then
      # Root's 0444 file, replaced atomically (a health check reading it sees the old or the new one); the
      # value travels on stdin: no argv, no environment.
      docker exec -i -u 0 -e "NAME=$name" "$container" sh -c \
        'cat > "/run/secrets/.$NAME.new" && chmod 0444 "/run/secrets/.$NAME.new" && mv "/run/secrets/.$NAME.new" "/run/secrets/$NAME"' \
        <"$SECRETS_DIR/$name"
      updated=$((updated + 1))
    else
      # No shell (the exporter) or not running (the exited init service): the engine unpacks a tar stream.
      tar -c --owner=0 --group=0 --mode=0444 -C "$SECRETS_DIR" "$name" | docker cp - "$container:/run/secrets/"
      copied=$((copied + 1))
    fi
  done
  log "/run/secrets/$name updated in $((updated + copied)) containers ($copied by docker cp)"
}

restart_exporter() {
  local container deadline
  container=$(docker ps -aq --filter "label=com.docker.compose.project=$STACK_NAME" \
    --filter "label=com.docker.compose.service=$STACK_EXPORTER_SERVICE")
  [[ -n $container ]] || die "no $STACK_EXPORTER_SERVICE container in project $STACK_NAME; run make up" 1
  log "restarting $STACK_EXPORTER_SERVICE alone (it reads its password map only at start)"
  docker restart --time 5 "$container" >/dev/null
  deadline=$((SECONDS + EXPORTER_WAIT))
  log "waiting up to ${EXPORTER_WAIT}s for $STACK_EXPORTER_URL to report redis_up 1"
  until "$PY" - "$STACK_EXPORTER_URL" <<'PY' 2>/dev/null; do
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=3).read().decode()
sys.exit(0 if "\nredis_up 1" in "\n" + text else 1)
PY
    [[ $SECONDS -lt $deadline ]] || die "$STACK_EXPORTER_SERVICE did not report redis_up 1 within ${EXPORTER_WAIT}s; the old password still signs in: re-run to resume" 1
    sleep 1
  done
}

rotate_one() {
  local kind=$1 name=${FILE_OF[$1]} current next
  current="$SECRETS_DIR/$name"
  next="$SECRETS_DIR/.$name.new"
  [[ -f $current ]] || die "$current does not exist: that password is not kept there; nothing rotated" 2
  if [[ -f $next ]]; then
    log "$kind: resuming: a new password is already waiting in $next"
  else
    (umask 077 && "$PY" -c 'import secrets, string; a = string.ascii_letters + string.digits; print("".join(secrets.choice(a) for _ in range(32)), end="")' >"$next")
    log "$kind: new password generated into $next (not printed)"
  fi
  log "$kind: phase add: the new password beside the old on every server, the links switched to it"
  cache-cluster rotate-password "$SPEC" --via published --secret "$kind" --phase add --new-password-file "$next"
  mv -f "$next" "$current"
  reload_secrets
  update_containers "$name"
  if [[ $kind == exporter && -n $STACK_EXPORTER_SERVICE ]]; then
    update_containers "$EXPORTER_MAP_FILE"
    restart_exporter
  fi
  if [[ $kind == password || $kind == acl:* ]]; then
    log "$kind: $current holds the new password; clients reconnecting now use it (waiting ${GRACE}s before finishing)"
    sleep "$GRACE"
  fi
  log "$kind: phase finish: the new password alone"
  cache-cluster rotate-password "$SPEC" --via published --secret "$kind" --phase finish --new-password-file "$current"
}

for kind in "${requested[@]}"; do rotate_one "$kind"; done
cache-cluster validate "$SPEC" --via published --timeout 60 >/dev/null || die "validate failed after the rotation; run make status" 1
log "rotated ${requested[*]}: validate passed"

#!/usr/bin/env bash
# Make sure a Docker daemon answers.  If `docker info` already works, do
# nothing.  Otherwise start dockerd in the background (no systemd here) and
# wait, with a deadline, until it answers.
#
# Env:
#   DOCKERD_LOG      log file        (default /var/log/cache-cluster-dockerd.log)
#   DOCKERD_PIDFILE  pid file        (default /var/run/cache-cluster-dockerd.pid)
#   DOCKERD_TIMEOUT  seconds to wait (default 60)
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/cache-cluster-dockerd.log}
PIDFILE=${DOCKERD_PIDFILE:-/var/run/cache-cluster-dockerd.pid}
TIMEOUT=${DOCKERD_TIMEOUT:-60}

log() { printf '[start-dockerd] %s\n' "$*"; }

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
  log "docker/dockerd not found; run scripts/install-system.sh first" >&2
  exit 1
fi

if docker_ok; then
  log "docker daemon already answering; nothing to do"
  exit 0
fi

pid=""
# A pid file counts only if its pid is alive and still a dockerd (pids get reused).
pidfile_dockerd() {
  local p
  [[ -f $PIDFILE ]] || return 1
  p=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [[ $p =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$p/comm" 2>/dev/null) == dockerd ]]
}

if pidfile_dockerd; then
  pid=$(cat "$PIDFILE")
  log "dockerd (pid $pid, from $PIDFILE) is running but not answering yet; waiting for it"
elif existing=$(pgrep -x dockerd | head -n1) && [[ -n $existing ]]; then
  # Someone else's dockerd (e.g. started by hand): wait for it, never start a
  # second daemon on the same socket and never kill it.
  pid=$existing
  log "a dockerd (pid $pid) not started by this script is running; waiting for it"
else
  if [[ $(id -u) -ne 0 ]]; then
    log "dockerd is not running and starting it needs root" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
  log "starting dockerd (log: $LOG, pid file: $PIDFILE)"
  nohup dockerd >>"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  log "dockerd started with pid $pid"
fi

deadline=$((SECONDS + TIMEOUT))
next_report=$SECONDS
while ! docker_ok; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "dockerd (pid $pid) exited before answering 'docker info'" >&2
    [[ -f $LOG ]] && { log "last lines of $LOG:" >&2; tail -n 30 "$LOG" >&2; }
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    log "timed out after ${TIMEOUT}s waiting for 'docker info' to answer (dockerd pid $pid)" >&2
    [[ -f $LOG ]] && { log "last lines of $LOG:" >&2; tail -n 30 "$LOG" >&2; }
    exit 1
  fi
  if ((SECONDS >= next_report)); then
    log "waiting for 'docker info' to answer ($((deadline - SECONDS))s left)"
    next_report=$((SECONDS + 5))
  fi
  sleep 1
done
log "docker daemon is answering ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"

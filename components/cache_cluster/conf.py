"""Pure renderers for the files the containers run from: redis.conf, sentinel.conf and the entrypoints.

No rendered file holds a secret. Each entrypoint reads the password from the environment at start and writes
the auth lines into a private file under /tmp (the container's own writable layer), which the config includes.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import addresses
from .environment import PASSWORD_ENV
from .spec import AclUser, ClusterSpec

CONFIG_DIR = "/etc/cache-cluster"
DATA_DIR = "/data"
RUNTIME_DIR = "/tmp/cache-cluster"
AUTH_INCLUDE = f"{RUNTIME_DIR}/auth.conf"
HEADER = "# Rendered by cache-cluster from the cluster spec. Do not edit: change the spec and render again.\n"


def _lines(directives: Iterable[str]) -> str:
    return HEADER + "\n".join(directives) + "\n"


def _common_server_directives(spec: ClusterSpec, port: int, *, replicas: int) -> list[str]:
    """`replicas`: how many replicas this server has when it is a master (0: none)."""
    persistence, memory = spec.persistence, spec.memory
    # A master delays a diskless full sync (5 s by default) to serve several replicas with one transfer; with
    # its known replica count it starts as soon as they are all there, so a restarted replica is linked sooner.
    sync = [f"repl-diskless-sync-max-replicas {replicas}"] if replicas else []
    return [
        f"port {port}",
        # Inside a container or pod the server must listen on its network address; the host side is
        # restricted by publishing on 127.0.0.1 only, and every connection needs the password.
        "bind * -::*",
        "protected-mode no",
        f"dir {DATA_DIR}",
        f"appendonly {'yes' if persistence.appendonly else 'no'}",
        f"appendfsync {persistence.appendfsync}",
        'save ""' if not persistence.rdb_snapshots else "save 3600 1 300 100 60 10000",
        f"maxmemory {memory.maxmemory_mb}mb",
        f"maxmemory-policy {memory.maxmemory_policy}",
        "tcp-keepalive 60",
        "loglevel notice",
        'logfile ""',
        *sync,
    ]


def render_node_conf(
    spec: ClusterSpec, *, hostname: str | None, port: int, auth_include: str = AUTH_INCLUDE
) -> str:
    """redis.conf of one cluster node. Nodes announce their hostname so clients follow MOVED by name.

    `hostname=None`: one file for many nodes (a Kubernetes pod template); each node's entrypoint writes its own
    `cluster-announce-hostname` into the runtime include (see `render_node_entrypoint(announce_env=...)`).
    """
    topology = spec.topology
    announce = [f"cluster-announce-hostname {hostname}"] if hostname is not None else []
    return _lines(
        [
            *_common_server_directives(spec, port, replicas=topology.replicas_per_master),
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {topology.node_timeout_ms}",
            *announce,
            "cluster-preferred-endpoint-type hostname",
            f"cluster-require-full-coverage {'yes' if topology.require_full_coverage else 'no'}",
            f"cluster-allow-reads-when-down {'yes' if topology.allow_reads_when_down else 'no'}",
            "cluster-replica-validity-factor 10",
            "cluster-migration-barrier 1",
            f"include {auth_include}",
        ]
    )


def render_fallback_conf(
    spec: ClusterSpec,
    *,
    hostname: str,
    port: int,
    replica_of: tuple[str, int] | None,
    auth_include: str = AUTH_INCLUDE,
) -> str:
    """redis.conf of the fallback single Redis: the primary, or a replica of it."""
    # After a sentinel failover either server may be the primary of the other.
    directives = [*_common_server_directives(spec, port, replicas=1), f"replica-announce-ip {hostname}"]
    if replica_of is not None:
        directives += [f"replicaof {replica_of[0]} {replica_of[1]}", "replica-read-only yes"]
    directives.append(f"include {auth_include}")
    return _lines(directives)


def render_sentinel_conf(spec: ClusterSpec, *, hostname: str | None, port: int) -> str:
    """sentinel.conf without secrets; the entrypoint appends the auth lines to a writable copy.

    `hostname=None`: the entrypoint appends `sentinel announce-ip` (see `render_sentinel_entrypoint`).
    """
    sentinels = spec.sentinels
    name = sentinels.master_name
    primary = addresses.fallback_primary(spec)
    announce = [f"sentinel announce-ip {hostname}"] if hostname is not None else []
    return _lines(
        [
            f"port {port}",
            "bind * -::*",
            "protected-mode no",
            "dir /tmp",
            "sentinel resolve-hostnames yes",
            "sentinel announce-hostnames yes",
            *announce,
            f"sentinel monitor {name} {primary.host} {primary.port} {sentinels.quorum}",
            f"sentinel down-after-milliseconds {name} {sentinels.down_after_ms}",
            f"sentinel failover-timeout {name} {sentinels.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]
    )


def acl_user_line(user: AclUser, password_reference: str) -> str:
    """One ACL `user` directive; password_reference is a shell expression expanded at container start."""
    return f"user {user.name} on >{password_reference} {user.rules}"


def _auth_writer(spec: ClusterSpec, *, sentinel: bool, announce_env: str | None = None) -> list[str]:
    """Shell lines that write the auth include from the environment (printf is a builtin: no argv leak).

    `announce_env`: a variable holding the name this server announces, written into the include as well.
    """
    env = PASSWORD_ENV
    lines = [
        f': "${{{env}:?{env} is not set: export it before starting}}"',
        "umask 077",
        f"mkdir -p {RUNTIME_DIR}",
    ]
    announce = []
    if announce_env is not None:
        directive = "sentinel announce-ip" if sentinel else "cluster-announce-hostname"
        announce = [
            f': "${{{announce_env}:?{announce_env} is not set: the name this server announces}}"',
            f"printf '{directive} %s\\n' \"${announce_env}\" >> {AUTH_INCLUDE}",
        ]
    if sentinel:
        name = spec.sentinels.master_name
        lines.append(
            f"printf 'requirepass %s\\nsentinel auth-pass {name} %s\\nsentinel sentinel-pass %s\\n' "
            f'"${env}" "${env}" "${env}" > {AUTH_INCLUDE}'
        )
        return lines + announce
    lines.append(f'printf \'requirepass %s\\nmasterauth %s\\n\' "${env}" "${env}" > {AUTH_INCLUDE}')
    for user in spec.auth.acl_users:
        user_env = user.password_env
        lines.append(f': "${{{user_env}:?{user_env} is not set}}"')
        lines.append(f"printf '%s\\n' \"{acl_user_line(user, '$' + user_env)}\" >> {AUTH_INCLUDE}")
    return lines + announce


# After a full restart every node may come back on a new IP while nodes.conf still holds the old ones, and no
# node can reach another. Each node therefore looks up the peers it cannot reach by their announced hostname
# (the only stable name) and sends CLUSTER MEET to the new address; Redis matches the node ID and updates the
# address. A fresh node (no peers yet) and a healthy one finish at once. Bounded: REJOIN_ROUNDS x 2 s.
REJOIN_ROUNDS = 150
REJOIN_PING_SECONDS = 900

_REJOIN = r"""
rejoin() {
  export REDISCLI_AUTH="$1"
  port="$2"
  round=0
  until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
    # A node loading a large AOF answers LOADING, not PONG, for as long as loading takes.
    round=$((round + 1)); [ "$round" -gt __PING_ROUNDS__ ] && return 0; sleep 1
  done
  round=0
  while [ "$round" -lt __ROUNDS__ ]; do
    round=$((round + 1))
    lost=0
    redis-cli -p "$port" cluster nodes > "$RUNTIME_DIR/nodes.txt" 2>/dev/null || { sleep 2; continue; }
    while read -r id address flags master ping pong epoch link rest; do
      case "$flags" in *myself*|*noaddr*) continue ;; esac
      [ "$link" = disconnected ] || continue
      case "$address" in *,*) ;; *) continue ;; esac
      lost=$((lost + 1))
      host="${address#*,}"; host="${host%%,*}"
      peer_port="${address%%@*}"; peer_port="${peer_port##*:}"
      bus_port="${address#*@}"; bus_port="${bus_port%%,*}"
      info="$(redis-cli -h "$host" -p "$peer_port" client info 2>/dev/null)" || continue
      case "$info" in *laddr=*) ;; *) continue ;; esac
      laddr="${info#*laddr=}"; laddr="${laddr%% *}"; ip="${laddr%:*}"
      echo "cache-cluster: re-meeting $host at $ip:$peer_port (node $id was unreachable at its old address)"
      redis-cli -p "$port" cluster meet "$ip" "$peer_port" "$bus_port" > /dev/null 2>&1 || true
    done < "$RUNTIME_DIR/nodes.txt"
    [ "$lost" -eq 0 ] && return 0
    sleep 2
  done
  echo "cache-cluster: gave up re-meeting peers after __ROUNDS__ rounds; run 'cache-cluster status'"
}
"""


def render_node_entrypoint(spec: ClusterSpec, *, port: int, announce_env: str | None = None) -> str:
    """`announce_env`: with a config rendered for many nodes (hostname None), the variable with this node's name."""
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by cache-cluster: write auth from the environment, rejoin peers after an address change,",
            "# then run redis-server in the foreground.",
            "set -eu",
            f"RUNTIME_DIR={RUNTIME_DIR}",
            *_auth_writer(spec, sentinel=False, announce_env=announce_env),
            _REJOIN.replace("__ROUNDS__", str(REJOIN_ROUNDS))
            .replace("__PING_ROUNDS__", str(REJOIN_PING_SECONDS))
            .strip("\n"),
            # Started from a subshell that exits at once, so the loop is re-parented to pid 1 (tini, Compose's
            # `init: true`), which reaps it. As a direct child it would outlive the `exec` as a child of
            # redis-server, which reaps it only during its next fork ("detected child with unmatched pid").
            f'(rejoin "${PASSWORD_ENV}" {port} &)',
            f"exec redis-server {CONFIG_DIR}/redis.conf",
            "",
        ]
    )


def render_server_entrypoint(spec: ClusterSpec) -> str:
    """Entrypoint of the fallback Redis (primary or replica)."""
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by cache-cluster: write auth from the environment, then run redis-server.",
            "set -eu",
            *_auth_writer(spec, sentinel=False),
            f"exec redis-server {CONFIG_DIR}/redis.conf",
            "",
        ]
    )


def render_sentinel_entrypoint(spec: ClusterSpec, *, announce_env: str | None = None) -> str:
    """Sentinel rewrites its config, so it runs from a writable copy with the auth lines appended."""
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by cache-cluster: sentinel needs a writable config; auth comes from the environment.",
            "set -eu",
            *_auth_writer(spec, sentinel=True, announce_env=announce_env),
            f"cat {CONFIG_DIR}/sentinel.conf {AUTH_INCLUDE} > {RUNTIME_DIR}/sentinel.conf",
            f"rm -f {AUTH_INCLUDE}",
            f"exec redis-server {RUNTIME_DIR}/sentinel.conf --sentinel",
            "",
        ]
    )

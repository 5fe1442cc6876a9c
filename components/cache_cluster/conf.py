"""Pure renderers for the files the containers run from: redis.conf, sentinel.conf and the entrypoints.

No rendered file holds a secret. Each entrypoint reads the passwords from the secret files (acl.py says which,
and where) at start and writes the users into a private file under /tmp (the container's own writable layer),
which the config includes; no password ever sits in a process's environment or command line.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import acl, addresses
from .acl import SecretKind
from .spec import ClusterSpec

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


def _shell_variable(kind: SecretKind) -> str:
    """The entrypoint's (unexported) shell variable holding one secret: `secret_acl_app_two` for acl:app-two."""
    return "secret_" + "".join(char if char.isalnum() else "_" for char in kind)


# Reads a secret file with the shell's own `read`: the value never reaches a process's argv or environment.
# The characters are the spec's password rule, so the value needs no quoting in a config file.
_READ_SECRET = r"""
secret() {
  if [ ! -r "$1" ]; then
    echo "cache-cluster: cannot read the secret file $1; fix: mount it (the plan's secret files)" >&2
    exit 1
  fi
  value=""
  IFS= read -r value < "$1" || true
  case "$value" in
    "" | *[!A-Za-z0-9._~+=-]*)
      echo "cache-cluster: $1 is empty or has characters other than A-Za-z0-9._~+=-; fix: write a valid password" >&2
      exit 1 ;;
  esac
  printf '%s' "$value"
}
""".strip("\n")


def _auth_writer(spec: ClusterSpec, role: acl.ServerRole, *, announce_env: str | None = None) -> list[str]:
    """Shell lines that read the secret files and write the auth include (printf is a builtin: no argv leak).

    `announce_env`: a variable holding the name this server announces, written into the include as well.
    """
    lines = ["umask 077", f"mkdir -p {RUNTIME_DIR}", _READ_SECRET]
    for kind in acl.server_secret_kinds(spec, role):
        lines.append(f"{_shell_variable(kind)}=$(secret {acl.secret_path(kind, spec)})")
    directives = acl.auth_directives(spec, role, lambda kind: "${" + _shell_variable(kind) + "}")
    lines.append("printf '%s\\n' \\")
    lines += [f'  "{directive}" \\' for directive in directives]
    lines.append(f"  > {AUTH_INCLUDE}")
    lines.append("unset " + " ".join(_shell_variable(kind) for kind in acl.server_secret_kinds(spec, role)))
    if announce_env is not None:
        directive = "sentinel announce-ip" if role == "sentinel" else "cluster-announce-hostname"
        lines += [
            f': "${{{announce_env}:?{announce_env} is not set: the name this server announces}}"',
            f"printf '{directive} %s\\n' \"${announce_env}\" >> {AUTH_INCLUDE}",
        ]
    return lines


def cli_as(user: str) -> str:
    """redis-cli signed in as `user`, its password read from stdin (`--askpass`): in no argv, no environment."""
    return f"redis-cli --no-auth-warning --user {user} --askpass"


# After a full restart every node may come back on a new IP while nodes.conf still holds the old ones, and no
# node can reach another. Each node therefore looks up the peers it cannot reach by their announced hostname
# (the only stable name) and sends CLUSTER MEET to the new address; Redis matches the node ID and updates the
# address. A fresh node (no peers yet) and a healthy one finish at once. Bounded: REJOIN_ROUNDS x 2 s.
REJOIN_ROUNDS = 150
REJOIN_PING_SECONDS = 900

_REJOIN = r"""
rejoin() {
  port="$1"
  round=0
  until [ "$(cli -p "$port" ping 2>/dev/null)" = PONG ]; do
    # A node loading a large AOF answers LOADING, not PONG, for as long as loading takes.
    round=$((round + 1)); [ "$round" -gt __PING_ROUNDS__ ] && return 0; sleep 1
  done
  round=0
  while [ "$round" -lt __ROUNDS__ ]; do
    round=$((round + 1))
    lost=0
    cli -p "$port" cluster nodes > "$RUNTIME_DIR/nodes.txt" 2>/dev/null || { sleep 2; continue; }
    while read -r id address flags master ping pong epoch link rest; do
      case "$flags" in *myself*|*noaddr*) continue ;; esac
      [ "$link" = disconnected ] || continue
      case "$address" in *,*) ;; *) continue ;; esac
      lost=$((lost + 1))
      host="${address#*,}"; host="${host%%,*}"
      peer_port="${address%%@*}"; peer_port="${peer_port##*:}"
      bus_port="${address#*@}"; bus_port="${bus_port%%,*}"
      info="$(cli -h "$host" -p "$peer_port" client info 2>/dev/null)" || continue
      case "$info" in *laddr=*) ;; *) continue ;; esac
      laddr="${info#*laddr=}"; laddr="${laddr%% *}"; ip="${laddr%:*}"
      echo "cache-cluster: re-meeting $host at $ip:$peer_port (node $id was unreachable at its old address)"
      cli -p "$port" cluster meet "$ip" "$peer_port" "$bus_port" > /dev/null 2>&1 || true
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
            "# Rendered by cache-cluster: write the users from the secret files, rejoin peers after an address",
            "# change, then run redis-server in the foreground.",
            "set -eu",
            f"RUNTIME_DIR={RUNTIME_DIR}",
            *_auth_writer(spec, "cluster-node", announce_env=announce_env),
            # The rejoin loop signs in as the admin user, its password on redis-cli's stdin.
            f'cli() {{ {cli_as(acl.ADMIN_USER)} "$@" < {acl.secret_path(acl.ADMIN_USER, spec)}; }}',
            _REJOIN.replace("__ROUNDS__", str(REJOIN_ROUNDS))
            .replace("__PING_ROUNDS__", str(REJOIN_PING_SECONDS))
            .strip("\n"),
            # Started from a subshell that exits at once, so the loop is re-parented to pid 1 (tini, Compose's
            # `init: true`), which reaps it. As a direct child it would outlive the `exec` as a child of
            # redis-server, which reaps it only during its next fork ("detected child with unmatched pid").
            f"(rejoin {port} &)",
            f"exec redis-server {CONFIG_DIR}/redis.conf",
            "",
        ]
    )


def render_server_entrypoint(spec: ClusterSpec) -> str:
    """Entrypoint of the fallback Redis (primary or replica)."""
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by cache-cluster: write the users from the secret files, then run redis-server.",
            "set -eu",
            *_auth_writer(spec, "fallback"),
            f"exec redis-server {CONFIG_DIR}/redis.conf",
            "",
        ]
    )


def render_sentinel_entrypoint(spec: ClusterSpec, *, announce_env: str | None = None) -> str:
    """Sentinel rewrites its config, so it runs from a writable copy with the auth lines appended."""
    return "\n".join(
        [
            "#!/bin/sh",
            "# Rendered by cache-cluster: sentinel needs a writable config; its users come from the secret files.",
            "set -eu",
            *_auth_writer(spec, "sentinel", announce_env=announce_env),
            f"cat {CONFIG_DIR}/sentinel.conf {AUTH_INCLUDE} > {RUNTIME_DIR}/sentinel.conf",
            f"rm -f {AUTH_INCLUDE}",
            f"exec redis-server {RUNTIME_DIR}/sentinel.conf --sentinel",
            "",
        ]
    )

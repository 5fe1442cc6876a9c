"""Who may do what: the ACL users every server gets, their rules, and the secrets they sign in with (pure).

Least privilege, one user per job:

- `app`: the applications (the env contract's REDIS_USERNAME / REDIS_PASSWORD). Reads and writes keys, follows
  the cluster's redirections; no FLUSHALL/FLUSHDB/CONFIG/DEBUG/KEYS/SHUTDOWN/MONITOR, no cluster administration
  (`-@dangerous` takes all of them; INFO and ROLE, harmless and used by client health checks and by clients
  that confirm a primary found through Sentinel, are given back).
- `admin`: the post-deploy hook and the node entrypoints' rejoin loop. Everything it needs to form and heal a
  cluster, and nothing that destroys data: the server refuses it FLUSHALL, FLUSHDB, CLUSTER RESET, SHUTDOWN.
- `exporter`: redis_exporter and the containers' health checks: PING, INFO, CLUSTER INFO, SLOWLOG, LATENCY, and
  on sentinels the SENTINEL reads. No CONFIG (CONFIG GET returns masterauth): the exporter runs with
  `--config-command=-`, and maxmemory still comes from INFO.
- `replication`: replicas (cluster and fallback) sync with it: PSYNC, REPLCONF, PING.
- `sentinel`: the sentinels, towards the fallback servers (the rules Redis documents for Sentinel) and towards
  each other (PING, PUBLISH of hellos, SENTINEL is-master-down-by-addr).
- `default`: clients that send only a password (the brief's contract has REDIS_PASSWORD alone) sign in as
  `default`, so by default it has the application's password and exactly the application's rules; no client
  gets more by leaving out the user name. `auth.default_user: disabled` switches it off for deployments whose
  clients all send REDIS_USERNAME. Either way an unauthenticated client gets NOAUTH.

Every password is a secret of its own kind, read from a file (never from an environment variable) by the
entrypoints; the servers' own configuration only says where the file is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .environment import ADMIN_PASSWORD_ENV, PASSWORD_ENV, secret_file_name

if TYPE_CHECKING:  # the CLI imports the user names at start-up, without pydantic
    from .spec import ClusterSpec

SECRETS_DIR = "/run/secrets"
APP_USER = "app"
ADMIN_USER = "admin"
EXPORTER_USER = "exporter"
REPLICATION_USER = "replication"
SENTINEL_USER = "sentinel"

ServerRole = Literal["cluster-node", "fallback", "sentinel"]
# A secret's kind: "password" (the application's), "admin", "exporter", "replication", "sentinel",
# "acl:<user>" for a declared extra user, and "exporter-map" (the exporter's per-target password file).
SecretKind = str
EXPORTER_MAP = "exporter-map"

APP_RULES = "~* &* +@all -@dangerous +info +role"
ADMIN_RULES = (
    "~* &* +@all -flushall -flushdb -debug -shutdown -monitor -cluster|reset -cluster|flushslots -swapdb"
)
EXPORTER_RULES = (
    "-@all +ping +info +client|setname +cluster|info +slowlog|len +slowlog|get +latency|latest +latency|histogram"
)
REPLICATION_RULES = "-@all +psync +replconf +ping"
# https://redis.io/docs/management/sentinel/#redis-access-control-list-authentication
SENTINEL_ON_SERVER_RULES = (
    "allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info "
    "+client|setname +client|kill +script|kill"
)
# What a sentinel sends to its peers: PING, hello messages (PUBLISH), and the down-state vote.
SENTINEL_ON_SENTINEL_RULES = (
    "allchannels -@all +ping +publish +client|setname +client|kill +sentinel|is-master-down-by-addr +role +info"
)
# Applications on a sentinel: find the primary and follow its changes; nothing that reconfigures a sentinel.
APP_ON_SENTINEL_RULES = (
    "allchannels -@all +ping +role +info +client|setname +client|getname +subscribe +psubscribe +unsubscribe "
    "+punsubscribe +sentinel|get-master-addr-by-name +sentinel|master +sentinel|masters +sentinel|replicas "
    "+sentinel|slaves +sentinel|sentinels +sentinel|myid"
)
EXPORTER_ON_SENTINEL_RULES = (
    "-@all +ping +info +client|setname +sentinel|masters +sentinel|master +sentinel|sentinels "
    "+sentinel|slaves +sentinel|replicas +sentinel|ckquorum"
)
# A sentinel knows few commands (no DEBUG, MONITOR, CONFIG); SHUTDOWN is the destructive one.
ADMIN_ON_SENTINEL_RULES = "~* &* +@all -shutdown"


def secret_env(kind: SecretKind, spec: ClusterSpec) -> str:
    """The environment variable of the deploying machine (Compose, the hook) that holds a secret."""
    if kind == "password":
        return PASSWORD_ENV
    if kind == ADMIN_USER:
        return ADMIN_PASSWORD_ENV
    if kind.startswith("acl:"):
        name = kind.removeprefix("acl:")
        for user in spec.auth.acl_users:
            if user.name == name:
                return user.password_env
        raise ValueError(f"unknown ACL user {name!r}")
    if kind == EXPORTER_MAP:
        return "REDIS_EXPORTER_PASSWORD_MAP"
    if kind in (EXPORTER_USER, REPLICATION_USER, SENTINEL_USER):
        return f"REDIS_{kind.upper()}_PASSWORD"
    raise ValueError(f"unknown secret kind {kind!r}")


def secret_name(kind: SecretKind, spec: ClusterSpec) -> str:
    """The secret's file name (in SECRETS_DIR) and Compose secret name: its variable, lowercase, dashed."""
    return secret_file_name(secret_env(kind, spec))


def secret_path(kind: SecretKind, spec: ClusterSpec) -> str:
    return f"{SECRETS_DIR}/{secret_name(kind, spec)}"


def password_kinds(spec: ClusterSpec) -> tuple[SecretKind, ...]:
    """Every password of a deployment (the exporter map is derived from the exporter's)."""
    kinds = ["password", ADMIN_USER, EXPORTER_USER, REPLICATION_USER]
    if spec.fallback.enabled:
        kinds.append(SENTINEL_USER)
    return (*kinds, *(f"acl:{user.name}" for user in spec.auth.acl_users))


def server_secret_kinds(spec: ClusterSpec, role: ServerRole) -> tuple[SecretKind, ...]:
    """The passwords a server needs to define its users (and, for a sentinel, to sign in elsewhere)."""
    if role == "sentinel":
        return ("password", ADMIN_USER, EXPORTER_USER, SENTINEL_USER)
    kinds = ["password", ADMIN_USER, EXPORTER_USER, REPLICATION_USER]
    if role == "fallback":
        kinds.append(SENTINEL_USER)
    return (*kinds, *(f"acl:{user.name}" for user in spec.auth.acl_users))


@dataclass(frozen=True)
class UserLine:
    name: str
    secret: SecretKind | None  # None: the user is off
    rules: str


def users(spec: ClusterSpec, role: ServerRole) -> tuple[UserLine, ...]:
    """The ACL users of one kind of server, `default` first."""
    on_sentinel = role == "sentinel"
    app_rules = APP_ON_SENTINEL_RULES if on_sentinel else APP_RULES
    default = UserLine("default", "password", app_rules) if spec.auth.default_user == "app" else (
        UserLine("default", None, "")
    )
    lines = [
        default,
        UserLine(APP_USER, "password", app_rules),
        UserLine(ADMIN_USER, ADMIN_USER, ADMIN_ON_SENTINEL_RULES if on_sentinel else ADMIN_RULES),
        UserLine(EXPORTER_USER, EXPORTER_USER, EXPORTER_ON_SENTINEL_RULES if on_sentinel else EXPORTER_RULES),
    ]
    if on_sentinel:
        lines.append(UserLine(SENTINEL_USER, SENTINEL_USER, SENTINEL_ON_SENTINEL_RULES))
        return tuple(lines)
    lines.append(UserLine(REPLICATION_USER, REPLICATION_USER, REPLICATION_RULES))
    if role == "fallback":
        lines.append(UserLine(SENTINEL_USER, SENTINEL_USER, SENTINEL_ON_SERVER_RULES))
    lines += [UserLine(user.name, f"acl:{user.name}", user.rules) for user in spec.auth.acl_users]
    return tuple(lines)


def auth_directives(spec: ClusterSpec, role: ServerRole, password: Callable[[SecretKind], str]) -> list[str]:
    """The config lines that define a server's users and how it signs in to others.

    `password(kind)` gives the text written for a secret: a shell reference in the entrypoints (expanded at
    container start), the value itself in the integration tests.
    """
    directives = []
    for line in users(spec, role):
        if line.secret is None:
            directives.append(f"user {line.name} reset off")
        else:
            # `reset` first: a rendered line is the whole truth about the user, whatever ran before.
            directives.append(f"user {line.name} reset on >{password(line.secret)} {line.rules}")
    if role == "sentinel":
        name = spec.sentinels.master_name
        directives += [
            f"sentinel auth-user {name} {SENTINEL_USER}",
            f"sentinel auth-pass {name} {password(SENTINEL_USER)}",
            f"sentinel sentinel-user {SENTINEL_USER}",
            f"sentinel sentinel-pass {password(SENTINEL_USER)}",
        ]
    else:
        directives += [f"masteruser {REPLICATION_USER}", f"masterauth {password(REPLICATION_USER)}"]
    return directives


def exporter_password_map(targets: Iterable[str], password: str) -> str:
    """The exporter's --redis.password-file: every target URI it scrapes -> the exporter user's password."""
    return json.dumps({target: password for target in targets}, sort_keys=True)


def secret_contents(
    kinds: Iterable[SecretKind], passwords: Mapping[SecretKind, str], targets: Iterable[str]
) -> dict[SecretKind, str]:
    """What each secret file holds, given every password by kind (the exporter map is built from them)."""
    contents = {}
    for kind in kinds:
        if kind == EXPORTER_MAP:
            contents[kind] = exporter_password_map(targets, passwords[EXPORTER_USER])
        else:
            contents[kind] = passwords[kind]
    return contents

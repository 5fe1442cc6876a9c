"""Rotating a password without downtime, on every server that defines its user and every link that signs in with it.

Two phases, each safe to re-run:

- `add`: the new password beside the old one (`ACL SETUSER <user> >new`) on every server that defines the user.
  Both sign in. Then the links that sign in with it switch to the new one, which every server already accepts:
  replication: `CONFIG SET masterauth` on every server that is or may become a replica (a running replica link
  stays up: Redis checks a password only when a link connects); sentinel: `SENTINEL SET <master> auth-pass` and
  `SENTINEL CONFIG SET sentinel-pass` on every sentinel (the second drops the sentinel's links, which reconnect
  with the new passwords within a ping period, before any down-after period). The add phase proves the links: the
  replicas' `master_link_status:up`, and each sentinel seeing the same primary, its replicas and the other
  sentinels connected and answering pings since the switch, not in TILT.
  Then the deployment's secret files and the clients switch to the new password (the caller's part: the files
  are a target's business, see scripts/rotate-password.sh for Compose; the exporter reads its password map only
  at start, so it is restarted there).
- `finish`: the links are switched again where they are not yet (idempotent), then only the new password is left
  (`ACL SETUSER <user> resetpass >new`). Connections that signed in with the old password stay signed in, so a
  client that reconnects with the new one never sees a failed command.

Each phase first checks that the admin user reaches every server involved, so it changes all of them or none;
then it proves the result by signing in with the new password everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import redis

from .. import acl
from ..errors import CacheClusterError
from .connect import call, client, close, describe_error, scrub
from .endpoints import Endpoint, Targets

Phase = Literal["add", "finish"]
BUILT_IN = ("password", acl.ADMIN_USER, acl.EXPORTER_USER, acl.REPLICATION_USER, acl.SENTINEL_USER)
ROTATABLE = (*BUILT_IN, "acl:<user>")
# How long the add phase waits for the switched links to show they work (replicas linked, sentinels answering).
LINK_PROOF_SECONDS = 15.0


@dataclass(frozen=True)
class Scope:
    """What one secret kind touches: its users, the servers defining them, and the links signing in with it."""

    kind: str
    users: tuple[str, ...]
    servers: tuple[Endpoint, ...]
    replicas: tuple[Endpoint, ...] = ()  # servers whose masterauth is this password (replication)
    sentinels: tuple[Endpoint, ...] = ()  # sentinels signing in with it (sentinel)


def scope_of(kind: str, targets: Targets) -> Scope:
    """The users and servers of a secret kind (acl.py's users and where each server role defines them)."""
    spec = targets.spec
    if spec is None:
        raise CacheClusterError("rotating a password needs the deployment's spec; fix: give the spec file")
    fallback = tuple(e for e in (targets.fallback_primary, targets.fallback_replica) if e is not None)
    data_servers = (*targets.nodes, *fallback)  # cluster nodes and the fallback Redis: no sentinel
    if kind == "password":
        users = (acl.APP_USER, "default") if spec.auth.default_user == "app" else (acl.APP_USER,)
        return Scope(kind, users, targets.servers)
    if kind in (acl.ADMIN_USER, acl.EXPORTER_USER):
        return Scope(kind, (kind,), targets.servers)
    if kind == acl.REPLICATION_USER:
        return Scope(kind, (kind,), data_servers, replicas=data_servers)
    if kind == acl.SENTINEL_USER:
        if not fallback:
            raise CacheClusterError("the sentinel password exists only with the fallback tier (fallback.enabled)")
        return Scope(kind, (kind,), (*fallback, *targets.sentinels), sentinels=targets.sentinels)
    if kind.startswith("acl:"):
        declared = [user.name for user in spec.auth.acl_users]
        name = kind.removeprefix("acl:")
        if name not in declared:
            raise CacheClusterError(
                f"no ACL user {name!r} to rotate; fix: use one of {[f'acl:{user}' for user in declared]} "
                "(spec.auth.acl_users)"
            )
        return Scope(kind, (name,), data_servers)
    raise CacheClusterError(f"unknown secret {kind!r}; fix: rotate one of {list(ROTATABLE)}")


@dataclass
class Rotation:
    phase: Phase
    kind: str
    users: tuple[str, ...]
    changed: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # the links switched to the new password, by server
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def rotate(
    targets: Targets,
    admin_password: str,
    *,
    kind: str,
    new_password: str,
    phase: Phase,
    timeout: float = 5.0,
    link_proof_seconds: float = LINK_PROOF_SECONDS,
) -> Rotation:
    """Apply one phase of rotating `kind`'s password on every server and link it touches."""
    started = time.monotonic()
    scope = scope_of(kind, targets)
    result = Rotation(phase, kind, scope.users)
    secrets = (admin_password, new_password)
    involved = tuple(dict.fromkeys((*scope.servers, *scope.replicas, *scope.sentinels)))
    connections: dict[str, redis.Redis] = {}

    def describe(error: BaseException, server: Endpoint) -> str:
        return scrub(describe_error(error, server, secrets[0]), secrets[1])

    try:
        for server in involved:
            try:
                connections[server.address] = client(server, admin_password, timeout=timeout)
                call(connections[server.address], "PING")
            except Exception as error:  # reported by name; no server is changed unless all are reachable
                result.problems.append(f"{server.address}: {describe(error, server)}")
        if result.problems:
            result.problems.append("changed nothing: every server must be reachable first")
            return result
        if phase == "add":
            _set_users(scope, connections, (f">{new_password}",), result, describe)
            if result.problems:
                # A link switched now could reconnect to a server that does not know the new password.
                result.problems.append("no link was switched: the new password is not on every server yet")
            else:
                _switch_links(scope, targets, connections, new_password, result, describe)
            if not result.problems:
                result.problems += _prove_links(scope, targets, connections, link_proof_seconds, describe)
        else:
            _switch_links(scope, targets, connections, new_password, result, describe)
            if result.problems:
                result.problems.append("the old password was left in place: a link could not be switched")
            else:
                _set_users(scope, connections, ("resetpass", f">{new_password}"), result, describe)
        for server in scope.servers:
            result.problems += _signs_in(server, scope.users[0], new_password, timeout, describe)
    finally:
        for connection in connections.values():
            close(connection)
        result.seconds = time.monotonic() - started
    return result


Describe = Callable[[BaseException, Endpoint], str]


def _set_users(
    scope: Scope, connections: dict[str, redis.Redis], rule: tuple[str, ...], result: Rotation, describe: Describe
) -> None:
    for server in scope.servers:
        try:
            for user in scope.users:
                call(connections[server.address], "ACL", "SETUSER", user, *rule)
            result.changed.append(server.address)
        except Exception as error:
            result.problems.append(f"{server.address}: {describe(error, server)}")


def _switch_links(
    scope: Scope,
    targets: Targets,
    connections: dict[str, redis.Redis],
    password: str,
    result: Rotation,
    describe: Describe,
) -> None:
    """Point every link that signs in with this password at the new one; each step changes nothing when done."""
    for server in scope.replicas:
        try:
            # Readable by admin only; compared here, never shown.
            current = call(connections[server.address], "CONFIG", "GET", "masterauth")
            if _pairs(current).get("masterauth") != password:
                call(connections[server.address], "CONFIG", "SET", "masterauth", password)
            result.links.append(f"{server.address}: masterauth")
        except Exception as error:
            result.problems.append(f"{server.address}: switching masterauth: {describe(error, server)}")
    for server in scope.sentinels:
        connection = connections[server.address]
        try:
            # auth-pass first: the reconnections sentinel-pass causes then use the new one everywhere. Setting it
            # keeps the sentinel's links (it is used by the next connection); it is not readable, so always set.
            call(connection, "SENTINEL", "SET", str(targets.sentinel_master_name), "auth-pass", password)
            current = call(connection, "SENTINEL", "CONFIG", "GET", "sentinel-pass")
            if _pairs(current).get("sentinel-pass") != password:
                # Drops the sentinel's links to the primary, the replica and its peers; they reconnect at once.
                call(connection, "SENTINEL", "CONFIG", "SET", "sentinel-pass", password)
            result.links.append(f"{server.address}: auth-pass, sentinel-pass")
        except Exception as error:
            result.problems.append(f"{server.address}: switching the sentinel's passwords: {describe(error, server)}")


def _pairs(reply: object) -> dict[str, str]:
    """A flat [key, value, ...] reply (RESP2) or a map, as a dict of strings."""
    if isinstance(reply, dict):
        return {str(key): str(value) for key, value in reply.items()}
    items = [str(item) for item in reply] if isinstance(reply, list | tuple) else []
    return dict(zip(items[::2], items[1::2], strict=False))


def _prove_links(
    scope: Scope, targets: Targets, connections: dict[str, redis.Redis], seconds: float, describe: Describe
) -> list[str]:
    """Wait (at most `seconds`) until every switched link works; the problems left when the deadline passes."""
    switched = time.monotonic()
    deadline = switched + seconds
    primary_before = _sentinel_primaries(scope, targets, connections)
    while True:
        problems = []
        for server in scope.replicas:
            problems += _replica_link_problems(server, connections[server.address], describe)
        since_ms = int((time.monotonic() - switched) * 1000)
        for server in scope.sentinels:
            problems += _sentinel_problems(
                server, targets, connections[server.address], primary_before.get(server.address), since_ms, describe
            )
        if not problems or time.monotonic() > deadline:
            return [f"after {seconds:.0f}s waiting for the links to work with the new password: {p}" for p in problems]
        time.sleep(0.2)


def _replica_link_problems(server: Endpoint, connection: redis.Redis, describe: Describe) -> list[str]:
    try:
        info = connection.info("replication")
    except Exception as error:
        return [f"{server.address}: {describe(error, server)}"]
    if info.get("role") != "slave" or info.get("master_link_status") == "up":
        return []
    return [f"{server.address}: replica link is {info.get('master_link_status')}"]


def _sentinel_primaries(scope: Scope, targets: Targets, connections: dict[str, redis.Redis]) -> dict[str, str]:
    primaries = {}
    for server in scope.sentinels:
        try:
            reply = call(connections[server.address], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                         str(targets.sentinel_master_name))
            primaries[server.address] = ":".join(str(part) for part in reply)
        except Exception:  # reported by the proof that follows
            continue
    return primaries


def _sentinel_problems(
    server: Endpoint,
    targets: Targets,
    connection: redis.Redis,
    primary_before: str | None,
    since_ms: int,
    describe: Describe,
) -> list[str]:
    """The sentinel sees the same primary, its replica and its peers, each linked and answering since the switch."""
    name = str(targets.sentinel_master_name)
    try:
        master = _pairs(call(connection, "SENTINEL", "MASTER", name))
        replicas = [_pairs(item) for item in call(connection, "SENTINEL", "REPLICAS", name)]
        peers = [_pairs(item) for item in call(connection, "SENTINEL", "SENTINELS", name)]
        primary = ":".join(str(part) for part in call(connection, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name))
        tilt = connection.info("sentinel").get("sentinel_tilt")
    except Exception as error:
        return [f"{server.address}: {describe(error, server)}"]
    problems = []
    if str(tilt) != "0":
        problems.append(f"{server.address}: in TILT mode")
    if primary_before is not None and primary != primary_before:
        problems.append(f"{server.address}: the primary changed from {primary_before} to {primary}")
    expected_peers = len(targets.sentinels) - 1
    if len(peers) < expected_peers:
        problems.append(f"{server.address}: sees {len(peers)} other sentinels, not {expected_peers}")
    for role, instance in [("primary", master), *(("replica", replica) for replica in replicas),
                           *(("sentinel", peer) for peer in peers)]:
        where = f"{instance.get('name', '?')}"
        flags = set(instance.get("flags", "").split(","))
        bad = flags & {"s_down", "o_down", "disconnected"}
        if bad:
            problems.append(f"{server.address}: its {role} {where} is {','.join(sorted(bad))}")
        elif int(instance.get("last-ok-ping-reply", "0")) > since_ms:
            problems.append(f"{server.address}: its {role} {where} has not answered a ping since the switch")
    return problems


def _signs_in(server: Endpoint, user: str, password: str, timeout: float, describe: Describe) -> list[str]:
    try:
        connection = client(replace(server, username=user), password, timeout=timeout)
    except Exception as error:
        return [f"{server.address}: {user} cannot sign in with the new password: {describe(error, server)}"]
    try:
        call(connection, "PING")  # the connection signs in first
    except redis.exceptions.NoPermissionError:
        pass  # signed in: a user whose rules leave out PING (a declared ACL user) gets NOPERM, not WRONGPASS
    except Exception as error:
        return [f"{server.address}: {user} cannot sign in with the new password: {describe(error, server)}"]
    finally:
        close(connection)
    return []

"""Rotating a user's password without downtime, on every server that defines the user.

Two phases, each safe to re-run:

- `add`: the new password beside the old one (`ACL SETUSER <user> >new`). Both sign in; nothing else changes.
  Then the deployment's secret files and the clients switch to the new one (the caller's part: the files are a
  target's business, see scripts/rotate-password.sh for Compose).
- `finish`: only the new one (`ACL SETUSER <user> resetpass >new`). Connections that signed in with the old
  password stay signed in (Redis checks a password only at AUTH), so a client that reconnects with the new one
  never sees a failed command.

Each phase first checks that the admin user reaches every server, so it changes all of them or none; then it
proves the result by signing in with the new password everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

from ..acl import ADMIN_USER, APP_USER
from ..errors import CacheClusterError
from .connect import call, client, close, describe_error, scrub
from .endpoints import Endpoint, Targets

Phase = Literal["add", "finish"]
# The users a secret kind signs in as: the application's password is `default`'s too when it stands for `app`.
ROTATABLE = ("password", "admin")


def users_of(kind: str, default_user: str) -> tuple[str, ...]:
    if kind == "password":
        return (APP_USER, "default") if default_user == "app" else (APP_USER,)
    if kind == "admin":
        return (ADMIN_USER,)
    raise CacheClusterError(
        f"rotating the {kind!r} password is not supported; fix: rotate one of {list(ROTATABLE)} (the others "
        "sit in replica links, sentinel configs and the exporter's map: change them with a redeploy)"
    )


@dataclass
class Rotation:
    phase: Phase
    users: tuple[str, ...]
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def rotate(
    targets: Targets,
    admin_password: str,
    *,
    users: tuple[str, ...],
    new_password: str,
    phase: Phase,
    timeout: float = 5.0,
) -> Rotation:
    """Apply one phase on every server of `targets` (cluster nodes, fallback servers, sentinels)."""
    started = time.monotonic()
    result = Rotation(phase, users)
    servers = targets.servers
    secrets = (admin_password, new_password)
    connections = {}
    try:
        for server in servers:
            try:
                connections[server.address] = client(server, admin_password, timeout=timeout)
            except Exception as error:  # reported by name; no server is changed unless all are reachable
                result.problems.append(f"{server.address}: {_describe(error, server, secrets)}")
        if result.problems:
            result.problems.append("changed nothing: every server must be reachable first")
            return result
        rule = (f">{new_password}",) if phase == "add" else ("resetpass", f">{new_password}")
        for server in servers:
            try:
                for user in users:
                    call(connections[server.address], "ACL", "SETUSER", user, *rule)
                result.changed.append(server.address)
            except Exception as error:
                result.problems.append(f"{server.address}: {_describe(error, server, secrets)}")
        for server in servers:
            result.problems += _signs_in(server, users[0], new_password, timeout, secrets)
    finally:
        for connection in connections.values():
            close(connection)
        result.seconds = time.monotonic() - started
    return result


def _signs_in(server: Endpoint, user: str, password: str, timeout: float, secrets: tuple[str, str]) -> list[str]:
    try:
        connection = client(replace(server, username=user), password, timeout=timeout)
    except Exception as error:
        return [f"{server.address}: {user} cannot sign in with the new password: {_describe(error, server, secrets)}"]
    try:
        call(connection, "PING")
    finally:
        close(connection)
    return []


def _describe(error: BaseException, server: Endpoint, secrets: tuple[str, str]) -> str:
    text = describe_error(error, server, secrets[0])
    return scrub(text, secrets[1])

"""Opening connections, and saying in a few words why one failed (never with the password in it)."""

from __future__ import annotations

import socket
from contextlib import suppress
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, BusyLoadingError, InvalidResponse, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from ..acl import ADMIN_USER
from ..environment import ADMIN_PASSWORD_ENV
from .endpoints import Endpoint

_NOT_OK_AFTER_AUTH = "Invalid Username or Password"
# Replies we parse ourselves: redis-py's own parsers for these vary between versions.
_RAW_COMMANDS = ("CLUSTER NODES", "CLUSTER INFO", "CLIENT INFO", "CLUSTER MYID", "CLUSTER SHARDS")


def client(endpoint: Endpoint, password: str, *, timeout: float = 2.0) -> redis.Redis:
    """A single-connection client with short timeouts: the hook's calls are small and every wait is bounded."""
    connection = redis.Redis(
        host=endpoint.connect.host,
        port=endpoint.connect.port,
        username=endpoint.username,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        single_connection_client=True,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
    )
    for command in _RAW_COMMANDS:
        connection.set_response_callback(command, _identity)
    return connection


def call(target: Any, *args: str | int | float) -> Any:
    """`execute_command` on a client or pipeline; redis-py leaves it untyped."""
    return target.execute_command(*args)


def _identity(response: object, **_: object) -> object:
    return response


def close(connection: redis.Redis) -> None:
    with suppress(Exception):
        connection.close()


def describe_error(error: BaseException, endpoint: Endpoint, password: str | None = None) -> str:
    """A short reason a person can act on: refused, unresolved, timeout, auth failed, loading, ..."""
    where = str(endpoint.connect)
    cause = error.__cause__ or error.__context__
    text = str(error)
    user = endpoint.username or "default"
    if isinstance(error, AuthenticationError) and text == _NOT_OK_AFTER_AUTH:
        # redis-py's own words when AUTH got a well-formed reply other than OK (a server rejecting the password
        # answers WRONGPASS): something that parses as RESP but is not Redis, such as an echo.
        reason = (
            f"{where} is not a Redis server: it did not answer AUTH with OK; fix: point {endpoint.address} at "
            "the Redis node (another service listens on that port)"
        )
    elif isinstance(error, AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        reason = (
            f"auth failed: the server rejected user {user!r} with this password; fix: use the deployment's "
            f"{ADMIN_PASSWORD_ENV} (the {ADMIN_USER} user's password, make up keeps it in .cache-cluster/secrets)"
        )
        if "without any password configured" in text:
            reason = "auth failed: the server has no password set; fix: start it with the rendered auth include"
    elif "NOPERM" in text:
        reason = f"permission denied to user {user!r}: {text}; fix: sign in as the {ADMIN_USER} user"
    elif isinstance(error, InvalidResponse):
        answer = text.removeprefix("Protocol Error: ")
        reason = (
            f"{where} is not a Redis server: it answered {answer[:60]}; fix: point {endpoint.address} at the "
            "Redis node (another service listens on that port)"
        )
    elif "Connection closed by server" in text:
        reason = (
            f"{where} closed the connection before answering (a proxy with nothing behind it, a server shutting "
            "down, or not a Redis server)"
        )
    elif isinstance(error, BusyLoadingError):
        reason = "loading its dataset"
    elif isinstance(error, RedisTimeoutError) or isinstance(cause, TimeoutError):
        reason = f"timed out connecting to {where}"
    elif isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
        reason = f"connection refused at {where}"
    elif isinstance(cause, socket.gaierror) or "Name or service not known" in text or "resolv" in text:
        reason = (
            f"{endpoint.connect.host} does not resolve; fix: run inside the deployment's network, or use "
            "--via published / --address-map"
        )
    elif isinstance(error, RedisConnectionError):
        reason = f"cannot connect to {where}: {text}"
    elif isinstance(error, ResponseError):
        reason = f"error reply: {text}"
    else:
        reason = f"{type(error).__name__}: {text}"
    return scrub(reason, password)


def scrub(text: str, password: str | None) -> str:
    """Defence in depth: no message the hook prints may carry the password, whatever an error said."""
    if password:
        return text.replace(password, "********")
    return text

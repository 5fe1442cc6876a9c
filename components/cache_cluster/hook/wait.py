"""Step 1: wait, with a deadline, until every server accepts an authenticated connection in the right mode."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import redis

from .connect import call, client, close, describe_error
from .endpoints import Endpoint

# The mode each kind of server must report in INFO server's redis_mode.
EXPECTED_MODE = {
    "cluster": "cluster",
    "fallback-primary": "standalone",
    "fallback-replica": "standalone",
    "sentinel": "sentinel",
}
_MODE_FIX = {
    "cluster": "start it with the rendered node config (cluster-enabled yes)",
    "fallback-primary": "start it with the rendered fallback config (no cluster-enabled)",
    "fallback-replica": "start it with the rendered fallback config (no cluster-enabled)",
    "sentinel": "start it as redis-sentinel with the rendered sentinel config",
}
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Readiness:
    endpoint: Endpoint
    ready: bool
    reason: str = ""
    # Auth failures and wrong modes do not go away by waiting: the wait ends early when only these remain.
    permanent: bool = False


@dataclass
class WaitResult:
    ready: bool
    statuses: dict[str, Readiness]
    # Open, authenticated clients of the ready servers, by endpoint address: later steps reuse them.
    clients: dict[str, redis.Redis]
    elapsed: float

    def not_ready(self) -> list[Readiness]:
        return [status for status in self.statuses.values() if not status.ready]

    @property
    def gave_up(self) -> bool:
        """Ended before the deadline because every server still missing has a problem waiting cannot fix."""
        missing = self.not_ready()
        return bool(missing) and all(status.permanent for status in missing)


ProgressCallback = Callable[[Sequence[Readiness]], None]


def probe(endpoint: Endpoint, password: str, timeout: float) -> tuple[Readiness, redis.Redis | None]:
    connection: redis.Redis | None = None
    try:
        # single_connection_client connects (and authenticates) in the constructor.
        connection = client(endpoint, password, timeout=timeout)
        mode = _mode(connection)
    except Exception as error:  # every failure is a reason to report, none is fatal while waiting
        if connection is not None:
            close(connection)
        reason = describe_error(error, endpoint, password)
        # Neither a wrong password nor another protocol on the port goes away by waiting.
        permanent = reason.startswith("auth failed") or "is not a Redis server" in reason
        return Readiness(endpoint, False, reason, permanent=permanent), None
    expected = EXPECTED_MODE.get(endpoint.kind)
    if expected is not None and mode != expected:
        close(connection)
        shown = "cluster_enabled:0 (standalone)" if mode == "standalone" else f"redis_mode:{mode}"
        return (
            Readiness(
                endpoint,
                False,
                f"wrong mode: {shown}, expected {expected}; fix: {_MODE_FIX[endpoint.kind]}",
                permanent=True,
            ),
            None,
        )
    return Readiness(endpoint, True), connection


def _mode(connection: redis.Redis) -> str:
    info = call(connection, "INFO", "server")
    if isinstance(info, dict):
        return str(info.get("redis_mode", "standalone"))
    for line in str(info).splitlines():
        if line.startswith("redis_mode:"):
            return line.partition(":")[2].strip()
    return "standalone"


def wait_ready(
    endpoints: Sequence[Endpoint],
    password: str,
    *,
    deadline: float,
    on_round: ProgressCallback | None = None,
    once: bool = False,
) -> WaitResult:
    """Probe every endpoint until all are ready or `deadline` (time.monotonic()) passes; `once`: one round only."""
    started = time.monotonic()
    statuses = {endpoint.address: Readiness(endpoint, False, "not probed yet") for endpoint in endpoints}
    clients: dict[str, redis.Redis] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(endpoints)))) as pool:
        while True:
            pending = [endpoint for endpoint in endpoints if endpoint.address not in clients]
            timeout = max(0.2, min(2.0, deadline - time.monotonic()))
            for readiness, connection in pool.map(partial(probe, password=password, timeout=timeout), pending):
                statuses[readiness.endpoint.address] = readiness
                if connection is not None:
                    clients[readiness.endpoint.address] = connection
            if on_round is not None:
                on_round(list(statuses.values()))
            result = WaitResult(len(clients) == len(endpoints), statuses, clients, time.monotonic() - started)
            if result.ready or result.gave_up or once or time.monotonic() + POLL_SECONDS >= deadline:
                return result
            time.sleep(POLL_SECONDS)

"""The drills' writer: one thread per shard writes unique keys to that shard's slots, each followed by `WAIT 1`.

A write is *confirmed* when WAIT reports at least one replica has it, *accepted* when the master took it but no
replica confirmed it in time, *failed* otherwise. Only confirmed writes are promised to survive a failover, so
only they are checked for loss afterwards. MOVED is followed at once (a redirect, as any cluster client does).

A coordinated failover (CLUSTER FAILOVER) pauses the old master's clients and, once the replica took over, "unblocks
its clients and starts replying with redirection messages" (https://redis.io/commands/cluster-failover). A WAIT
that is blocked at that moment is not redirected: the node, now a replica, ends it with `-UNBLOCKED ... instance
state changed (master -> replica?)` (disconnectAllBlockedClients in replication.c; "FAILOVER only disconnects
connections with blocking commands", redis/redis#13118), and a WAIT that arrives just after gets `ERR WAIT cannot
be used with replica instances`. The SET before it was taken, and the new master has it (the replica caught up
to the old master's offset before taking over), but no replica confirmed it. So on these role-change replies the
writer looks the owner up again and sends the write once more (SET is idempotent): a *retry*, counted in
`Write.retries`. A write is *failed* only when the application could not complete it: any other error, or a
second role-change error. Failed writes keep the error's class and message.

Each shard has its own thread and connections, so a dead master stalls only the writes to its own slots, and
the stall on the healthy masters is measured, not caused by the writer. Bounded: `max_writes` per shard and the
caller's stop event (every drill stops its writers before it returns).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import redis
from redis.crc import key_slot
from redis.exceptions import MovedError

from ..hook.connect import call, close
from ..hook.endpoints import Endpoint, HostPort
from .cluster import Cluster

Outcome = Literal["confirmed", "accepted", "failed"]
KEY_PREFIX = "cache-cluster:drill:"
KEY_TTL_MS = 600_000  # drill keys clean themselves up after 10 minutes
WAIT_MS = 100
INTERVAL_SECONDS = 0.02
RETRY_PAUSE_SECONDS = 0.02
MAX_REDIRECTS = 3
MAX_ROLE_CHANGE_RETRIES = 1
# Replies of a node that turned from master into replica under a write's WAIT (see the module docstring).
ROLE_CHANGE_REPLIES = ("UNBLOCKED", "WAIT cannot be used with replica instances")
READ_BATCH = 200


@dataclass(frozen=True)
class Write:
    shard: int
    started: float
    ended: float
    outcome: Outcome
    key: str
    detail: str = ""  # a failed write's error class (redis-py keeps the code, CLUSTERDOWN..., in the class)
    message: str = ""  # and its message; for a retried write, the reply that made it retry
    retries: int = 0


def is_role_change(error: redis.ResponseError) -> bool:
    """The reply of a master that became a replica while the write waited (coordinated failover). Pure."""
    return type(error) is redis.ResponseError and any(reply in str(error) for reply in ROLE_CHANGE_REPLIES)


def shard_tag(shard: int, slot_start: int, slot_end: int) -> str:
    """A hash tag whose slot lies in [slot_start, slot_end], so every key of the writer lands in that shard."""
    for index in range(1_000_000):
        tag = f"drill-{shard}-{index}"
        if slot_start <= key_slot(tag.encode()) <= slot_end:
            return tag
    raise ValueError(f"no hash tag found for slots {slot_start}-{slot_end}")


class ShardWriter(threading.Thread):
    def __init__(
        self,
        cluster: Cluster,
        shard: int,
        slots: tuple[int, int],
        *,
        stop: threading.Event,
        max_writes: int,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        super().__init__(name=f"drill-writer-{shard}", daemon=True)
        self.cluster = cluster
        self.shard = shard
        self.tag = shard_tag(shard, *slots)
        self.slot = key_slot(self.tag.encode())
        self.stop_event = stop
        self.max_writes = max_writes
        self.interval = interval
        self.writes: list[Write] = []
        self._owner: HostPort | None = None
        self._connection: redis.Redis | None = None

    def _client(self) -> redis.Redis:
        if self._connection is None:
            if self._owner is None:
                self._owner = self.cluster.owner_of(self.slot)
            endpoint = Endpoint("drill-writer", 0, "cluster", self._owner, tls=self.cluster.tls)
            self._connection = self.cluster.connect(endpoint, timeout=WAIT_MS / 1000 + 0.2)
        return self._connection

    def _drop(self, *, rediscover: bool) -> None:
        if self._connection is not None:
            close(self._connection)
        self._connection = None
        if rediscover:
            self._owner = None

    def write_once(self, key: str, started: float) -> Write:
        retries, retried_on = 0, ""

        def done(outcome: Outcome, detail: str = "", message: str = "") -> Write:
            message = message or retried_on
            return Write(self.shard, started, time.monotonic(), outcome, key, detail, message, retries)

        redirects = 0
        while redirects < MAX_REDIRECTS:
            try:
                connection = self._client()
                connection.set(key, "1", px=KEY_TTL_MS)
                replicas = int(call(connection, "WAIT", 1, WAIT_MS))
                return done("confirmed" if replicas >= 1 else "accepted")
            except MovedError as moved:
                redirects += 1
                self._drop(rediscover=False)
                self._owner = self.cluster.dial(moved.host, int(moved.port))
            except redis.ResponseError as error:
                self._drop(rediscover=True)
                if is_role_change(error) and retries < MAX_ROLE_CHANGE_RETRIES:
                    retries, retried_on = retries + 1, str(error)
                    continue
                # redis-py strips the error code (CLUSTERDOWN, READONLY, ...) from the message; its class keeps it.
                return done("failed", type(error).__name__, str(error))
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                self._drop(rediscover=True)
                return done("failed", type(error).__name__, str(error))
            except LookupError as error:  # no node named an owner for the slot
                self._drop(rediscover=True)
                return done("failed", "LookupError", str(error))
        return done("failed", "redirected too often")

    def run(self) -> None:
        try:
            for sequence in range(self.max_writes):
                if self.stop_event.is_set():
                    break
                key = f"{KEY_PREFIX}{{{self.tag}}}:{sequence}"
                write = self.write_once(key, time.monotonic())
                self.writes.append(write)
                self.stop_event.wait(self.interval if write.outcome != "failed" else RETRY_PAUSE_SECONDS)
        finally:
            self._drop(rediscover=False)


class Writers:
    """One ShardWriter per shard, started together, stopped together."""

    def __init__(self, cluster: Cluster, slot_ranges: Sequence[tuple[int, int]], *, max_writes: int = 20_000) -> None:
        self.stop_event = threading.Event()
        self.threads = [
            ShardWriter(cluster, index, slots, stop=self.stop_event, max_writes=max_writes)
            for index, slots in enumerate(slot_ranges)
        ]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> list[Write]:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=10)
        return self.writes

    @property
    def writes(self) -> list[Write]:
        return sorted((write for thread in self.threads for write in list(thread.writes)), key=lambda w: w.started)


def missing_keys(cluster: Cluster, keys: Iterable[str]) -> list[str]:
    """Which of these keys the cluster does not hold now (read from each slot's current owner)."""
    by_slot: dict[int, list[str]] = {}
    for key in keys:
        by_slot.setdefault(key_slot(key.encode()), []).append(key)
    missing: list[str] = []
    for slot, slot_keys in by_slot.items():
        owner = cluster.owner_of(slot)
        connection = cluster.connect(Endpoint("drill-reader", 0, "cluster", owner, tls=cluster.tls), timeout=5.0)
        try:
            for start in range(0, len(slot_keys), READ_BATCH):
                batch = slot_keys[start : start + READ_BATCH]
                values = call(connection, "MGET", *batch)
                missing += [key for key, value in zip(batch, values, strict=True) if value is None]
        finally:
            close(connection)
    return missing

"""The keys the full-restart drills write before a restart and read back after it (Compose and pods on Docker)."""

from __future__ import annotations

from typing import Any

from redis.cluster import RedisCluster

DRILL_KEYS = 10_000


def write_drill_keys(client: RedisCluster) -> None:
    """drill:0..DRILL_KEYS-1 = their index, pipelined (one round trip per node, not per key)."""
    pipe = client.pipeline(transaction=False)
    for index in range(DRILL_KEYS):
        pipe.set(f"drill:{index}", str(index))
    assert all(pipe.execute())


def read_drill_values(client: RedisCluster) -> list[Any]:
    """The values of drill:0..DRILL_KEYS-1, in order (None where a key is gone)."""
    pipe = client.pipeline(transaction=False)
    for index in range(DRILL_KEYS):
        pipe.get(f"drill:{index}")
    return pipe.execute()

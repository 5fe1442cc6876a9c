"""A client that keeps writing while passwords rotate, as an application does: it signs in with the password
its file holds at each new connection, and opens new connections when the file changes. Every failed command
is counted, whatever its kind. Bounded: it stops after `budget_s` whatever happens to the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider


class PasswordFile(CredentialProvider):
    """`user` and the password its file holds now, read for every new connection."""

    def __init__(self, path: Path, user: str = "app") -> None:
        self.path = path
        self.user = user

    def get_credentials(self) -> tuple[str, str]:
        return (self.user, self.path.read_text(encoding="utf-8").strip())


@dataclass
class Tally:
    writes: int = 0
    failures: list[str] = field(default_factory=list)


@contextmanager
def writing(cluster: RedisCluster, password_file: Path, *, prefix: str, budget_s: float) -> Iterator[Tally]:
    """Write `<prefix>:<n>` keys every few ms through `cluster` until the block ends."""
    tally = Tally()
    stop = threading.Event()

    def write() -> None:
        seen = password_file.read_text(encoding="utf-8").strip()
        deadline = time.monotonic() + budget_s
        while not stop.is_set() and time.monotonic() < deadline:
            current = password_file.read_text(encoding="utf-8").strip()
            if current != seen:  # the secret changed: new connections, which read it
                cluster.disconnect_connection_pools()
                seen = current
            try:
                cluster.set(f"{prefix}:{tally.writes % 500}", tally.writes, ex=300)
                tally.writes += 1
            except Exception as error:  # every failure counts, whatever its kind
                tally.failures.append(f"{type(error).__name__}: {error}")
            time.sleep(0.005)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield tally
    finally:
        stop.set()
        writer.join(timeout=10)

"""What every e2e test module logs with and waits with: each wait has a deadline, says what it waits for, and
fails with the last thing it saw."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest


def log(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_for(what: str, probe: Callable[[], tuple[bool, str]], *, deadline_s: float, every_s: float = 0.5) -> float:
    """Poll PROBE until it reports success; fail with its last report after DEADLINE_S. Returns the seconds taken."""
    log(f"waiting up to {deadline_s:.0f}s for {what}")
    started = time.monotonic()
    last = ""
    while True:
        done, last = probe()
        elapsed = time.monotonic() - started
        if done:
            log(f"{what}: after {elapsed:.1f}s")
            return elapsed
        if elapsed > deadline_s:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}; last: {last}", pytrace=False)
        time.sleep(every_s)

"""Pure measurements over the writer's log: recovery time of the hurt shard, stall on the healthy ones, counts.

Times are time.monotonic() seconds; `fault_at` is when the drill hurt the node.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .writer import Write


@dataclass(frozen=True)
class Summary:
    writes: int
    confirmed: int
    accepted: int
    failed: int
    # Failed writes to shards the drill did not hurt, after the fault.
    failed_on_healthy: int
    # Seconds the hurt shard's writes failed (see `recovery`); 0.0 when none failed, None when none succeeded
    # after the failures (or no shard was hurt).
    recover_s: float | None
    # The longest wait between two successful writes on a healthy shard across or after the fault, beyond the
    # usual spacing of that shard's writes before the fault (its median gap). 0.0: no stall.
    stall_s: float
    # "Class: message" of the failed writes, and how many.
    errors: dict[str, int]
    # Writes sent once more after a coordinated failover's role-change reply (see writer.py); they are
    # confirmed, accepted or failed like any other, so a retry is not a failure.
    retries: int = 0
    retried_on: dict[str, int] | None = None


def _successes(writes: Sequence[Write]) -> list[float]:
    return [write.ended for write in writes if write.outcome != "failed"]


def recovery(writes: Sequence[Write], fault_at: float) -> float | None:
    """The outage the writer saw: from the start of the first failed write after the fault to the end of the
    first successful write after the last failure. Timed from the writes, not from the fault command, so the
    docker CLI's own start-up does not count and the figure compares with a process killed by pid."""
    after = [write for write in writes if write.started >= fault_at]
    failures = [write.started for write in after if write.outcome == "failed"]
    if not failures:
        return 0.0
    back = [write.ended for write in after if write.outcome != "failed" and write.started > max(failures)]
    return min(back) - min(failures) if back else None


def stall(writes: Sequence[Write], fault_at: float) -> float:
    """Longest gap between successes spanning or following the fault, minus the median gap before it."""
    ends = _successes(writes)
    before = [end for end in ends if end < fault_at]
    gaps_before = [b - a for a, b in itertools.pairwise(before)]
    usual = statistics.median(gaps_before) if gaps_before else 0.0
    window = ([before[-1]] if before else []) + [end for end in ends if end >= fault_at]
    gaps = [b - a for a, b in itertools.pairwise(window)]
    return max(0.0, max(gaps, default=0.0) - usual)


def summarize(writes: Sequence[Write], *, fault_at: float, hurt: Sequence[int] = ()) -> Summary:
    outcomes = Counter(write.outcome for write in writes)
    shards = sorted({write.shard for write in writes})
    healthy = [shard for shard in shards if shard not in hurt]
    by_shard = {shard: [write for write in writes if write.shard == shard] for shard in shards}
    recoveries = [recovery(by_shard.get(shard, []), fault_at) for shard in hurt]
    recover_s: float | None = None
    if hurt and all(value is not None for value in recoveries):
        recover_s = max(value for value in recoveries if value is not None)
    return Summary(
        writes=len(writes),
        confirmed=outcomes["confirmed"],
        accepted=outcomes["accepted"],
        failed=outcomes["failed"],
        failed_on_healthy=sum(
            1 for write in writes if write.shard in healthy and write.outcome == "failed" and write.started >= fault_at
        ),
        recover_s=recover_s,
        stall_s=max((stall(by_shard[shard], fault_at) for shard in healthy), default=0.0),
        errors=dict(Counter(_error(write.detail, write.message) for write in writes if write.outcome == "failed")),
        retries=sum(write.retries for write in writes),
        retried_on=dict(Counter(write.message for write in writes if write.retries)),
    )


def _error(detail: str, message: str) -> str:
    return f"{detail}: {message}" if message else detail

"""The drills' pure parts: recovery and stall over a writer's log, the isolated side's replies, hash tags."""

from __future__ import annotations

import pytest
import redis
from redis.crc import key_slot

from cache_cluster.drills.catalog import IsolatedWrite
from cache_cluster.drills.measure import recovery, stall, summarize
from cache_cluster.drills.writer import Write, is_role_change, shard_tag


def w(shard: int, started: float, outcome: str = "confirmed", took: float = 0.002, detail: str = "") -> Write:
    return Write(shard, started, started + took, outcome, f"k{shard}:{started}", detail)  # type: ignore[arg-type]


def test_recovery_is_the_outage_the_writer_saw() -> None:
    writes = [w(0, 0.0), w(0, 0.02), w(0, 1.0, "failed"), w(0, 1.5, "failed"), w(0, 2.0, "accepted"), w(0, 2.1)]
    # fault at 0.5: first failure started at 1.0, first success after the last failure ended at 2.002
    assert recovery(writes, 0.5) == pytest.approx(1.002)


def test_recovery_is_zero_without_failures_and_none_without_a_success_after_them() -> None:
    assert recovery([w(0, 0.0), w(0, 1.0)], 0.5) == 0.0
    assert recovery([w(0, 0.0), w(0, 1.0, "failed")], 0.5) is None


def test_stall_is_the_longest_gap_beyond_the_usual_spacing() -> None:
    before = [w(1, t / 100) for t in range(0, 50, 2)]  # every 20 ms, 2 ms each
    after = [w(1, 0.5), w(1, 0.9), w(1, 0.92)]  # one gap of 400 ms
    assert stall(before + after, 0.49) == pytest.approx(0.4 - 0.02)
    assert stall([*before, w(1, 0.5), w(1, 0.52)], 0.49) == pytest.approx(0.0, abs=1e-9)


def test_summarize_keeps_the_hurt_shard_apart() -> None:
    writes = [
        w(0, 0.0), w(1, 0.0), w(0, 0.02), w(1, 0.02),
        w(0, 1.0, "failed", detail="ConnectionError"), w(1, 1.0), w(0, 2.0), w(1, 1.5, "failed", detail="TimeoutError"),
    ]
    summary = summarize(writes, fault_at=0.5, hurt=[0])
    assert (summary.writes, summary.confirmed, summary.accepted, summary.failed) == (8, 6, 0, 2)
    assert summary.failed_on_healthy == 1
    assert summary.recover_s == pytest.approx(1.002)
    assert summary.errors == {"ConnectionError": 1, "TimeoutError": 1}


def test_summarize_counts_retries_apart_from_failures_and_keeps_error_messages() -> None:
    unblocked = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
    writes = [
        Write(0, 0.0, 0.01, "confirmed", "k:0"),
        Write(0, 1.0, 1.2, "confirmed", "k:1", message=unblocked, retries=1),
        Write(1, 1.0, 1.3, "failed", "k:2", "ResponseError", "WAIT cannot be used with replica instances", 1),
        Write(1, 2.0, 2.3, "failed", "k:3", "ClusterDownError", "The cluster is down"),
    ]
    summary = summarize(writes, fault_at=0.5)
    assert (summary.writes, summary.confirmed, summary.failed, summary.failed_on_healthy) == (4, 2, 2, 2)
    assert summary.retries == 2
    assert summary.retried_on == {unblocked: 1, "WAIT cannot be used with replica instances": 1}
    assert summary.errors == {
        "ResponseError: WAIT cannot be used with replica instances": 1,
        "ClusterDownError: The cluster is down": 1,
    }


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (redis.ResponseError("UNBLOCKED force unblock from blocking operation, instance state changed"), True),
        (redis.ResponseError("WAIT cannot be used with replica instances. Please also note ..."), True),
        (redis.ResponseError("ERR unknown command 'WAIT'"), False),
        (redis.exceptions.ReadOnlyError("You can't write against a read only replica."), False),
        (redis.exceptions.ClusterDownError("The cluster is down"), False),
    ],
)
def test_only_a_role_change_reply_is_retried(error: redis.ResponseError, retry: bool) -> None:
    assert is_role_change(error) is retry


def test_isolated_write_lines() -> None:
    refused = IsolatedWrite.parse("1700000002 500000|k:3|CLUSTERDOWN The cluster is down |0 ", wall_to_monotonic=-1e9)
    assert (refused.accepted, refused.confirmed, refused.key) == (False, False, "k:3")
    assert refused.reply == "CLUSTERDOWN The cluster is down / WAIT 0"
    assert refused.at == pytest.approx(700000002.5)
    accepted = IsolatedWrite.parse("1700000000 0|k:0|OK |0 ", wall_to_monotonic=0.0)
    assert (accepted.accepted, accepted.confirmed) == (True, False)
    assert IsolatedWrite.parse("1700000000 0|k:1|OK |1 ", wall_to_monotonic=0.0).confirmed
    failed = IsolatedWrite.parse("1700000000 0|k:2|docker exec failed: no such container|", wall_to_monotonic=0)
    assert (failed.accepted, failed.reply) == (False, "docker exec failed: no such container")


@pytest.mark.parametrize(("start", "end"), [(0, 5460), (5461, 10921), (10922, 16383), (100, 100)])
def test_shard_tag_lands_in_the_shard(start: int, end: int) -> None:
    tag = shard_tag(0, start, end)
    assert start <= key_slot(f"cache-cluster:drill:{{{tag}}}:7".encode()) <= end

"""Readiness: what still keeps a cluster from being fully ready, from the nodes' own reports."""

from __future__ import annotations

from cache_cluster.hook.converge import readiness_problems
from cache_cluster.hook.inspect import NodeState

from .states import formed_lines, line, nid, state

IDS = {nid(i) for i in range(1, 7)}


def ready(lines: list[str]) -> list[NodeState]:
    return [state(i + 1, lines, cluster_state="ok", link_status="up" if i >= 3 else None) for i in range(6)]


def test_a_formed_cluster_is_ready() -> None:
    assert readiness_problems(ready(formed_lines()), IDS) == []


def test_each_reason_a_cluster_is_not_ready() -> None:
    lines = formed_lines()
    states = ready(lines)
    states[4] = state(5, lines, cluster_state="ok", link_status="down")
    assert readiness_problems(states, IDS) == ["redis-node-5:7005: replica link to its master is down"]

    states = ready(lines)
    states[4] = state(5, [text for text in lines if not text.startswith(nid(6))], cluster_state="ok",
                      link_status="up")
    assert readiness_problems(states, IDS) == [
        "redis-node-5:7005: does not know 1 node(s) yet",
        "the nodes disagree on who replicates whom (2 different views)",
    ]

    failing = [*lines[:5], line(6, flags="slave,fail?", master=3)]
    states = ready(lines)
    states[0] = state(1, failing, cluster_state="fail")
    assert readiness_problems(states, IDS) == [
        "redis-node-1:7001: cluster_state:fail",
        "redis-node-1:7001: sees redis-node-6:7006 as fail?",
    ]

    renamed = [*lines[:5], line(6, flags="slave", master=3, hostname="old-name")]
    states = ready(lines)
    states[1] = state(2, renamed, cluster_state="ok")
    assert readiness_problems(states, IDS) == [f"redis-node-2:7002: has not learned the hostname of {nid(6)[:8]} yet"]

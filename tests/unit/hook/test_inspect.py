"""Parsing what a node says about the cluster (the hook's one reader), without servers."""

from __future__ import annotations

from cache_cluster.hook.inspect import parse_cluster_nodes, uncovered_slots
from cache_cluster.placement import SlotRange

from .states import formed, line, nid, state


def test_parse_cluster_nodes_handles_hostnames_noaddr_and_migrating_slots() -> None:
    entries = parse_cluster_nodes(
        f"{nid(1)} 10.0.0.5:7001@17001,redis-node-1 myself,master - 0 0 1 connected 0-10 12 [13->-{nid(2)}]\n"
        f"{nid(2)} :0@0,redis-node-2 slave,fail,noaddr {nid(1)} 0 0 1 disconnected\n"
    )
    first, second = entries
    assert first.is_myself and first.is_master and first.hostname == "redis-node-1" and first.ip == "10.0.0.5"
    assert first.slots == (SlotRange(0, 10), SlotRange(12, 12))
    assert second.failed and second.master_id == nid(1) and second.announced == "redis-node-2"


def test_one_set_of_suspect_flags() -> None:
    flagged = {
        flags: parse_cluster_nodes(f"{nid(1)} 127.0.0.1:7001@17001,n {flags} - 0 0 1 connected")[0]
        for flags in ("master", "master,fail", "master,fail?", "master,noaddr", "master,handshake")
    }
    assert {flags: entry.suspect for flags, entry in flagged.items()} == {
        "master": False, "master,fail": True, "master,fail?": True, "master,noaddr": True, "master,handshake": True,
    }
    assert {flags: entry.failed for flags, entry in flagged.items()} == {
        "master": False, "master,fail": True, "master,fail?": False, "master,noaddr": True, "master,handshake": False,
    }


def test_uncovered_slots() -> None:
    assert uncovered_slots(formed()) == set()
    assert uncovered_slots([state(1, [line(1, slots="0-16000")])]) == set(range(16001, 16384))

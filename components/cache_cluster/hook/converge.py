"""Wait until the cluster is fully ready, polling fast (every few tens of ms, not redis-cli's 1 s steps).

Fully ready: every node says cluster_state:ok and knows every other node, all links connected and none
flagged failing; every replica's link to its master is up; every node's slot -> master map is the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis

from ..placement import SlotRange
from .connect import call
from .inspect import NodeEntry, parse_cluster_nodes, parse_info

POLL_SECONDS = 0.03
_BAD_FLAGS = frozenset({"fail", "fail?", "noaddr", "handshake"})


@dataclass(frozen=True)
class NodeView:
    """The part of a node's state readiness depends on (one pipelined round trip per node)."""

    address: str
    node_id: str
    cluster_info: Mapping[str, str]
    nodes: tuple[NodeEntry, ...]
    replication: Mapping[str, str]

    def slot_map(self) -> frozenset[tuple[str, tuple[SlotRange, ...]]]:
        return frozenset((entry.node_id, entry.slots) for entry in self.nodes if entry.slots)

    def roles(self) -> frozenset[tuple[str, bool, str | None]]:
        return frozenset((entry.node_id, entry.is_master, entry.master_id) for entry in self.nodes)

    def hostname(self) -> str:
        return next((entry.hostname for entry in self.nodes if entry.is_myself), "")


def readiness_problems(views: Sequence[NodeView], expected_ids: set[str]) -> list[str]:
    """Why the cluster is not fully ready yet; empty when it is. Pure."""
    problems: list[str] = []
    for view in views:
        if view.cluster_info.get("cluster_state") != "ok":
            problems.append(f"{view.address}: cluster_state:{view.cluster_info.get('cluster_state', '?')}")
        known = {entry.node_id for entry in view.nodes if "handshake" not in entry.flags}
        if known != expected_ids:
            missing, extra = expected_ids - known, known - expected_ids
            detail = []
            if missing:
                detail.append(f"does not know {len(missing)} node(s) yet")
            if extra:
                detail.append(f"knows {len(extra)} node(s) outside the list: {', '.join(sorted(extra))}")
            problems.append(f"{view.address}: " + "; ".join(detail))
        for entry in view.nodes:
            if entry.is_myself or entry.node_id not in expected_ids:
                continue
            bad = sorted(entry.flags & _BAD_FLAGS)
            if bad or entry.link != "connected":
                state = ",".join(bad) if bad else entry.link
                problems.append(f"{view.address}: sees {entry.announced} as {state}")
        myself = next((entry for entry in view.nodes if entry.is_myself), None)
        if myself is not None and myself.is_replica:
            link = view.replication.get("master_link_status")
            if link != "up":
                problems.append(f"{view.address}: replica link to its master is {link or 'not set'}")
    maps = {view.slot_map() for view in views}
    if len(maps) > 1:
        problems.append(f"the nodes disagree on which master owns which slots ({len(maps)} different views)")
    roles = {view.roles() for view in views}
    if len(roles) > 1:
        problems.append(f"the nodes disagree on who replicates whom ({len(roles)} different views)")
    # Clients follow MOVED by hostname: every node must have heard every other's announced name.
    names = {view.node_id: view.hostname() for view in views}
    for view in views:
        unnamed = [e.node_id[:8] for e in view.nodes if names.get(e.node_id) and e.hostname != names[e.node_id]]
        if unnamed:
            problems.append(f"{view.address}: has not learned the hostname of {', '.join(unnamed)} yet")
    return problems


def read_view(address: str, connection: redis.Redis) -> NodeView:
    pipe = connection.pipeline(transaction=False)
    call(pipe, "CLUSTER MYID")
    call(pipe, "CLUSTER INFO")
    call(pipe, "CLUSTER NODES")
    call(pipe, "INFO", "replication")
    myid, info, nodes, replication = pipe.execute()
    replication_info = replication if isinstance(replication, dict) else parse_info(str(replication))
    return NodeView(
        address=address,
        node_id=str(myid),
        cluster_info=parse_info(str(info)),
        nodes=parse_cluster_nodes(str(nodes)),
        replication={key: str(value) for key, value in replication_info.items()},
    )


@dataclass(frozen=True)
class ConvergeResult:
    ready: bool
    problems: tuple[str, ...]
    elapsed: float
    polls: int


def wait_fully_ready(
    clients: Mapping[str, redis.Redis], *, deadline: float, poll: float = POLL_SECONDS
) -> ConvergeResult:
    """Poll every node until the cluster is fully ready or the deadline (time.monotonic()) passes."""
    started = time.monotonic()
    polls = 0
    problems: list[str] = []
    while True:
        polls += 1
        try:
            views = [read_view(address, connection) for address, connection in clients.items()]
            expected = {view.node_id for view in views}
            problems = readiness_problems(views, expected)
        except redis.RedisError as error:
            problems = [f"a node did not answer: {type(error).__name__}"]
        if not problems:
            return ConvergeResult(True, (), time.monotonic() - started, polls)
        if time.monotonic() + poll >= deadline:
            return ConvergeResult(False, tuple(problems), time.monotonic() - started, polls)
        time.sleep(poll)

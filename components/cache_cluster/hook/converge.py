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
from .endpoints import Endpoint
from .inspect import SUSPECT_FLAGS, NodeState, read_states

POLL_SECONDS = 0.03


def _slot_map(state: NodeState) -> frozenset[tuple[str, tuple[SlotRange, ...]]]:
    return frozenset((entry.node_id, entry.slots) for entry in state.nodes if entry.slots)


def _roles(state: NodeState) -> frozenset[tuple[str, bool, str | None]]:
    return frozenset((entry.node_id, entry.is_master, entry.master_id) for entry in state.nodes)


def readiness_problems(states: Sequence[NodeState], expected_ids: set[str]) -> list[str]:
    """Why the cluster is not fully ready yet; empty when it is. Pure."""
    problems: list[str] = []
    for state in states:
        address = state.endpoint.address
        if not state.state_ok:
            problems.append(f"{address}: cluster_state:{state.cluster_info.get('cluster_state', '?')}")
        known = state.known_ids()
        if known != expected_ids:
            missing, extra = expected_ids - known, known - expected_ids
            detail = []
            if missing:
                detail.append(f"does not know {len(missing)} node(s) yet")
            if extra:
                detail.append(f"knows {len(extra)} node(s) outside the list: {', '.join(sorted(extra))}")
            problems.append(f"{address}: " + "; ".join(detail))
        for entry in state.others:
            if entry.node_id in expected_ids and not entry.healthy:
                bad = sorted(entry.flags & SUSPECT_FLAGS)
                problems.append(f"{address}: sees {entry.announced} as {','.join(bad) if bad else entry.link}")
        if state.myself.is_replica:
            link = state.replication.get("master_link_status")
            if link != "up":
                problems.append(f"{address}: replica link to its master is {link or 'not set'}")
    maps = {_slot_map(state) for state in states}
    if len(maps) > 1:
        problems.append(f"the nodes disagree on which master owns which slots ({len(maps)} different views)")
    roles = {_roles(state) for state in states}
    if len(roles) > 1:
        problems.append(f"the nodes disagree on who replicates whom ({len(roles)} different views)")
    # Clients follow MOVED by hostname: every node must have heard every other's announced name.
    names = {state.node_id: state.myself.hostname for state in states}
    for state in states:
        unnamed = [e.node_id[:8] for e in state.nodes if names.get(e.node_id) and e.hostname != names[e.node_id]]
        if unnamed:
            problems.append(f"{state.endpoint.address}: has not learned the hostname of {', '.join(unnamed)} yet")
    return problems


@dataclass(frozen=True)
class ConvergeResult:
    ready: bool
    problems: tuple[str, ...]
    elapsed: float
    polls: int


def wait_fully_ready(
    nodes: Sequence[Endpoint], clients: Mapping[str, redis.Redis], *, deadline: float, poll: float = POLL_SECONDS
) -> ConvergeResult:
    """Poll every node (`clients` by endpoint address) until the cluster is fully ready or the deadline
    (time.monotonic()) passes. Each poll is one round of inspect's reader."""
    started = time.monotonic()
    polls = 0
    problems: list[str] = []
    while True:
        polls += 1
        try:
            states = read_states(nodes, clients)
            problems = readiness_problems(states, {state.node_id for state in states})
        except redis.RedisError as error:
            problems = [f"a node did not answer: {type(error).__name__}"]
        if not problems:
            return ConvergeResult(True, (), time.monotonic() - started, polls)
        if time.monotonic() + poll >= deadline:
            return ConvergeResult(False, tuple(problems), time.monotonic() - started, polls)
        time.sleep(poll)

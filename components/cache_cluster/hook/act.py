"""Carry out a create or heal decision. Additive commands: FORGET (of a replaced node's dead ID),
SET-CONFIG-EPOCH (fresh nodes only), ADDSLOTSRANGE, MEET and REPLICATE; and one that takes away, DELSLOTSRANGE,
only on a lone leftover that is checked again, just before, to hold no keys and know no other node.

Speed comes from not sleeping: slots and distinct config epochs are set on every master before any MEET
(no epoch-collision rounds), every node meets every other directly (no wait for gossip to spread), and each
replica is attached as soon as it knows its master, polled every few tens of milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import redis

from ..placement import SlotRange
from .connect import call
from .decide import Decision
from .inspect import NodeState, parse_cluster_nodes

POLL_SECONDS = 0.02
# A master that has just been given slots reports cluster_state:ok only after a rejoin delay of
# clamp(cluster-node-timeout, 0.5 s, 5 s), meant for a master coming back from the minority side of a
# partition. Brand-new, empty masters have no stale configuration to wait for, so while creating, the hook
# lowers the node timeout on them to the minimum and restores the configured value once the cluster is ready.
NODE_TIMEOUT = "cluster-node-timeout"
CREATE_NODE_TIMEOUT_MS = 500
# A master waits this many seconds (default 5) for more replicas before starting a diskless full sync. While
# the hook attaches replicas it sets 0 on their masters, so each sync starts at once, and restores the value.
DISKLESS_DELAY = "repl-diskless-sync-delay"


class ActError(Exception):
    """A command the plan needed failed, or a step did not finish by the deadline."""


@dataclass
class ActResult:
    actions: list[str] = field(default_factory=list)
    # (address, config parameter, value to restore) for settings changed only while forming.
    restore: list[tuple[str, str, str]] = field(default_factory=list)


def act(
    decision: Decision,
    states: Mapping[str, NodeState],
    clients: Mapping[str, redis.Redis],
    *,
    deadline: float,
    result: ActResult | None = None,
) -> ActResult:
    """`states` and `clients` are keyed by endpoint address. Pass `result` to keep what was done (and the
    settings to restore) even when a step fails part way."""
    result = ActResult() if result is None else result
    try:
        _act(decision, states, clients, deadline, result)
    except redis.RedisError as error:
        raise ActError(f"{type(error).__name__}: {error}") from None
    return result


def _act(
    decision: Decision,
    states: Mapping[str, NodeState],
    clients: Mapping[str, redis.Redis],
    deadline: float,
    result: ActResult,
) -> None:
    by_id = {state.node_id: address for address, state in states.items()}
    members = [address for address, state in states.items() if not state.lone]
    newcomers = set(decision.meet)

    for forget in decision.forget:
        # Every node that knows the dead ID must forget it within the 60 s ban, or gossip brings it back.
        for address in members:
            if forget.node_id in {entry.node_id for entry in states[address].nodes}:
                call(clients[address], "CLUSTER FORGET", forget.node_id)
        result.actions.append(
            f"forgot node {forget.node_id} (was {forget.hostname}, replaced by {forget.replaced_by}); "
            "this is not a reset: no node lost data or configuration"
        )

    for address, ranges in decision.release.items():
        _release(clients[address], address, ranges)
        result.actions.append(
            f"{address}: DELSLOTSRANGE {' '.join(str(r) for r in ranges)} (a lone leftover's own stale claims; "
            "it holds no keys and knew no other node)"
        )

    if decision.kind == "create":
        for address in decision.add_slots:
            _override(clients[address], address, NODE_TIMEOUT, CREATE_NODE_TIMEOUT_MS, result, lower_only=True)

    for address, epoch in decision.epochs.items():
        call(clients[address], "CLUSTER SET-CONFIG-EPOCH", epoch)
    if decision.epochs:
        result.actions.append(f"set distinct config epochs on {len(decision.epochs)} fresh node(s)")

    for address, ranges in decision.add_slots.items():
        bounds = [bound for slot_range in ranges for bound in (slot_range.start, slot_range.end)]
        call(clients[address], "CLUSTER ADDSLOTSRANGE", *bounds)
        result.actions.append(f"{address}: ADDSLOTSRANGE {' '.join(str(r) for r in ranges)}")

    for master_id in set(decision.replicate.values()):
        address = by_id[master_id]
        _override(clients[address], address, DISKLESS_DELAY, 0, result)

    if decision.kind == "create":
        # Everyone meets everyone: each node learns each peer first hand instead of waiting for gossip.
        pairs = [(a, b) for a in decision.meet for b in decision.meet if a != b]
    else:
        # Members meet each newcomer, and newcomers meet each other, all first hand.
        pairs = [(member, new) for new in decision.meet for member in members]
        pairs += [(a, b) for a in decision.meet for b in decision.meet if a != b]
    meets: dict[str, list[str]] = {}
    for source, target in pairs:
        meets.setdefault(source, []).append(target)
    for source, targets in meets.items():
        pipe = clients[source].pipeline(transaction=False)
        for target in targets:
            peer = states[target]
            # MEET needs an IP: the target's own address as it sees itself (CLIENT INFO laddr), which is
            # right inside Docker networks and Kubernetes as well as on 127.0.0.1.
            call(pipe, "CLUSTER MEET", peer.ip, peer.myself.port or peer.endpoint.port, peer.bus_port)
        pipe.execute()
    if decision.meet:
        result.actions.append(f"met {len(newcomers)} node(s) into the cluster ({len(pairs)} CLUSTER MEET)")

    pending = dict(decision.replicate)
    while pending:
        for replica, master_id in list(pending.items()):
            known = parse_cluster_nodes(str(call(clients[replica], "CLUSTER NODES")))
            if any(entry.node_id == master_id and "handshake" not in entry.flags for entry in known):
                call(clients[replica], "CLUSTER REPLICATE", master_id)
                result.actions.append(f"{replica}: REPLICATE {by_id.get(master_id, master_id)}")
                del pending[replica]
        if not pending:
            break
        if time.monotonic() + POLL_SECONDS >= deadline:
            raise ActError(
                "deadline passed before these replicas learned their master: " + ", ".join(sorted(pending))
            )
        time.sleep(POLL_SECONDS)


def _release(connection: redis.Redis, address: str, ranges: tuple[SlotRange, ...]) -> None:
    """Drop a lone leftover's claims, only while it still holds no keys, knows no other node and claims exactly
    what was decided on. A key written after this check stays where it is (DELSLOTSRANGE deletes no key), and
    Redis then refuses to make the node a replica (a master must be empty to follow another), so nothing is lost.
    """
    pipe = connection.pipeline(transaction=False)
    call(pipe, "DBSIZE")
    call(pipe, "CLUSTER NODES")
    keys, nodes = pipe.execute()
    entries = parse_cluster_nodes(str(nodes))
    claims = next((entry.slots for entry in entries if entry.is_myself), ())
    if int(keys) or len(entries) != 1 or claims != ranges:
        raise ActError(
            f"{address} changed since it was inspected ({int(keys)} keys, knows {len(entries) - 1} other node(s), "
            f"claims {' '.join(map(str, claims)) or 'no slots'}); its claims were left alone: run init again"
        )
    call(connection, "CLUSTER DELSLOTSRANGE", *(bound for r in ranges for bound in (r.start, r.end)))


def _override(
    connection: redis.Redis, address: str, parameter: str, value: int, result: ActResult, *, lower_only: bool = False
) -> None:
    """Set a parameter for the time of forming, remembering the value to put back."""
    current = connection.config_get(parameter).get(parameter)
    if current is None or int(current) == value or (lower_only and int(current) < value):
        return
    connection.config_set(parameter, value)
    result.restore.append((address, parameter, str(current)))


def restore(result: ActResult, clients: Mapping[str, redis.Redis]) -> list[str]:
    """Put back the settings changed while forming; returns what could not be restored."""
    failed = []
    for address, parameter, value in result.restore:
        try:
            clients[address].config_set(parameter, value)
        except redis.RedisError as error:
            failed.append(f"{address}: could not restore {parameter} {value}: {type(error).__name__}")
    return failed

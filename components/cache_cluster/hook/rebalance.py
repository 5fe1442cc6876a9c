"""On request (`init --prefer-spec-masters`): give the master role back to the nodes the spec names as masters.

After failovers the roles are swapped: a spec master is now the replica of its old replica. That is healthy, so
plain `init` leaves it. Asked to, the hook sends `CLUSTER FAILOVER` to each preferred node that is a linked replica:
a coordinated failover in which the master stops accepting writes, the replica catches up to its replication
offset and takes over. No slot and no key moves; clients get MOVED to the new master. One shard at a time, so
at most one shard pauses at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis

from ..plan import plan
from .connect import call
from .endpoints import Targets
from .inspect import NodeState

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Swap:
    replica: str  # the preferred node's address: a replica now, the master after the failover
    master: str  # its current master's address


def preferred_masters(targets: Targets) -> set[str]:
    """The spec's masters; without a spec, the first `masters` nodes listed (the ones `init` creates as masters)."""
    if targets.spec is not None:
        return {node.address for node in plan(targets.spec).masters}
    return {node.address for node in targets.nodes[: targets.masters]}


def plan_swaps(states: Sequence[NodeState], preferred: set[str]) -> tuple[list[Swap], list[str]]:
    """Which preferred nodes to fail over to, and why others are left as they are. Pure."""
    by_id = {state.node_id: state for state in states}
    swaps: list[Swap] = []
    notes: list[str] = []
    for state in states:
        address = state.endpoint.address
        myself = state.myself
        if address not in preferred or myself.is_master:
            continue
        master = by_id.get(myself.master_id or "")
        if master is None:
            notes.append(f"{address} replicates {str(myself.master_id)[:8]}, which is not a listed node; left as is")
        elif master.endpoint.address in preferred:
            notes.append(f"{address} replicates {master.endpoint.address}, also a preferred master; left as is")
        elif state.replication.get("master_link_status") != "up":
            notes.append(f"{address}: link to its master {master.endpoint.address} is not up; not failed over")
        elif any(swap.master == master.endpoint.address for swap in swaps):
            continue
        else:
            swaps.append(Swap(address, master.endpoint.address))
    return swaps, notes


def _role(connection: redis.Redis) -> str:
    return str(connection.info("replication").get("role", "?"))


def restore_preferred_masters(
    targets: Targets, states: Sequence[NodeState], clients: Mapping[str, redis.Redis], *, deadline: float
) -> tuple[list[str], list[str]]:
    """(actions taken, problems): CLUSTER FAILOVER on each preferred replica, waiting for each to finish."""
    swaps, problems = plan_swaps(states, preferred_masters(targets))
    actions: list[str] = []
    for swap in swaps:
        call(clients[swap.replica], "CLUSTER FAILOVER")
        actions.append(f"{swap.replica}: CLUSTER FAILOVER (master again; {swap.master} is now its replica)")
        while not (_role(clients[swap.replica]) == "master" and _role(clients[swap.master]) == "slave"):
            if time.monotonic() + POLL_SECONDS >= deadline:
                problems.append(f"deadline passed before {swap.replica} took over from {swap.master}")
                return actions, problems
            time.sleep(POLL_SECONDS)
    return actions, problems

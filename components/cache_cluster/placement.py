"""Pure slot and replica planning, shared by plan() and the post-deploy hook."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .spec import SLOT_COUNT


@dataclass(frozen=True, order=True)
class SlotRange:
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"

    @property
    def size(self) -> int:
        return self.end - self.start + 1


def even_slot_ranges(masters: int) -> tuple[SlotRange, ...]:
    """Split the 16384 hash slots into `masters` contiguous ranges whose sizes differ by at most one."""
    if masters < 1:
        raise ValueError("at least one master is needed to hold slots")
    return tuple(
        SlotRange(index * SLOT_COUNT // masters, (index + 1) * SLOT_COUNT // masters - 1) for index in range(masters)
    )


@dataclass(frozen=True)
class ReplicaAssignment:
    master_of: Mapping[str, str]
    # Replicas that had to share a failure domain with their master because no other master was left.
    colocated: tuple[str, ...]


def assign_replicas(
    masters: Sequence[str],
    replicas: Sequence[str],
    failure_domain: Mapping[str, str | None] | None = None,
) -> ReplicaAssignment:
    """Spread replicas evenly over masters, never next to their master when failure domains are known.

    Each master offers one seat per round (round 1: one replica each, round 2: a second, ...). Replicas are
    matched to seats by bipartite matching (augmenting paths), round by round, so every master gets its first
    replica before any gets a second, and a balanced placement that keeps every replica out of its master's
    failure domain is found whenever one exists; a greedy pass misses it in common layouts (three hosts, each
    with one master and one replica). Unknown domains never conflict, and with no domains this is round robin:
    replica k follows master k mod len(masters). Replicas no seat can take go to the least-loaded master in
    another domain, and only when there is none to one in the same domain (reported as `colocated`).
    """
    if not masters:
        raise ValueError("replicas need at least one master")
    domains = failure_domain or {}
    rounds = -(-len(replicas) // len(masters))
    seats = [master for _ in range(rounds) for master in masters][: len(replicas)]
    holder: dict[int, str] = {}  # seat index -> replica

    def seat(replica: str, usable: int, visited: set[int]) -> bool:
        allowed = [index for index in range(usable) if not _same_domain(domains, seats[index], replica)]
        for index in allowed:  # a free seat first: keeps round robin where nothing conflicts
            if index not in holder:
                holder[index] = replica
                return True
        for index in allowed:
            if index not in visited:
                visited.add(index)
                if seat(holder[index], usable, visited):
                    holder[index] = replica
                    return True
        return False

    for usable in range(len(masters), len(seats) + len(masters), len(masters)):
        seated = set(holder.values())
        for replica in replicas:
            if replica not in seated and seat(replica, min(usable, len(seats)), set()):
                seated.add(replica)
    master_of = {replica: seats[index] for index, replica in holder.items()}
    load = dict.fromkeys(masters, 0)
    for master in master_of.values():
        load[master] += 1
    colocated: list[str] = []
    for replica in replicas:
        if replica in master_of:
            continue
        elsewhere = [master for master in masters if not _same_domain(domains, master, replica)]
        chosen = min(elsewhere or masters, key=lambda master: load[master])
        if not elsewhere:
            colocated.append(replica)
        master_of[replica] = chosen
        load[chosen] += 1
    return ReplicaAssignment(
        master_of={replica: master_of[replica] for replica in replicas}, colocated=tuple(colocated)
    )


def _same_domain(domains: Mapping[str, str | None], first: str, second: str) -> bool:
    first_domain, second_domain = domains.get(first), domains.get(second)
    return first_domain is not None and first_domain == second_domain

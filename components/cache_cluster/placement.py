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

    Replicas are taken in order; each goes to the master with the fewest replicas so far whose failure domain
    differs from its own (unknown domains never conflict), the earliest such master on ties. With no domains
    given this is round robin: replica k follows master k mod len(masters).
    """
    if not masters:
        raise ValueError("replicas need at least one master")
    domains = failure_domain or {}
    load = dict.fromkeys(masters, 0)
    master_of: dict[str, str] = {}
    colocated: list[str] = []
    for replica in replicas:
        fewest = min(load.values())
        balanced = [master for master in masters if load[master] == fewest]
        elsewhere = [master for master in balanced if not _same_domain(domains, master, replica)]
        if not elsewhere:
            # Balance first; then any master in another domain, even if it gets one replica more.
            elsewhere = [master for master in masters if not _same_domain(domains, master, replica)]
            elsewhere.sort(key=lambda master: load[master])
        if elsewhere:
            chosen = elsewhere[0]
        else:
            chosen = balanced[0]
            colocated.append(replica)
        master_of[replica] = chosen
        load[chosen] += 1
    return ReplicaAssignment(master_of=master_of, colocated=tuple(colocated))


def _same_domain(domains: Mapping[str, str | None], first: str, second: str) -> bool:
    first_domain, second_domain = domains.get(first), domains.get(second)
    return first_domain is not None and first_domain == second_domain

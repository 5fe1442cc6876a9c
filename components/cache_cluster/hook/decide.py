"""State -> decision. Pure: no I/O, so every rule is unit-tested without servers.

The hook only ever adds: slots nobody owns and nobody holds keys for, empty nodes as replicas, and the
forgetting of a dead node ID whose hostname a new node now holds. Anything else that is not as the spec
describes is refused with what was found and what a person should do; nothing here resets or empties a node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from ..placement import SlotRange, assign_replicas, even_slot_ranges
from .inspect import NodeEntry, NodeState, ranges_of, slots_in, uncovered_slots

Kind = Literal["nothing", "create", "heal", "refuse", "wait"]


@dataclass(frozen=True)
class Finding:
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.what}; fix: {self.fix}" if self.fix else self.what


@dataclass(frozen=True)
class Forget:
    node_id: str
    hostname: str
    replaced_by: str  # the address of the new node that now holds the hostname


@dataclass(frozen=True)
class Decision:
    kind: Kind
    summary: str
    findings: tuple[Finding, ...] = ()
    # Endpoint address -> slot ranges to add (ADDSLOTSRANGE on that node).
    add_slots: Mapping[str, tuple[SlotRange, ...]] = field(default_factory=dict)
    # Endpoint address -> config epoch, set on fresh nodes before they meet (avoids epoch-collision rounds).
    epochs: Mapping[str, int] = field(default_factory=dict)
    # Endpoint addresses to bring into the cluster with CLUSTER MEET.
    meet: tuple[str, ...] = ()
    # Replica endpoint address -> master node ID.
    replicate: Mapping[str, str] = field(default_factory=dict)
    forget: tuple[Forget, ...] = ()
    # Replicas that share a failure domain with their master because no other placement was possible.
    colocated: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return bool(self.add_slots or self.epochs or self.meet or self.replicate or self.forget)


def _refuse(summary: str, findings: Sequence[Finding]) -> Decision:
    return Decision(kind="refuse", summary=summary, findings=tuple(findings))


def _wait(summary: str, findings: Sequence[Finding]) -> Decision:
    return Decision(kind="wait", summary=summary, findings=tuple(findings))


def decide(states: Sequence[NodeState], *, masters: int, replicas_per_master: int) -> Decision:
    """What to do with these cluster nodes so that they form `masters` shards of 1 + `replicas_per_master`."""
    duplicates = _duplicate_ids(states)
    if duplicates:
        return _refuse("one node is listed under two addresses", duplicates)
    lone = [state for state in states if state.lone]
    members = [state for state in states if not state.lone]
    stray = [
        Finding(
            f"{state.endpoint.address} holds {state.dbsize} keys but is not part of the cluster",
            "if the keys matter, move them into the cluster (e.g. redis-cli --cluster import) or take the node "
            "out of the node list; if they do not, empty that node yourself and run init again (the hook "
            "never deletes data)",
        )
        for state in lone
        if not state.empty
    ]
    if stray:
        return _refuse("a node outside the cluster holds keys", stray)
    clusters = _clusters(members)
    if len(clusters) > 1:
        described = "; ".join(
            f"cluster {index + 1}: " + ", ".join(state.endpoint.address for state in group)
            for index, group in enumerate(clusters)
        )
        return _refuse(
            f"the nodes belong to {len(clusters)} different clusters",
            [
                Finding(
                    described,
                    "decide which cluster to keep; the nodes of the other one must be taken out of the node list or "
                    "emptied and reset by a person (the hook never resets a node)",
                )
            ],
        )
    overlap = _overlapping_claims(lone)
    if overlap:
        return _refuse("lone nodes claim the same slots", overlap)
    if not members:
        return _create(states, masters=masters)
    return _heal(states, members, lone, masters=masters, replicas_per_master=replicas_per_master)


def _duplicate_ids(states: Sequence[NodeState]) -> list[Finding]:
    seen: dict[str, str] = {}
    findings = []
    for state in states:
        first = seen.setdefault(state.node_id, state.endpoint.address)
        if first != state.endpoint.address:
            findings.append(
                Finding(
                    f"{first} and {state.endpoint.address} are the same node ({state.node_id})",
                    "list each node once; check the address map",
                )
            )
    return findings


def _clusters(members: Sequence[NodeState]) -> list[list[NodeState]]:
    """Group nodes that know each other (directly or through a common member) into clusters."""
    parent = {state.node_id: state.node_id for state in members}

    def root(node_id: str) -> str:
        while parent[node_id] != node_id:
            parent[node_id] = parent[parent[node_id]]
            node_id = parent[node_id]
        return node_id

    for state in members:
        for known in state.known_ids():
            if known in parent:
                parent[root(known)] = root(state.node_id)
    groups: dict[str, list[NodeState]] = {}
    for state in members:
        groups.setdefault(root(state.node_id), []).append(state)
    return list(groups.values())


def _overlapping_claims(lone: Sequence[NodeState]) -> list[Finding]:
    owner: dict[int, str] = {}
    findings = []
    for state in lone:
        for slot in slots_in(state.myself.slots):
            first = owner.setdefault(slot, state.endpoint.address)
            if first != state.endpoint.address:
                findings.append(
                    Finding(
                        f"{first} and {state.endpoint.address} both claim slot {slot} (and maybe more) without "
                        "knowing each other",
                        "a person must decide which node keeps those slots (CLUSTER DELSLOTSRANGE on the other)",
                    )
                )
                return findings
    return findings


def _split(slots: set[int], parts: int) -> list[tuple[SlotRange, ...]]:
    """`slots` in `parts` runs of nearly equal size, each as contiguous ranges."""
    ordered = sorted(slots)
    cuts = [index * len(ordered) // parts for index in range(parts + 1)]
    return [ranges_of(ordered[cuts[index] : cuts[index + 1]]) for index in range(parts)]


def _domains(states: Sequence[NodeState]) -> dict[str, str | None]:
    return {state.endpoint.address: state.endpoint.failure_domain for state in states}


def _create(states: Sequence[NodeState], *, masters: int) -> Decision:
    """Every node empty and alone. Masters are the first `masters` nodes, or the ones that already claim slots
    (a create that was interrupted after ADDSLOTSRANGE resumes instead of failing)."""
    claimants = [state for state in states if state.myself.slots]
    if len(claimants) > masters:
        return _refuse(
            "more nodes claim slots than the spec has masters",
            [
                Finding(
                    f"{len(claimants)} lone nodes hold slots ({', '.join(s.endpoint.address for s in claimants)}) "
                    f"but the spec has {masters} masters",
                    "check the topology (masters / replicas) or the node list",
                )
            ],
        )
    chosen = claimants + [state for state in states if state not in claimants][: masters - len(claimants)]
    # Keep the node-list order: it is the order of the plan (redis-node-1 is master 1).
    chosen.sort(key=lambda state: states.index(state))
    add_slots: dict[str, tuple[SlotRange, ...]] = {}
    if not claimants:
        for state, slot_range in zip(chosen, even_slot_ranges(masters), strict=True):
            add_slots[state.endpoint.address] = (slot_range,)
    else:
        missing = uncovered_slots(states)
        without = [state for state in chosen if not state.myself.slots]
        receivers = without or [min(claimants, key=lambda state: state.myself.slot_count)]
        if missing:
            for state, ranges in zip(receivers, _split(missing, len(receivers)), strict=True):
                if ranges:
                    add_slots[state.endpoint.address] = ranges
    replicas = [state for state in states if state not in chosen]
    assignment = assign_replicas(
        [state.endpoint.address for state in chosen], [state.endpoint.address for state in replicas], _domains(states)
    )
    ids = {state.endpoint.address: state.node_id for state in states}
    epochs = {
        state.endpoint.address: index + 1
        for index, state in enumerate(states)
        if state.myself.config_epoch == 0 and state.cluster_info.get("cluster_current_epoch", "0") == "0"
    }
    return Decision(
        kind="create",
        summary=f"create a cluster of {len(chosen)} masters and {len(replicas)} replicas",
        add_slots=add_slots,
        epochs=epochs,
        meet=tuple(state.endpoint.address for state in states),
        replicate={replica: ids[master] for replica, master in assignment.master_of.items()},
        colocated=assignment.colocated,
    )


def _reference(members: Sequence[NodeState]) -> NodeState:
    """The member whose view the plan is built on: a master that owns slots and is ok, when there is one."""
    ranked = sorted(
        members,
        key=lambda state: (not (state.myself.is_master and state.myself.slots), not state.state_ok),
    )
    return ranked[0]


def _heal(
    states: Sequence[NodeState],
    members: Sequence[NodeState],
    lone: Sequence[NodeState],
    *,
    masters: int,
    replicas_per_master: int,
) -> Decision:
    ours = {state.node_id: state for state in states}
    holders = {state.endpoint.name: state for state in states}
    view = _reference(members)
    entries = {entry.node_id: entry for entry in view.nodes if "handshake" not in entry.flags}
    refusals: list[Finding] = []
    waits: list[Finding] = []
    notes: list[Finding] = []
    forget: list[Forget] = []
    for member in members:
        if member.node_id not in entries:
            waits.append(Finding(f"{member.endpoint.address} is still being met into the cluster"))
    for entry in entries.values():
        if entry.node_id in ours:
            if entry.flags & {"fail", "fail?", "noaddr"}:
                waits.append(
                    Finding(f"{ours[entry.node_id].endpoint.address} answers but the cluster marks it failing")
                )
            continue
        holder = holders.get(entry.hostname)
        replaced = holder is not None and holder.node_id != entry.node_id
        if entry.failed and not entry.slots and replaced and holder is not None:
            forget.append(Forget(entry.node_id, entry.hostname, holder.endpoint.address))
        elif entry.slots and (entry.failed or "fail?" in entry.flags):
            takers = [
                other
                for other in entries.values()
                if other.master_id == entry.node_id and other.node_id in ours and not other.failed
            ]
            if takers and replaced and "noaddr" in entry.flags and "fail" not in entry.flags and holder:
                # Redis never marks a noaddr node as failing, so its replica will not take over by itself.
                refusals.append(
                    Finding(
                        f"master {entry.node_id} ({entry.hostname}) was replaced by the empty node "
                        f"{holder.endpoint.address} before its replica "
                        f"{ours[takers[0].node_id].endpoint.address} took over, and Redis does not fail over a "
                        "master whose address now answers with another node ID",
                        f"promote the replica: run CLUSTER FAILOVER FORCE on {ours[takers[0].node_id].endpoint.address}"
                        ", then run init again to attach the new node",
                    )
                )
            elif takers:
                waits.append(
                    Finding(
                        f"master {entry.node_id} ({entry.announced}) is failing; its replica "
                        f"{ours[takers[0].node_id].endpoint.address} is expected to take over"
                    )
                )
            else:
                refusals.append(
                    Finding(
                        f"master {entry.node_id} ({entry.announced}) is down and owns slots "
                        f"{', '.join(map(str, entry.slots))} with no replica to take over: that shard's keys are gone "
                        "unless the node comes back",
                        "bring that node back with its data volume; if it is lost for good, a person reassigns its "
                        "slots (redis-cli --cluster fix) and accepts the loss",
                    )
                )
        elif replaced and holder is not None and not entry.failed:
            waits.append(
                Finding(
                    f"{holder.endpoint.address} is a new node using the name of {entry.node_id}; waiting for the "
                    "cluster to notice that the old node is gone"
                )
            )
        elif "fail?" in entry.flags and not entry.failed:
            waits.append(Finding(f"node {entry.node_id} ({entry.announced}) is suspected down; waiting for agreement"))
        elif entry.failed:
            notes.append(
                Finding(
                    f"node {entry.node_id} ({entry.announced}) is down and no node in the list took its name",
                    "if it is gone for good, run CLUSTER FORGET on every node (the hook only forgets replaced nodes)",
                )
            )
        else:
            refusals.append(
                Finding(
                    f"the cluster includes node {entry.node_id} ({entry.announced}), which is not in the node list",
                    "add it to the spec / --nodes, or take it out of the cluster deliberately",
                )
            )
    if refusals:
        return _refuse("the cluster is not one the hook can safely change", refusals)
    if waits:
        return _wait("the cluster is changing by itself", waits)

    forgotten = {item.node_id for item in forget}
    live = [entry for entry in entries.values() if entry.node_id not in forgotten and not entry.failed]
    cluster_masters = [entry for entry in live if entry.is_master and entry.slots]
    # Lone nodes that claim slots left over from an interrupted create join as masters with their slots.
    lone_masters = [state for state in lone if state.myself.slots]
    candidates = [state for state in lone if not state.myself.slots]
    candidates += [
        ours[entry.node_id]
        for entry in live
        if entry.is_master and not entry.slots and ours[entry.node_id].empty and not _has_replicas(entry, live)
    ]
    if len(cluster_masters) + len(lone_masters) > masters:
        return _refuse(
            "the cluster has more masters than the spec",
            [
                Finding(
                    f"{len(cluster_masters) + len(lone_masters)} masters own slots but the spec has {masters}",
                    "change the spec's topology to match, or reshard by hand (redis-cli --cluster rebalance)",
                )
            ],
        )
    for claimant in lone_masters:
        taken = set().union(*(slots_in(entry.slots) for entry in cluster_masters))
        if slots_in(claimant.myself.slots) & taken:
            return _refuse(
                "a lone node claims slots the cluster already owns",
                [
                    Finding(
                        f"{claimant.endpoint.address} claims {', '.join(map(str, claimant.myself.slots))}",
                        "a person must remove that node's claim (CLUSTER DELSLOTSRANGE) before it can join",
                    )
                ],
            )

    add_slots: dict[str, tuple[SlotRange, ...]] = {}
    master_names = [ours[entry.node_id].endpoint.address for entry in cluster_masters]
    master_ids = {ours[entry.node_id].endpoint.address: entry.node_id for entry in cluster_masters}
    for claimant in lone_masters:
        master_names.append(claimant.endpoint.address)
        master_ids[claimant.endpoint.address] = claimant.node_id
    missing = uncovered_slots(states)
    if missing:
        holding = [state for state in states if state.keys_in_uncovered_slots]
        if holding:
            return _refuse(
                f"{len(missing)} slots have no owner, but nodes hold keys in them",
                [
                    Finding(
                        f"{state.endpoint.address} holds {state.keys_in_uncovered_slots} keys in unowned slots",
                        "a person decides which master takes those slots (CLUSTER SETSLOT / redis-cli --cluster fix)",
                    )
                    for state in holding
                ],
            )
        promoted = candidates[: max(masters - len(master_names), 0)]
        if promoted:
            candidates = candidates[len(promoted) :]
            for state, ranges in zip(promoted, _split(missing, len(promoted)), strict=True):
                add_slots[state.endpoint.address] = ranges
                master_names.append(state.endpoint.address)
                master_ids[state.endpoint.address] = state.node_id
        elif master_names:
            load = {name: 0 for name in master_names}
            for entry in cluster_masters:
                load[ours[entry.node_id].endpoint.address] = entry.slot_count
            receiver = min(master_names, key=lambda name: load[name])
            add_slots[receiver] = ranges_of(missing)
    if len(master_names) != masters:
        return _refuse(
            "the cluster's shards do not match the spec",
            [
                Finding(
                    f"the cluster has {len(master_names)} masters owning slots, the spec has {masters}",
                    "moving slots between masters moves keys; a person does that with redis-cli --cluster "
                    "add-node / rebalance, or changes the spec to match",
                )
            ],
        )
    replica_count = {name: 0 for name in master_names}
    for entry in live:
        if entry.is_replica and entry.master_id is not None:
            for name, node_id in master_ids.items():
                if node_id == entry.master_id:
                    replica_count[name] += 1
    lacking = [name for name in master_names if replica_count[name] < replicas_per_master]
    assignment = assign_replicas(
        lacking or master_names, [state.endpoint.address for state in candidates], _domains(states)
    )
    replicate = {replica: master_ids[master] for replica, master in assignment.master_of.items()}
    meet = tuple(state.endpoint.address for state in lone)
    decision = Decision(
        kind="heal",
        summary="",
        findings=tuple(notes),
        add_slots=add_slots,
        meet=meet,
        replicate=replicate,
        forget=tuple(forget),
        colocated=assignment.colocated,
    )
    if not decision.changes:
        return Decision(kind="nothing", summary="the cluster is formed; nothing to do", findings=tuple(notes))
    parts = []
    if forget:
        parts.append(f"forget {len(forget)} replaced node ID(s)")
    if meet:
        parts.append(f"meet {len(meet)} new node(s)")
    if replicate:
        parts.append(f"attach {len(replicate)} replica(s)")
    if add_slots:
        parts.append(f"assign {sum(r.size for ranges in add_slots.values() for r in ranges)} unowned slots")
    return replace(decision, summary="heal: " + ", ".join(parts))


def _has_replicas(master: NodeEntry, live: Sequence[NodeEntry]) -> bool:
    return any(entry.master_id == master.node_id for entry in live)


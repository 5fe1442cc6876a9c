"""State -> decision. Pure: no I/O, so every rule is unit-tested without servers.

The hook only ever adds: slots nobody owns and nobody holds keys for, empty nodes as replicas, and the
forgetting of a dead node ID whose hostname a new node now holds. The one thing it takes away is a stale slot
claim of a lone leftover: a node that holds no keys and knows no other node, but still claims slots the cluster
serves (its claims exist only in its own cluster config file). Anything else that is not as the spec describes
is refused with what was found and what a person should do; nothing here resets or empties a node.

Create: every node is empty and alone; pick the masters, then plan. Heal: `judge` classifies every node (of the
cluster's view, and our lone nodes), then `_plan_heal` turns the verdicts into changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    # Lone, empty leftover's address -> its own stale claims to drop (DELSLOTSRANGE) before it is met.
    release: Mapping[str, tuple[SlotRange, ...]] = field(default_factory=dict)
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
        return bool(self.add_slots or self.release or self.epochs or self.meet or self.replicate or self.forget)


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
    ordered, count = sorted(slots), len(slots)
    return [ranges_of(ordered[index * count // parts : (index + 1) * count // parts]) for index in range(parts)]


def _domains(states: Sequence[NodeState]) -> dict[str, str | None]:
    return {state.endpoint.address: state.endpoint.failure_domain for state in states}


def _create(states: Sequence[NodeState], *, masters: int) -> Decision:
    """Every node empty and alone. Masters are the first `masters` nodes, or the ones that already claim slots
    (a create that was interrupted after ADDSLOTSRANGE resumes instead of failing)."""
    if len(states) < masters:
        return _refuse(
            f"{len(states)} nodes cannot form {masters} masters",
            [
                Finding(
                    f"the node list has {len(states)} nodes; a cluster of {masters} masters needs at least {masters}",
                    "list every node of the topology (masters x (1 + replicas)), or lower the number of masters",
                )
            ],
        )
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


# ------------------------------------------------------------------------------------------------ heal: classify
Verdict = Literal["member", "spare", "forget", "note", "wait", "refuse", "newcomer", "leftover", "claimant"]


@dataclass(frozen=True)
class Judgement:
    """What one node is: a node of the cluster's view, one of our members, or one of our lone nodes."""

    verdict: Verdict
    finding: Finding | None = None
    forget: Forget | None = None
    # The node a plan may change: an empty member master without slots or replicas (spare), or a lone node.
    node: NodeState | None = None


@dataclass(frozen=True)
class ClusterView:
    """The cluster as one member sees it, with our nodes looked up by node ID and by announced hostname."""

    entries: Mapping[str, NodeEntry]  # node ID -> entry; nodes still in handshake are left out
    ours: Mapping[str, NodeState]
    holders: Mapping[str, NodeState]

    def name(self, entry: NodeEntry) -> str:
        state = self.ours.get(entry.node_id)
        return state.endpoint.address if state is not None else entry.announced


def _reference(members: Sequence[NodeState]) -> NodeState:
    """The member whose view the plan is built on: a master that owns slots and is ok, when there is one."""
    ranked = sorted(
        members,
        key=lambda state: (not (state.myself.is_master and state.myself.slots), not state.state_ok),
    )
    return ranked[0]


def cluster_view(states: Sequence[NodeState], members: Sequence[NodeState]) -> ClusterView:
    view = _reference(members)
    return ClusterView(
        entries={entry.node_id: entry for entry in view.nodes if "handshake" not in entry.flags},
        ours={state.node_id: state for state in states},
        holders={state.endpoint.name: state for state in states},
    )


def judge(view: ClusterView, members: Sequence[NodeState], lone: Sequence[NodeState]) -> list[Judgement]:
    """Classify every node: our members the cluster does not list yet, every node the cluster lists, and our
    lone nodes. `_plan_heal` turns the verdicts into changes."""
    judged = [
        Judgement("wait", Finding(f"{member.endpoint.address} is still being met into the cluster"))
        for member in members
        if member.node_id not in view.entries
    ]
    judged += [_judge_entry(entry, view) for entry in view.entries.values()]
    judged += [_judge_lone(state, view) for state in lone]
    return judged


def _judge_entry(entry: NodeEntry, view: ClusterView) -> Judgement:
    ours = view.ours.get(entry.node_id)
    if ours is not None:
        if entry.suspect:
            return Judgement("wait", Finding(f"{ours.endpoint.address} answers but the cluster marks it failing"))
        if entry.is_master and not entry.slots and not ours.empty:
            if not ours.myself.is_master or ours.myself.slots:
                # The node's own view differs from the cluster's (a failover or slot change still spreading by
                # gossip): what it is will be clear on the next look.
                return Judgement(
                    "wait",
                    Finding(
                        f"{ours.endpoint.address} is a master without slots in the cluster's view but not in its "
                        "own; waiting for the views to agree"
                    ),
                )
            return Judgement(
                "refuse",
                Finding(
                    f"{ours.endpoint.address} is a master that owns no slots but holds {ours.dbsize} keys: keys in "
                    "slots other masters serve, or a slot migration in progress",
                    "finish or undo the migration (redis-cli --cluster fix), or move or drop those keys, then run "
                    "init again to attach it as a replica (the hook never changes a node that holds such keys)",
                ),
            )
        if entry.is_master and not entry.slots and not _has_replicas(entry, view.entries.values()):
            return Judgement("spare", node=ours)
        return Judgement("member")
    # One of our nodes announces this entry's hostname under another node ID: the entry's node was replaced.
    holder = view.holders.get(entry.hostname)
    if entry.slots and (entry.failed or "fail?" in entry.flags):
        return _judge_failing_master(entry, view, holder)
    if entry.failed and holder is not None:
        return Judgement("forget", forget=Forget(entry.node_id, entry.hostname, holder.endpoint.address))
    if holder is not None:
        return Judgement(
            "wait",
            Finding(
                f"{holder.endpoint.address} is a new node using the name of {entry.node_id}; waiting for the "
                "cluster to notice that the old node is gone"
            ),
        )
    if "fail?" in entry.flags and not entry.failed:
        return Judgement(
            "wait", Finding(f"node {entry.node_id} ({entry.announced}) is suspected down; waiting for agreement")
        )
    if entry.failed:
        return Judgement(
            "note",
            Finding(
                f"node {entry.node_id} ({entry.announced}) is down and no node in the list took its name",
                "if it is gone for good, run CLUSTER FORGET on every node (the hook only forgets replaced nodes)",
            ),
        )
    return Judgement(
        "refuse",
        Finding(
            f"the cluster includes node {entry.node_id} ({entry.announced}), which is not in the node list",
            "add it to the spec / --nodes, or take it out of the cluster deliberately",
        ),
    )


def _judge_failing_master(entry: NodeEntry, view: ClusterView, holder: NodeState | None) -> Judgement:
    takers = [
        view.ours[other.node_id].endpoint.address
        for other in view.entries.values()
        if other.master_id == entry.node_id and other.node_id in view.ours and not other.failed
    ]
    if not takers:
        return Judgement(
            "refuse",
            Finding(
                f"master {entry.node_id} ({entry.announced}) is down and owns slots "
                f"{', '.join(map(str, entry.slots))} with no replica to take over: that shard's keys are gone "
                "unless the node comes back",
                "bring that node back with its data volume; if it is lost for good, a person reassigns its "
                "slots (redis-cli --cluster fix) and accepts the loss",
            ),
        )
    if holder is not None and "noaddr" in entry.flags and "fail" not in entry.flags:
        # Redis never marks a noaddr node as failing, so its replica will not take over by itself.
        return Judgement(
            "refuse",
            Finding(
                f"master {entry.node_id} ({entry.hostname}) was replaced by the empty node "
                f"{holder.endpoint.address} before its replica {takers[0]} took over, and Redis does not fail "
                "over a master whose address now answers with another node ID",
                f"promote the replica: run CLUSTER FAILOVER FORCE on {takers[0]}, then run init again to attach "
                "the new node",
            ),
        )
    return Judgement(
        "wait",
        Finding(
            f"master {entry.node_id} ({entry.announced}) is failing; its replica {takers[0]} is expected to take over"
        ),
    )


def _judge_lone(state: NodeState, view: ClusterView) -> Judgement:
    """A lone node here is empty (one with keys was refused before). What its slot claims, if any, mean."""
    claims = slots_in(state.myself.slots)
    if not claims:
        return Judgement("newcomer", node=state)
    owners = [entry for entry in view.entries.values() if entry.slots and claims & slots_in(entry.slots)]
    if not owners:
        # Claims nobody in the cluster serves: a create interrupted after ADDSLOTSRANGE. It joins as a master.
        return Judgement("claimant", node=state)
    served = set().union(*(slots_in(entry.slots) for entry in owners)) & claims
    address, shown = state.endpoint.address, ", ".join(map(str, state.myself.slots))
    serving = ", ".join(view.name(entry) for entry in owners)
    if served == claims:
        # Safe to drop: the node holds no keys and knows no other node, so its claims exist only in its own
        # cluster config file and no client can depend on them. Met as it is, its claims could win over the cluster's
        # (a higher config epoch) and make the serving master drop those slots' keys.
        return Judgement(
            "leftover",
            Finding(
                f"{address} is a lone leftover: no keys, in no cluster, but it still claims slots {shown}, which "
                f"{serving} serve(s)",
                "the hook drops that node's own claims (CLUSTER DELSLOTSRANGE on it alone, after checking again "
                "that it holds no keys and knows no other node), then joins it as an empty node",
            ),
            node=state,
        )
    return Judgement(
        "refuse",
        Finding(
            f"{address} is a lone leftover: no keys, in no cluster, but it claims slots {shown}: "
            f"{len(served)} of them served by {serving}, {len(claims - served)} served by no cluster node",
            f"drop its claims with CLUSTER DELSLOTSRANGE {_bounds(state.myself.slots)} on {address} (it holds no "
            "keys: nothing is lost), then run init again; the slots nobody serves are then assigned as usual",
        ),
    )


def _bounds(ranges: Sequence[SlotRange]) -> str:
    return " ".join(f"{slot_range.start} {slot_range.end}" for slot_range in ranges)


# ------------------------------------------------------------------------------------------------ heal: plan
def _heal(
    states: Sequence[NodeState],
    members: Sequence[NodeState],
    lone: Sequence[NodeState],
    *,
    masters: int,
    replicas_per_master: int,
) -> Decision:
    view = cluster_view(states, members)
    judged = judge(view, members, lone)
    refusals = [item.finding for item in judged if item.verdict == "refuse" and item.finding]
    if refusals:
        return _refuse("the cluster is not one the hook can safely change", refusals)
    waits = [item.finding for item in judged if item.verdict == "wait" and item.finding]
    if waits:
        return _wait("the cluster is changing by itself", waits)
    return _plan_heal(states, view, judged, masters=masters, replicas_per_master=replicas_per_master)


def _plan_heal(
    states: Sequence[NodeState],
    view: ClusterView,
    judged: Sequence[Judgement],
    *,
    masters: int,
    replicas_per_master: int,
) -> Decision:
    """Turn verdicts without a refusal or a wait into changes. Every failed entry left is one to forget or a
    note (failing masters that own slots were a wait or a refusal), and every live one is ours."""
    ours = view.ours
    forget = tuple(item.forget for item in judged if item.forget is not None)
    # Refusals and waits ended the run before: the findings left are notes (a node down, a leftover released).
    notes = tuple(item.finding for item in judged if item.finding is not None)

    def nodes(*verdicts: Verdict) -> list[NodeState]:
        return [item.node for item in judged if item.verdict in verdicts and item.node is not None]

    live = [entry for entry in view.entries.values() if not entry.failed]
    cluster_masters = [entry for entry in live if entry.is_master and entry.slots]
    # Lone nodes that claim slots left over from an interrupted create join as masters with their slots.
    lone_masters = nodes("claimant")
    release = {state.endpoint.address: state.myself.slots for state in nodes("leftover")}
    # Lone nodes first (in node-list order), then spare members: the order the plan promotes and attaches them.
    candidates = nodes("newcomer", "leftover") + nodes("spare")
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

    add_slots: dict[str, tuple[SlotRange, ...]] = {}
    master_ids = {ours[entry.node_id].endpoint.address: entry.node_id for entry in cluster_masters}
    master_ids.update({claimant.endpoint.address: claimant.node_id for claimant in lone_masters})
    master_names = list(master_ids)
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
            load = {ours[entry.node_id].endpoint.address: entry.slot_count for entry in cluster_masters}
            load.update({claimant.endpoint.address: claimant.myself.slot_count for claimant in lone_masters})
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
    replica_count = dict.fromkeys(master_names, 0)
    name_of = {node_id: name for name, node_id in master_ids.items()}
    for entry in live:
        if entry.is_replica and entry.master_id in name_of:
            replica_count[name_of[entry.master_id]] += 1
    lacking = [name for name in master_names if replica_count[name] < replicas_per_master]
    assignment = assign_replicas(
        lacking or master_names, [state.endpoint.address for state in candidates], _domains(states)
    )
    meet = tuple(state.endpoint.address for state in nodes("newcomer", "leftover", "claimant"))
    replicate = {replica: master_ids[master] for replica, master in assignment.master_of.items()}
    parts = []
    if forget:
        parts.append(f"forget {len(forget)} replaced node ID(s)")
    if release:
        parts.append(f"drop the stale slot claims of {len(release)} lone empty node(s)")
    if meet:
        parts.append(f"meet {len(meet)} new node(s)")
    if replicate:
        parts.append(f"attach {len(replicate)} replica(s)")
    if add_slots:
        parts.append(f"assign {sum(r.size for ranges in add_slots.values() for r in ranges)} unowned slots")
    if not parts:
        return Decision(kind="nothing", summary="the cluster is formed; nothing to do", findings=notes)
    return Decision(
        kind="heal",
        summary="heal: " + ", ".join(parts),
        findings=notes,
        add_slots=add_slots,
        release=release,
        meet=meet,
        replicate=replicate,
        forget=forget,
        colocated=assignment.colocated,
    )


def _has_replicas(master: NodeEntry, entries: Iterable[NodeEntry]) -> bool:
    return any(entry.master_id == master.node_id and not entry.failed for entry in entries)

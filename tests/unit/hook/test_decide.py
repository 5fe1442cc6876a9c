"""decide on constructed cluster states: every branch, with the exact decision and message.

Each refusal and wait says what was found and what a person should do; the tests hold the words, because a
wrong diagnosis (issue 13: an empty leftover called "4 masters ... reshard by hand") sends a person to the
wrong fix.
"""

from __future__ import annotations

from dataclasses import replace

from cache_cluster.hook.decide import Decision, Finding, Forget, decide
from cache_cluster.hook.inspect import NodeState
from cache_cluster.placement import SlotRange

from .states import SLOTS, address, formed, formed_lines, line, lone, nid, same_id_as, state, views

THREE_BY_ONE = {"masters": 3, "replicas_per_master": 1}


# ------------------------------------------------------------------------------------------------ before any cluster
def test_refuse_one_node_listed_under_two_addresses() -> None:
    states = [lone(1), lone(2), same_id_as(lone(1), 7)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="one node is listed under two addresses",
        findings=(
            Finding(
                f"redis-node-1:7001 and redis-node-7:7007 are the same node ({nid(1)})",
                "list each node once; check the address map",
            ),
        ),
    )


STRAY_FIX = (
    "if the keys matter, move them into the cluster (e.g. redis-cli --cluster import) or take the node out of the "
    "node list; if they do not, empty that node yourself and run init again (the hook never deletes data)"
)


def test_refuse_lone_node_with_keys_before_create() -> None:
    states = [lone(i) for i in range(1, 6)] + [lone(6, dbsize=3)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="a node outside the cluster holds keys",
        findings=(Finding("redis-node-6:7006 holds 3 keys but is not part of the cluster", STRAY_FIX),),
    )


def test_refuse_lone_node_with_keys_beside_a_cluster_even_when_it_claims_served_slots() -> None:
    # Keys on a lone node are never a "leftover": its claims are not dropped, whatever they overlap.
    states = [*formed()[:5], lone(6, slots="0-2", dbsize=1)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="a node outside the cluster holds keys",
        findings=(Finding("redis-node-6:7006 holds 1 keys but is not part of the cluster", STRAY_FIX),),
    )


def test_refuse_two_clusters() -> None:
    first = [line(i, slots=SLOTS[i - 1]) for i in (1, 2, 3)]
    second = [line(i, slots=SLOTS[i - 4]) for i in (4, 5, 6)]
    states = views([1, 2, 3], first) + views([4, 5, 6], second)
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the nodes belong to 2 different clusters",
        findings=(
            Finding(
                "cluster 1: redis-node-1:7001, redis-node-2:7002, redis-node-3:7003; "
                "cluster 2: redis-node-4:7004, redis-node-5:7005, redis-node-6:7006",
                "decide which cluster to keep; the nodes of the other one must be taken out of the node list or "
                "emptied and reset by a person (the hook never resets a node)",
            ),
        ),
    )


def test_nodes_that_know_each_other_through_a_third_are_one_cluster() -> None:
    # 1 knows 2, 3 knows 2: one cluster even though 1 and 3 have not met yet (still forming).
    states = [
        state(1, [line(1, slots=SLOTS[0]), line(2, slots=SLOTS[1])]),
        state(2, [line(2, slots=SLOTS[1]), line(1, slots=SLOTS[0]), line(3, slots=SLOTS[2])]),
        state(3, [line(3, slots=SLOTS[2]), line(2, slots=SLOTS[1])]),
    ]
    assert decide(states, masters=3, replicas_per_master=0) == wait(
        "redis-node-3:7003 is still being met into the cluster"
    )


def test_refuse_lone_nodes_claiming_the_same_slots() -> None:
    states = [lone(1, slots="0-100"), lone(2, slots="50-200"), lone(3, slots="150-300")]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="lone nodes claim the same slots",
        findings=(
            Finding(
                "redis-node-1:7001 and redis-node-2:7002 both claim slot 50 (and maybe more) without knowing each "
                "other",
                "a person must decide which node keeps those slots (CLUSTER DELSLOTSRANGE on the other)",
            ),
        ),
    )


# ------------------------------------------------------------------------------------------------ create
def test_refuse_create_with_fewer_nodes_than_masters() -> None:
    # Found by the property test: two lone nodes for three masters crashed the slot split instead of refusing.
    assert decide([lone(1), lone(2)], **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="2 nodes cannot form 3 masters",
        findings=(
            Finding(
                "the node list has 2 nodes; a cluster of 3 masters needs at least 3",
                "list every node of the topology (masters x (1 + replicas)), or lower the number of masters",
            ),
        ),
    )


def test_create_when_all_lone_and_empty() -> None:
    assert decide([lone(i) for i in range(1, 7)], **THREE_BY_ONE) == Decision(
        kind="create",
        summary="create a cluster of 3 masters and 3 replicas",
        add_slots={
            address(1): (SlotRange(0, 5460),),
            address(2): (SlotRange(5461, 10921),),
            address(3): (SlotRange(10922, 16383),),
        },
        epochs={address(i): i for i in range(1, 7)},
        meet=tuple(address(i) for i in range(1, 7)),
        replicate={address(4): nid(1), address(5): nid(2), address(6): nid(3)},
    )


def test_create_gives_epochs_only_to_fresh_nodes() -> None:
    # Node 2 already has a config epoch (a create interrupted after SET-CONFIG-EPOCH): it keeps it.
    states = [lone(1), lone(2, epoch=7), lone(3)]
    decision = decide(states, masters=3, replicas_per_master=0)
    assert decision.epochs == {address(1): 1, address(3): 3}


def test_create_places_replicas_in_other_failure_domains() -> None:
    domains = {1: "a", 2: "b", 3: "c", 4: "a", 5: "b", 6: "c"}
    decision = decide([lone(i, domain=domains[i]) for i in range(1, 7)], **THREE_BY_ONE)
    # Round robin would put 4 beside 1, 5 beside 2, 6 beside 3; each goes to another host instead.
    assert decision.replicate == {address(4): nid(2), address(5): nid(3), address(6): nid(1)}
    assert decision.colocated == ()


def test_create_reports_replicas_that_must_share_their_masters_host() -> None:
    decision = decide([lone(i, domain="only-host") for i in range(1, 7)], **THREE_BY_ONE)
    assert decision.replicate == {address(4): nid(1), address(5): nid(2), address(6): nid(3)}
    assert decision.colocated == (address(4), address(5), address(6))


def test_create_resumes_after_an_interrupted_run() -> None:
    states = [lone(1, slots="0-5460"), lone(2, slots="5461-10921")] + [lone(i) for i in range(3, 7)]
    decision = decide(states, **THREE_BY_ONE)
    assert decision.kind == "create"
    assert decision.add_slots == {address(3): (SlotRange(10922, 16383),)}
    assert decision.replicate == {address(4): nid(1), address(5): nid(2), address(6): nid(3)}


def test_create_resume_splits_the_missing_slots_over_the_masters_without_slots() -> None:
    states = [lone(1, slots="0-5460")] + [lone(i) for i in range(2, 7)]
    decision = decide(states, **THREE_BY_ONE)
    assert decision.add_slots == {address(2): (SlotRange(5461, 10921),), address(3): (SlotRange(10922, 16383),)}


def test_create_resume_gives_the_gaps_to_the_smallest_claimant_when_all_masters_claim() -> None:
    states = [lone(1, slots="0-8000"), lone(2, slots="8001-12000"), lone(3, slots="12001-16000"), lone(4)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.add_slots == {address(2): (SlotRange(16001, 16383),)}
    assert decision.replicate == {address(4): nid(1)}


def test_refuse_create_when_more_lone_nodes_claim_slots_than_the_spec_has_masters() -> None:
    claims = ["0-99", "100-199", "200-299", "300-399"]
    states = [lone(i + 1, slots=claim) for i, claim in enumerate(claims)] + [lone(5), lone(6)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="more nodes claim slots than the spec has masters",
        findings=(
            Finding(
                "4 lone nodes hold slots (redis-node-1:7001, redis-node-2:7002, redis-node-3:7003, redis-node-4:7004) "
                "but the spec has 3 masters",
                "check the topology (masters / replicas) or the node list",
            ),
        ),
    )


def test_nine_and_twelve_nodes() -> None:
    nine = decide([lone(i) for i in range(1, 10)], masters=3, replicas_per_master=2)
    assert nine.replicate == {
        address(4): nid(1), address(5): nid(2), address(6): nid(3),
        address(7): nid(1), address(8): nid(2), address(9): nid(3),
    }
    twelve = decide([lone(i) for i in range(1, 13)], masters=4, replicas_per_master=2)
    assert twelve.add_slots == {
        address(1): (SlotRange(0, 4095),),
        address(2): (SlotRange(4096, 8191),),
        address(3): (SlotRange(8192, 12287),),
        address(4): (SlotRange(12288, 16383),),
    }
    assert sorted(twelve.replicate.values()) == sorted([nid(1), nid(2), nid(3), nid(4)] * 2)


# ------------------------------------------------------------------------------------------------ nothing
def test_nothing_to_do_on_a_formed_cluster() -> None:
    assert decide(formed(), **THREE_BY_ONE) == Decision(kind="nothing", summary="the cluster is formed; nothing to do")


def test_plan_reads_the_view_of_an_ok_master_with_slots() -> None:
    # A replica and a failing master still see node 6 in handshake; the ok master 2 sees it met. The plan
    # follows master 2, whichever order the nodes come in.
    lines = formed_lines()
    behind = [*lines[:5], line(6, flags="slave,handshake", master=3)]
    states = [
        state(4, behind, cluster_state="ok", link_status="up"),
        state(1, behind, cluster_state="fail"),
        *views([2, 3], lines),
        state(5, lines, cluster_state="ok", link_status="up"),
        state(6, lines, cluster_state="ok", link_status="up"),
    ]
    assert decide(states, **THREE_BY_ONE).kind == "nothing"


def test_a_node_down_that_nobody_replaced_is_a_note_not_a_change() -> None:
    lines = [*formed_lines(), line(16, flags="slave,fail", master=1, hostname="redis-node-16", link="disconnected")]
    assert decide(formed(lines=lines), **THREE_BY_ONE) == Decision(
        kind="nothing",
        summary="the cluster is formed; nothing to do",
        findings=(
            Finding(
                f"node {nid(16)} (redis-node-16:7016) is down and no node in the list took its name",
                "if it is gone for good, run CLUSTER FORGET on every node (the hook only forgets replaced nodes)",
            ),
        ),
    )


# ------------------------------------------------------------------------------------------------ heal
def replaced_replica_lines() -> list[str]:
    """Node 6's old ID (16) flagged noaddr: the container was replaced by an empty one, which is lone."""
    lines = formed_lines()
    lines[5] = line(16, flags="slave,fail,noaddr", master=3, hostname="redis-node-6", address=":0@0",
                    link="disconnected")
    return lines


def test_heal_replaced_replica_forgets_meets_and_attaches() -> None:
    states = [*formed(lines=replaced_replica_lines())[:5], lone(6)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal",
        summary="heal: forget 1 replaced node ID(s), meet 1 new node(s), attach 1 replica(s)",
        meet=(address(6),),
        replicate={address(6): nid(3)},
        forget=(Forget(nid(16), "redis-node-6", address(6)),),
    )


def test_heal_a_lone_empty_leftover_that_claims_served_slots_by_dropping_its_claims() -> None:
    """Issue 13: the replaced node 6 is empty and alone but still claims 0-2, which node 1 serves."""
    states = [*formed(lines=replaced_replica_lines())[:5], lone(6, slots="0-2")]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal",
        summary="heal: forget 1 replaced node ID(s), drop the stale slot claims of 1 lone empty node(s), meet 1 new "
        "node(s), attach 1 replica(s)",
        findings=(
            Finding(
                "redis-node-6:7006 is a lone leftover: no keys, in no cluster, but it still claims slots 0-2, which "
                "redis-node-1:7001 serve(s)",
                "the hook drops that node's own claims (CLUSTER DELSLOTSRANGE on it alone, after checking again "
                "that it holds no keys and knows no other node), then joins it as an empty node",
            ),
        ),
        release={address(6): (SlotRange(0, 2),)},
        meet=(address(6),),
        replicate={address(6): nid(3)},
        forget=(Forget(nid(16), "redis-node-6", address(6)),),
    )


def test_leftover_claims_across_two_masters_name_both() -> None:
    states = [*formed()[:5], lone(6, slots="5000-6000")]
    decision = decide(states, **THREE_BY_ONE)
    assert decision.release == {address(6): (SlotRange(5000, 6000),)}
    assert decision.findings[0].what.endswith("which redis-node-1:7001, redis-node-2:7002 serve(s)")


def test_refuse_a_leftover_that_also_claims_slots_nobody_serves() -> None:
    lines = formed_lines()
    lines[2] = line(3, slots="10922-16000", epoch=3)
    states = [*formed(lines=lines)[:5], lone(6, slots="15990-16010")]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the cluster is not one the hook can safely change",
        findings=(
            Finding(
                "redis-node-6:7006 is a lone leftover: no keys, in no cluster, but it claims slots 15990-16010: 11 "
                "of them served by redis-node-3:7003, 10 served by no cluster node",
                "drop its claims with CLUSTER DELSLOTSRANGE 15990 16010 on redis-node-6:7006 (it holds no keys: "
                "nothing is lost), then run init again; the slots nobody serves are then assigned as usual",
            ),
        ),
    )


def test_heal_a_lone_node_claiming_slots_nobody_serves_joins_it_as_a_master() -> None:
    # A create interrupted after ADDSLOTSRANGE on node 3, while nodes 1, 2, 4, 5 formed without it.
    lines = formed_lines(5, 3)
    lines = [lines[0], lines[1], lines[3], lines[4]]
    states = [*views([1, 2], lines), lone(3, slots="10922-16383"), *views([4, 5], lines, link_status="up"), lone(6)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal",
        summary="heal: meet 2 new node(s), attach 1 replica(s)",
        meet=(address(3), address(6)),
        replicate={address(6): nid(3)},
    )


def test_heal_promotes_an_empty_node_to_the_missing_master_and_attaches_the_next() -> None:
    lines = formed_lines(5, 3)
    lines = [lines[0], lines[1], lines[3], lines[4]]
    states = [*views([1, 2], lines), lone(3), *views([4, 5], lines, link_status="up"), lone(6)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal",
        summary="heal: meet 2 new node(s), attach 1 replica(s), assign 5462 unowned slots",
        add_slots={address(3): (SlotRange(10922, 16383),)},
        meet=(address(3), address(6)),
        replicate={address(6): nid(3)},
    )


def test_heal_attaches_an_empty_member_master_without_slots() -> None:
    lines = [*formed_lines(5, 3), line(6)]
    states = views(range(1, 7), lines)
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal", summary="heal: attach 1 replica(s)", replicate={address(6): nid(3)}
    )


def test_an_empty_master_without_slots_that_has_a_replica_is_not_moved() -> None:
    lines = [*formed_lines(6, 3), line(7), line(8, flags="slave", master=7)]
    assert decide(views(range(1, 9), lines), **THREE_BY_ONE).kind == "nothing"


def test_refuse_a_member_master_without_slots_that_holds_keys() -> None:
    lines = [*formed_lines(5, 3), line(6)]
    states = [*views(range(1, 6), lines), state(6, lines, cluster_state="ok", dbsize=4)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the cluster is not one the hook can safely change",
        findings=(
            Finding(
                "redis-node-6:7006 is a master that owns no slots but holds 4 keys: keys in slots other masters "
                "serve, or a slot migration in progress",
                "finish or undo the migration (redis-cli --cluster fix), or move or drop those keys, then run init "
                "again to attach it as a replica (the hook never changes a node that holds such keys)",
            ),
        ),
    )


def test_wait_when_a_master_without_slots_is_a_replica_by_its_own_account() -> None:
    # Just after a failover: the reference master still lists node 1 as a master without slots, node 1 itself
    # already replicates node 4. Found by the drills' integration test: the hook refused a healthy failover.
    lines = [line(1), line(2, slots="5461-10922"), line(3, slots="10923-16383"), line(4, slots="0-5460"),
             line(5, flags="slave", master=2), line(6, flags="slave", master=3)]
    own_lines = [line(1, flags="slave", master=4), *lines[1:]]
    states = [state(1, own_lines, dbsize=100, link_status="up"), *views(range(2, 7), lines)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="wait",
        summary="the cluster is changing by itself",
        findings=(
            Finding(
                "redis-node-1:7001 is a master without slots in the cluster's view but not in its own; waiting "
                "for the views to agree"
            ),
        ),
    )


def test_heal_adds_an_extra_replica_to_the_first_master_when_every_shard_has_enough() -> None:
    states = [*formed(), lone(7)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal",
        summary="heal: meet 1 new node(s), attach 1 replica(s)",
        meet=(address(7),),
        replicate={address(7): nid(1)},
    )


def test_heal_after_master_replaced_and_replica_promoted() -> None:
    lines = formed_lines()
    lines[0] = line(11, flags="master,fail", hostname="redis-node-1", address=":0@0", link="disconnected")
    lines[3] = line(4, slots=SLOTS[0], epoch=7)
    states = [*views(range(2, 7), lines), lone(1)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal",
        summary="heal: forget 1 replaced node ID(s), meet 1 new node(s), attach 1 replica(s)",
        meet=(address(1),),
        replicate={address(1): nid(4)},
        forget=(Forget(nid(11), "redis-node-1", address(1)),),
    )


def test_cover_unowned_slots_on_the_least_loaded_master_when_no_keys_are_there() -> None:
    lines = formed_lines()
    lines[2] = line(3, slots="10922-16000", epoch=3)
    decision = decide(formed(lines=lines), **THREE_BY_ONE)
    assert decision == Decision(
        kind="heal",
        summary="heal: assign 383 unowned slots",
        add_slots={address(3): (SlotRange(16001, 16383),)},
    )


def test_refuse_unowned_slots_when_a_node_holds_keys_in_them() -> None:
    lines = formed_lines()
    lines[2] = line(3, slots="10922-16000", epoch=3)
    states = formed(lines=lines)
    states[2] = state(3, lines, cluster_state="ok", dbsize=5, keys_in_uncovered=2)
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="383 slots have no owner, but nodes hold keys in them",
        findings=(
            Finding(
                "redis-node-3:7003 holds 2 keys in unowned slots",
                "a person decides which master takes those slots (CLUSTER SETSLOT / redis-cli --cluster fix)",
            ),
        ),
    )


def master_1_replaced(flags: str, *, address: str | None = None, link: str = "connected") -> list[NodeState]:
    """Master 1's container replaced by an empty one (lone) while its old ID (11), owning SLOTS[0], carries
    `flags` in the cluster's view and node 4 still replicates it."""
    lines = formed_lines()
    lines[0] = line(11, flags=flags, slots=SLOTS[0], hostname="redis-node-1", address=address, link=link)
    lines[3] = line(4, flags="slave", master=11)
    return [*views(range(2, 7), lines), lone(1)]


# ------------------------------------------------------------------------------------------------ heal: refuse
def test_refuse_more_masters_than_the_spec() -> None:
    slots = ["0-4095", "4096-8191", "8192-12287", "12288-16383"]
    lines = [line(i + 1, slots=slots[i]) for i in range(4)]
    lines += [line(5, flags="slave", master=1), line(6, flags="slave", master=2)]
    assert decide(formed(lines=lines), **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the cluster has more masters than the spec",
        findings=(
            Finding(
                "4 masters own slots but the spec has 3",
                "change the spec's topology to match, or reshard by hand (redis-cli --cluster rebalance)",
            ),
        ),
    )


def test_refuse_more_masters_than_the_spec_counting_a_lone_claimant() -> None:
    lines = formed_lines(6, 3)
    lines[2] = line(3, slots="10922-16000", epoch=3)
    states = [*formed(lines=lines), lone(7, slots="16001-16383")]
    decision = decide(states, **THREE_BY_ONE)
    assert decision.kind == "refuse"
    assert decision.findings == (
        Finding(
            "4 masters own slots but the spec has 3",
            "change the spec's topology to match, or reshard by hand (redis-cli --cluster rebalance)",
        ),
    )


SHARDS_FIX = (
    "moving slots between masters moves keys; a person does that with redis-cli --cluster add-node / rebalance, "
    "or changes the spec to match"
)


def test_refuse_fewer_masters_than_the_spec() -> None:
    assert decide(formed(), masters=4, replicas_per_master=0) == Decision(
        kind="refuse",
        summary="the cluster's shards do not match the spec",
        findings=(Finding("the cluster has 3 masters owning slots, the spec has 4", SHARDS_FIX),),
    )


def test_refuse_a_cluster_where_no_master_owns_a_slot_and_no_node_can_take_them() -> None:
    # Masters 1 and 2 own nothing but each has a replica: neither is a spare, and nobody can take the slots.
    lines = [line(1), line(2), line(3, flags="slave", master=1), line(4, flags="slave", master=2)]
    assert decide(views(range(1, 5), lines), **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the cluster's shards do not match the spec",
        findings=(Finding("the cluster has 0 masters owning slots, the spec has 3", SHARDS_FIX),),
    )


def test_refuse_unknown_live_node_in_the_cluster() -> None:
    lines = [*formed_lines(), line(42, flags="slave", master=1, hostname="somebody-else")]
    assert decide(formed(lines=lines), **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the cluster is not one the hook can safely change",
        findings=(
            Finding(
                f"the cluster includes node {nid(42)} (somebody-else:7042), which is not in the node list",
                "add it to the spec / --nodes, or take it out of the cluster deliberately",
            ),
        ),
    )


def test_refuse_a_master_down_with_no_replica_to_take_over() -> None:
    lines = formed_lines(3, 3)
    lines[2] = line(3, flags="master,fail", slots=SLOTS[2], link="disconnected")
    states = views([1, 2], lines)  # node 3 does not answer
    assert decide(states, masters=3, replicas_per_master=0) == Decision(
        kind="refuse",
        summary="the cluster is not one the hook can safely change",
        findings=(
            Finding(
                f"master {nid(3)} (redis-node-3:7003) is down and owns slots 10922-16383 with no replica to take "
                "over: that shard's keys are gone unless the node comes back",
                "bring that node back with its data volume; if it is lost for good, a person reassigns its slots "
                "(redis-cli --cluster fix) and accepts the loss",
            ),
        ),
    )


def test_refuse_replaced_master_flagged_noaddr_with_the_manual_step() -> None:
    assert decide(master_1_replaced("master,noaddr", address=":0@0"), **THREE_BY_ONE) == Decision(
        kind="refuse",
        summary="the cluster is not one the hook can safely change",
        findings=(
            Finding(
                f"master {nid(11)} (redis-node-1) was replaced by the empty node redis-node-1:7001 before its "
                "replica redis-node-4:7004 took over, and Redis does not fail over a master whose address now "
                "answers with another node ID",
                "promote the replica: run CLUSTER FAILOVER FORCE on redis-node-4:7004, then run init again to "
                "attach the new node",
            ),
        ),
    )


# ------------------------------------------------------------------------------------------------ heal: wait
def wait(*findings: str) -> Decision:
    return Decision(
        kind="wait", summary="the cluster is changing by itself", findings=tuple(Finding(what) for what in findings)
    )


def test_wait_for_a_member_the_reference_does_not_list_yet() -> None:
    lines = formed_lines()
    states = [*views(range(1, 6), lines[:5]), state(6, [lines[5], lines[0]], cluster_state="ok")]
    assert decide(states, **THREE_BY_ONE) == wait("redis-node-6:7006 is still being met into the cluster")


def test_wait_while_the_cluster_marks_one_of_our_nodes_failing() -> None:
    lines = formed_lines()
    lines[4] = line(5, flags="slave,fail?", master=2)
    assert decide(formed(lines=lines), **THREE_BY_ONE) == wait(
        "redis-node-5:7005 answers but the cluster marks it failing"
    )


def test_wait_while_a_failing_master_is_being_replaced_by_its_replica() -> None:
    assert decide(master_1_replaced("master,fail?", link="disconnected"), **THREE_BY_ONE) == wait(
        f"master {nid(11)} (redis-node-1:7011) is failing; its replica redis-node-4:7004 is expected to take over"
    )


def test_wait_until_the_old_node_is_noticed_gone() -> None:
    lines = formed_lines()
    lines[5] = line(16, flags="slave", master=3, hostname="redis-node-6")
    states = [*views(range(1, 6), lines), lone(6)]
    assert decide(states, **THREE_BY_ONE) == wait(
        f"redis-node-6:7006 is a new node using the name of {nid(16)}; waiting for the cluster to notice that the "
        "old node is gone"
    )


def test_wait_for_agreement_on_a_suspected_node() -> None:
    lines = [*formed_lines(), line(42, flags="slave,fail?", master=1, hostname="somebody-else")]
    assert decide(formed(lines=lines), **THREE_BY_ONE) == wait(
        f"node {nid(42)} (somebody-else:7042) is suspected down; waiting for agreement"
    )


def test_refusals_come_before_waits() -> None:
    lines = [*formed_lines(), line(42, hostname="somebody-else"), line(43, flags="slave,fail?", master=1)]
    assert decide(formed(lines=lines), **THREE_BY_ONE).kind == "refuse"


def test_a_decision_with_only_a_release_is_a_change() -> None:
    assert Decision(kind="heal", summary="", release={address(6): (SlotRange(0, 2),)}).changes
    assert not Decision(kind="nothing", summary="").changes


# ------------------------------------------------------------------------------------------------ judge, in detail
def test_judge_gives_every_node_one_verdict() -> None:
    from cache_cluster.hook.decide import cluster_view, judge

    lines = [
        *formed_lines(5, 3),
        line(16, flags="slave,fail,noaddr", master=3, hostname="redis-node-6", address=":0@0"),
        line(17, flags="slave,fail", master=1, hostname="redis-node-17"),
        line(8),
    ]
    lines[2] = line(3, slots="10922-16000", epoch=3)  # 16001-16383: nobody's
    members = [*views(range(1, 6), lines), state(8, lines, cluster_state="ok")]
    lone_nodes = [lone(6), lone(7, slots="0-2"), lone(9, slots="16100-16200"), lone(10, slots="16000-16001")]
    judged = judge(cluster_view(members + lone_nodes, members), members, lone_nodes)
    assert [(item.verdict, item.node.endpoint.address if item.node else None) for item in judged] == [
        ("member", None), ("member", None), ("member", None), ("member", None), ("member", None),
        ("forget", None), ("note", None), ("spare", address(8)),
        ("newcomer", address(6)), ("leftover", address(7)), ("claimant", address(9)), ("refuse", None),
    ]
    assert judged[5].forget == Forget(nid(16), "redis-node-6", address(6))


def test_finding_reads_as_one_line() -> None:
    assert str(Finding("node 6 is down", "bring it back")) == "node 6 is down; fix: bring it back"
    assert str(Finding("waiting for node 6")) == "waiting for node 6"


def test_create_epochs_only_where_neither_the_node_nor_its_cluster_view_has_one() -> None:
    bumped = state(2, [line(2)], current_epoch=5)  # own config epoch 0, but it has seen epoch 5
    unknown = replace(lone(3), cluster_info={"cluster_state": "fail"})  # no current epoch reported: 0
    decision = decide([lone(1), bumped, unknown], masters=3, replicas_per_master=0)
    assert decision.epochs == {address(1): 1, address(3): 3}


def test_refuse_a_lost_master_names_every_range_it_owned() -> None:
    lines = formed_lines(3, 3)
    lines[2] = line(3, flags="master,fail", slots="10922-15000 15002-16383", link="disconnected")
    what = decide(views([1, 2], lines), masters=3, replicas_per_master=0).findings[0].what
    assert "owns slots 10922-15000, 15002-16383 with no replica" in what


def test_wait_while_a_replaced_master_marked_failing_is_taken_over() -> None:
    # noaddr and fail: Redis does fail this master over, so the hook waits instead of asking for FAILOVER FORCE.
    assert decide(master_1_replaced("master,fail,noaddr", address=":0@0"), **THREE_BY_ONE) == wait(
        f"master {nid(11)} (redis-node-1) is failing; its replica redis-node-4:7004 is expected to take over"
    )


def test_refuse_a_leftover_with_several_claims_gives_every_bound() -> None:
    lines = formed_lines()
    lines[2] = line(3, slots="10922-16000", epoch=3)
    states = [*formed(lines=lines)[:5], lone(6, slots="0-2 16100-16110")]
    finding = decide(states, **THREE_BY_ONE).findings[0]
    assert finding.what.startswith("redis-node-6:7006 is a lone leftover: no keys, in no cluster, but it claims "
                                   "slots 0-2, 16100-16110: 3 of them served by redis-node-1:7001, 11 served by")
    assert finding.fix.startswith("drop its claims with CLUSTER DELSLOTSRANGE 0 2 16100 16110 on redis-node-6:7006")


def test_leftover_message_names_the_serving_master_by_our_address_not_its_announced_name() -> None:
    lines = formed_lines()
    lines[0] = line(1, slots=SLOTS[0], epoch=1, hostname="cache-a")
    states = [*formed(lines=lines)[:5], lone(6, slots="0-2")]
    assert decide(states, **THREE_BY_ONE).findings[0].what.endswith("which redis-node-1:7001 serve(s)")


def test_unowned_slots_go_to_the_master_with_fewest_slots_counting_a_joining_claimant() -> None:
    # Node 3 joins with 10001-16000 (5999 slots); 16001-16383 go to node 2 (5000), not to node 3.
    lines = [line(1, slots="0-5000"), line(2, slots="5001-10000"), line(4, flags="slave", master=1),
             line(5, flags="slave", master=2)]
    states = [*views([1, 2], lines), lone(3, slots="10001-16000"), *views([4, 5], lines, link_status="up")]
    decision = decide(states, masters=3, replicas_per_master=0)
    assert decision.add_slots == {address(2): (SlotRange(16001, 16383),)}


def test_unowned_slots_go_to_a_master_while_a_newcomer_joins_as_a_replica() -> None:
    lines = formed_lines()
    lines[2] = line(3, slots="10922-16000", epoch=3)
    decision = decide([*formed(lines=lines), lone(7)], **THREE_BY_ONE)
    assert decision.add_slots == {address(3): (SlotRange(16001, 16383),)}
    assert decision.replicate == {address(7): nid(1)}


def test_a_newcomer_goes_to_the_shard_short_of_replicas() -> None:
    lines = [*formed_lines(3, 3), *(line(i, flags="slave", master=m) for i, m in ((4, 1), (5, 2), (6, 3), (7, 1),
                                                                                  (8, 2)))]
    decision = decide([*views(range(1, 9), lines), lone(9)], masters=3, replicas_per_master=2)
    assert decision.replicate == {address(9): nid(3)}


def test_heal_places_a_newcomer_away_from_its_masters_host_or_says_it_could_not() -> None:
    hosts = {1: "a", 2: "b", 3: "c", 4: "b", 5: "c", 6: "a"}
    states = [state(i, formed_lines(), cluster_state="ok", domain=hosts[i]) for i in range(1, 7)]
    decision = decide([*states, lone(7, domain="a")], **THREE_BY_ONE)
    assert decision.replicate == {address(7): nid(2)} and decision.colocated == ()
    one_host = [state(i, formed_lines(), cluster_state="ok", domain="a") for i in range(1, 7)]
    decision = decide([*one_host, lone(7, domain="a")], **THREE_BY_ONE)
    assert decision.replicate == {address(7): nid(1)} and decision.colocated == (address(7),)


def test_plan_reads_a_master_with_slots_before_an_empty_master() -> None:
    # Spare node 6 comes first and has not heard of node 5; the plan follows master 1, which has.
    lines = [*formed_lines(5, 3), line(6)]
    states = [state(6, [text for text in lines if not text.startswith(nid(5))], cluster_state="ok"),
              *views(range(1, 6), lines)]
    assert decide(states, **THREE_BY_ONE) == Decision(
        kind="heal", summary="heal: attach 1 replica(s)", replicate={address(6): nid(3)}
    )


def test_a_node_still_in_handshake_is_not_judged() -> None:
    handshake = f"{nid(77)} 127.0.0.1:7007@17007 handshake - 0 0 0 connected"
    decision = decide([*formed(lines=[*formed_lines(), handshake]), lone(7)], **THREE_BY_ONE)
    assert decision.kind == "heal" and decision.replicate == {address(7): nid(1)}

"""The hook's pure parts, without servers: parsing, decide (create / heal / refuse / wait), readiness.

Plus a scan of the hook's source for the commands it must never send.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cache_cluster.hook.converge import readiness_problems
from cache_cluster.hook.decide import decide
from cache_cluster.hook.endpoints import Endpoint, HostPort
from cache_cluster.hook.inspect import NodeState, parse_cluster_nodes, uncovered_slots
from cache_cluster.placement import SlotRange

HOOK_DIR = Path(__file__).resolve().parents[3] / "components" / "cache_cluster" / "hook"


def nid(index: int) -> str:
    return f"{index:040x}"


def line(
    index: int,
    *,
    flags: str = "master",
    master: int | None = None,
    slots: str = "",
    hostname: str | None = None,
    epoch: int = 0,
    link: str = "connected",
    address: str | None = None,
) -> str:
    host = hostname or f"redis-node-{index}"
    where = address if address is not None else f"127.0.0.1:{7000 + index}@{17000 + index}"
    parent = nid(master) if master is not None else "-"
    return f"{nid(index)} {where},{host} {flags} {parent} 0 0 {epoch} {link} {slots}".strip()


def state(
    index: int,
    lines: list[str],
    *,
    dbsize: int = 0,
    domain: str | None = None,
    cluster_state: str = "fail",
    link_status: str | None = None,
    keys_in_uncovered: int = 0,
) -> NodeState:
    name = f"redis-node-{index}"
    endpoint = Endpoint(name, 7000 + index, "cluster", HostPort("127.0.0.1", 7000 + index), domain)
    # The node's own line carries the `myself` flag.
    own = [text.replace(" master ", " myself,master ", 1).replace(" slave ", " myself,slave ", 1)
           if text.startswith(nid(index)) else text for text in lines]
    replication = {"role": "slave" if link_status else "master"}
    if link_status:
        replication["master_link_status"] = link_status
    return NodeState(
        endpoint=endpoint,
        node_id=nid(index),
        ip="127.0.0.1",
        dbsize=dbsize,
        cluster_info={"cluster_state": cluster_state, "cluster_current_epoch": "0"},
        nodes=parse_cluster_nodes("\n".join(own)),
        replication=replication,
        keys_in_uncovered_slots=keys_in_uncovered,
    )


def lone(index: int, **kwargs: object) -> NodeState:
    return state(index, [line(index)], **kwargs)  # type: ignore[arg-type]


SLOTS = ["0-5460", "5461-10921", "10922-16383"]


def formed_lines(count: int = 6, masters: int = 3) -> list[str]:
    lines = [line(i + 1, slots=SLOTS[i], epoch=i + 1) for i in range(masters)]
    lines += [line(i + 1, flags="slave", master=(i - masters) % masters + 1) for i in range(masters, count)]
    return lines


def formed(count: int = 6, masters: int = 3, lines: list[str] | None = None) -> list[NodeState]:
    text = lines or formed_lines(count, masters)
    return [
        state(i + 1, text, cluster_state="ok", link_status="up" if i >= masters else None) for i in range(count)
    ]


# ------------------------------------------------------------------------------------------------ parsing
def test_parse_cluster_nodes_handles_hostnames_noaddr_and_migrating_slots() -> None:
    entries = parse_cluster_nodes(
        f"{nid(1)} 10.0.0.5:7001@17001,redis-node-1 myself,master - 0 0 1 connected 0-10 12 [13->-{nid(2)}]\n"
        f"{nid(2)} :0@0,redis-node-2 slave,fail,noaddr {nid(1)} 0 0 1 disconnected\n"
    )
    first, second = entries
    assert first.is_myself and first.is_master and first.hostname == "redis-node-1" and first.ip == "10.0.0.5"
    assert first.slots == (SlotRange(0, 10), SlotRange(12, 12))
    assert second.failed and second.master_id == nid(1) and second.announced == "redis-node-2"


def test_uncovered_slots() -> None:
    assert uncovered_slots(formed()) == set()
    partial = [state(1, [line(1, slots="0-16000")])]
    assert uncovered_slots(partial) == set(range(16001, 16384))


# ------------------------------------------------------------------------------------------------ create
def test_create_when_all_lone_and_empty() -> None:
    decision = decide([lone(i) for i in range(1, 7)], masters=3, replicas_per_master=1)
    assert decision.kind == "create"
    assert decision.add_slots == {
        "redis-node-1:7001": (SlotRange(0, 5460),),
        "redis-node-2:7002": (SlotRange(5461, 10921),),
        "redis-node-3:7003": (SlotRange(10922, 16383),),
    }
    assert decision.replicate == {"redis-node-4:7004": nid(1), "redis-node-5:7005": nid(2), "redis-node-6:7006": nid(3)}
    assert sorted(decision.epochs.values()) == [1, 2, 3, 4, 5, 6]
    assert len(decision.meet) == 6


def test_create_places_replicas_in_other_failure_domains() -> None:
    domains = {1: "a", 2: "b", 3: "c", 4: "a", 5: "b", 6: "c"}
    states = [lone(i, domain=domains[i]) for i in range(1, 7)]
    decision = decide(states, masters=3, replicas_per_master=1)
    master_domain = {nid(i): domains[i] for i in (1, 2, 3)}
    for replica, master in decision.replicate.items():
        index = int(replica.split(":")[0].rsplit("-", 1)[1])
        assert master_domain[master] != domains[index], (replica, master)
    assert decision.colocated == ()


def test_create_resumes_after_an_interrupted_run() -> None:
    states = [state(1, [line(1, slots="0-5460")]), state(2, [line(2, slots="5461-10921")])]
    states += [lone(i) for i in range(3, 7)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "create"
    assert decision.add_slots == {"redis-node-3:7003": (SlotRange(10922, 16383),)}


def test_nine_and_twelve_nodes() -> None:
    nine = decide([lone(i) for i in range(1, 10)], masters=3, replicas_per_master=2)
    assert nine.kind == "create" and len(nine.add_slots) == 3 and len(nine.replicate) == 6
    assert sorted(list(nine.replicate.values()).count(nid(i)) for i in (1, 2, 3)) == [2, 2, 2]
    twelve = decide([lone(i) for i in range(1, 13)], masters=4, replicas_per_master=2)
    assert twelve.kind == "create" and len(twelve.add_slots) == 4 and len(twelve.replicate) == 8


# ------------------------------------------------------------------------------------------------ nothing / heal
def test_nothing_to_do_on_a_formed_cluster() -> None:
    decision = decide(formed(), masters=3, replicas_per_master=1)
    assert decision.kind == "nothing" and not decision.changes


def test_heal_replaced_replica_forgets_meets_and_attaches() -> None:
    lines = formed_lines()
    # redis-node-6's old ID (16) is flagged noaddr; the new node 6 is lone and empty.
    lines[5] = line(16, flags="slave,fail,noaddr", master=3, hostname="redis-node-6", address=":0@0",
                    link="disconnected")
    states = [state(i + 1, lines, cluster_state="ok", link_status="up" if i >= 3 else None) for i in range(5)]
    states.append(lone(6))
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "heal", decision
    assert [item.node_id for item in decision.forget] == [nid(16)]
    assert decision.meet == ("redis-node-6:7006",)
    assert decision.replicate == {"redis-node-6:7006": nid(3)}


def test_heal_waits_until_the_old_node_is_noticed_gone() -> None:
    lines = formed_lines()
    lines[5] = line(16, flags="slave", master=3, hostname="redis-node-6")
    states = [state(i + 1, lines, cluster_state="ok") for i in range(5)] + [lone(6)]
    assert decide(states, masters=3, replicas_per_master=1).kind == "wait"


def test_wait_while_a_failing_master_is_being_replaced_by_its_replica() -> None:
    lines = formed_lines()
    lines[0] = line(11, flags="master,fail?", slots=SLOTS[0], hostname="redis-node-1", link="disconnected")
    lines[3] = line(4, flags="slave", master=11)
    states = [state(i + 1, lines, cluster_state="ok") for i in range(1, 6)] + [lone(1)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "wait" and "redis-node-4:7004" in decision.findings[0].what


def test_refuse_replaced_master_flagged_noaddr_with_the_manual_step() -> None:
    lines = formed_lines()
    lines[0] = line(11, flags="master,noaddr", slots=SLOTS[0], hostname="redis-node-1", address=":0@0")
    lines[3] = line(4, flags="slave", master=11)
    states = [state(i + 1, lines, cluster_state="ok") for i in range(1, 6)] + [lone(1)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "refuse"
    assert "CLUSTER FAILOVER FORCE on redis-node-4:7004" in decision.findings[0].fix


def test_heal_after_master_replaced_and_replica_promoted() -> None:
    lines = formed_lines()
    lines[0] = line(11, flags="master,fail", hostname="redis-node-1", address=":0@0", link="disconnected")
    lines[3] = line(4, slots=SLOTS[0], epoch=7)
    states = [state(i + 1, lines, cluster_state="ok") for i in range(1, 6)] + [lone(1)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "heal"
    assert decision.replicate == {"redis-node-1:7001": nid(4)}
    assert [item.node_id for item in decision.forget] == [nid(11)]


def test_cover_unowned_slots_only_when_no_keys_are_there() -> None:
    lines = formed_lines()
    lines[2] = line(3, slots="10922-16000", epoch=3)
    states = formed(lines=lines)
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "heal" and decision.add_slots == {"redis-node-3:7003": (SlotRange(16001, 16383),)}
    states[2] = state(3, lines, cluster_state="ok", dbsize=5, keys_in_uncovered=2)
    refused = decide(states, masters=3, replicas_per_master=1)
    assert refused.kind == "refuse" and "keys in unowned slots" in refused.findings[0].what


# ------------------------------------------------------------------------------------------------ refuse
def test_refuse_lone_node_with_keys() -> None:
    states = [lone(i) for i in range(1, 6)] + [lone(6, dbsize=3)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "refuse"
    assert "redis-node-6:7006 holds 3 keys" in decision.findings[0].what and decision.findings[0].fix
    heal_states = [*formed()[:5], lone(6, dbsize=1)]
    assert decide(heal_states, masters=3, replicas_per_master=1).kind == "refuse"


def test_refuse_two_clusters() -> None:
    first = [line(i, slots=SLOTS[i - 1]) for i in (1, 2, 3)]
    second = [line(i, slots=SLOTS[i - 4]) for i in (4, 5, 6)]
    states = [state(i, first, cluster_state="ok") for i in (1, 2, 3)]
    states += [state(i, second, cluster_state="ok") for i in (4, 5, 6)]
    decision = decide(states, masters=3, replicas_per_master=1)
    assert decision.kind == "refuse" and "2 different clusters" in decision.summary


def test_refuse_more_masters_than_spec() -> None:
    slots = ["0-4095", "4096-8191", "8192-12287", "12288-16383"]
    lines = [line(i + 1, slots=slots[i]) for i in range(4)] + [line(5, flags="slave", master=1),
                                                               line(6, flags="slave", master=2)]
    decision = decide(formed(lines=lines), masters=3, replicas_per_master=1)
    assert decision.kind == "refuse" and "more masters" in decision.summary


def test_refuse_unknown_live_node_in_the_cluster() -> None:
    lines = [*formed_lines(), line(42, flags="slave", master=1, hostname="somebody-else")]
    decision = decide(formed(lines=lines), masters=3, replicas_per_master=1)
    assert decision.kind == "refuse" and "not in the node list" in decision.findings[0].what


# ------------------------------------------------------------------------------------------------ readiness
def _view(index: int, lines: list[str], link: str | None = None, cluster_state: str = "ok") -> NodeState:
    return state(index, lines, cluster_state=cluster_state, link_status=link)


def test_readiness() -> None:
    lines = formed_lines()
    views = [_view(i + 1, lines, "up" if i >= 3 else None) for i in range(6)]
    ids = {nid(i) for i in range(1, 7)}
    assert readiness_problems(views, ids) == []
    views[4] = _view(5, lines, "down")
    assert any("replica link" in problem for problem in readiness_problems(views, ids))
    behind = [text for text in lines if not text.startswith(nid(6))]
    views[4] = _view(5, behind, "up")
    assert any("does not know" in problem for problem in readiness_problems(views, ids))


# ------------------------------------------------------------------------------------------------ safety
FORBIDDEN = re.compile(r"CLUSTER\s+RESET|FLUSHALL|FLUSHDB|flushall|flushdb|cluster_reset|nodes\.conf", re.IGNORECASE)


@pytest.mark.parametrize("path", sorted(HOOK_DIR.glob("*.py")), ids=lambda path: path.name)
def test_hook_never_resets_flushes_or_deletes_nodes_conf(path: Path) -> None:
    text = path.read_text()
    # Words in prose ("never resets") are fine; a command or file name is not.
    assert not FORBIDDEN.findall(text), f"{path.name} mentions {FORBIDDEN.findall(text)}"


def test_published_map_reaches_ipv6_and_wildcard_bindings() -> None:
    """`--via published` dials the plan's host endpoints: `[::1]:7001` means host ::1, a wildcard means loopback."""
    from cache_cluster.hook.endpoints import parse_host_port, targets_from_spec
    from cache_cluster.spec import ClusterSpec

    ipv6 = targets_from_spec(ClusterSpec.model_validate({"network": {"publish_address": "::1"}}), via="published")
    assert ipv6.nodes[0].connect == HostPort("::1", 7001)
    assert str(ipv6.nodes[0].connect) == "[::1]:7001"
    public = ClusterSpec.model_validate({"network": {"publish_address": "0.0.0.0", "allow_public_publish": True}})
    assert targets_from_spec(public, via="published").nodes[0].connect == HostPort("127.0.0.1", 7001)
    assert parse_host_port("redis-node-1:7001", what="node") == HostPort("redis-node-1", 7001)

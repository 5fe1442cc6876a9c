"""The hook's dangerous branches against real redis-server processes (issue 13): each refusal changes nothing
and keeps every key; the one release the hook does (a lone, empty leftover's stale claims) loses nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from redis.crc import key_slot

from cache_cluster.hook import Report, run_init
from cache_cluster.hook.act import ActError, act
from cache_cluster.hook.connect import client, close
from cache_cluster.hook.decide import Decision
from cache_cluster.hook.endpoints import AddressMap, HostPort, targets_from_nodes
from cache_cluster.hook.inspect import inspect_node
from cache_cluster.placement import SlotRange

from .conftest import Clusters, wait_until
from .harness import Deployment

pytestmark = pytest.mark.integration



def nodes_text(deployment: Deployment, name: str) -> list[list[str]]:
    """CLUSTER NODES of one node, as it says it (redis-py's parsed form hides fields), one list per line."""
    with deployment.client(name) as connection:
        connection.set_response_callback("CLUSTER NODES", lambda response, **_: response)
        return [line.split() for line in str(connection.execute_command("CLUSTER NODES")).splitlines()]


def cluster_nodes(deployment: Deployment) -> dict[str, list[list[str]]]:
    """name -> its CLUSTER NODES without ping / pong times and link states (those change by themselves)."""
    return {
        name: sorted(fields[:4] + fields[6:7] + fields[8:] for fields in nodes_text(deployment, name))
        for name in deployment.nodes
    }


def keys_of(deployment: Deployment) -> dict[str, int]:
    table = {}
    for name in deployment.nodes:
        with deployment.client(name) as connection:
            table[name] = int(connection.dbsize())
    return table


def assert_refused_and_unchanged(
    report: Report, before: dict[str, list[list[str]]], deployment: Deployment
) -> None:
    assert report.outcome == "refused" and report.exit_code == 3, (report.summary, report.problems)
    assert report.actions == [] and not report.changed
    assert cluster_nodes(deployment) == before


def keys_in_slots(slots: range, count: int) -> list[str]:
    found: list[str] = []
    index = 0
    while len(found) < count:
        key = f"precious:{index}"
        if key_slot(key.encode()) in slots:
            found.append(key)
        index += 1
    return found


def formed(clusters: Clusters, masters: int = 3, replicas: int = 1) -> Deployment:
    deployment = clusters.make(masters, replicas, fallback=False)
    report = run_init(deployment.targets(), clusters.password, timeout=60)
    assert report.outcome == "healthy", (report.summary, report.problems)
    return deployment


def role_of(deployment: Deployment, name: str) -> str:
    with deployment.client(name) as connection:
        return str(connection.info("replication")["role"])


# ------------------------------------------------------------------------------------------------ the leftover
def test_a_lone_empty_leftover_claiming_served_slots_is_released_and_joined(clusters: Clusters) -> None:
    """Issue 13's case: a replaced replica comes back empty and alone but claims slots 0-2, which redis-node-1
    serves, with a config epoch above every master's. Met as it is, its claim would win and redis-node-1 would
    drop its keys in those slots; the hook drops the leftover's claim first."""
    deployment = formed(clusters)
    keys = keys_in_slots(range(0, 3), 3)
    with deployment.client("redis-node-1") as master:
        for key in keys:
            master.set(key, "kept")
    replica = next(name for name in deployment.nodes if role_of(deployment, name) == "slave")
    deployment.replace_node(replica)
    with deployment.client(replica) as leftover:
        leftover.execute_command("CLUSTER SET-CONFIG-EPOCH", 100)
        leftover.execute_command("CLUSTER ADDSLOTSRANGE", 0, 2)

    report = run_init(deployment.targets(), clusters.password, timeout=60)

    assert report.decision is not None and report.decision.kind == "heal", report.decision
    assert report.decision.release == {f"{replica}:{deployment.nodes[replica].port}": (SlotRange(0, 2),)}
    assert report.outcome == "healthy", (report.summary, report.problems, [c for c in report.checks if c.failed])
    assert any("DELSLOTSRANGE 0-2" in action for action in report.actions), report.actions
    assert role_of(deployment, replica) == "slave"
    with deployment.client("redis-node-1") as master:
        assert [master.get(key) for key in keys] == ["kept"] * 3
    for name in deployment.nodes:
        owners = {fields[0]: fields[8:] for fields in nodes_text(deployment, name) if fields[8:]}
        assert sorted(owners.values()) == [["0-5460"], ["10922-16383"], ["5461-10921"]], (name, owners)


def test_a_lone_leftover_with_a_key_is_refused_and_keeps_key_and_claim(clusters: Clusters) -> None:
    deployment = formed(clusters)
    replica = next(name for name in deployment.nodes if role_of(deployment, name) == "slave")
    deployment.replace_node(replica)
    with deployment.client(replica) as leftover:
        leftover.execute_command("CLUSTER ADDSLOTSRANGE", 0, 2)
        wait_until(lambda: leftover.execute_command("CLUSTER INFO")["cluster_state"] == "ok", 15, "slots served")
        leftover.set(keys_in_slots(range(0, 3), 1)[0], "its own")
    before = cluster_nodes(deployment)

    report = run_init(deployment.targets(), clusters.password, timeout=30)

    assert_refused_and_unchanged(report, before, deployment)
    assert report.decision is not None and report.decision.summary == "a node outside the cluster holds keys"
    with deployment.client(replica) as leftover:
        assert leftover.dbsize() == 1


def test_release_checks_the_leftover_again_just_before(clusters: Clusters) -> None:
    """A key written after inspect but before the release: act stops, the key and the claim stay."""
    deployment = clusters.make(fallback=False)
    name = "redis-node-6"
    endpoint = next(node for node in deployment.targets().nodes if node.name == name)
    connection = client(endpoint, clusters.password)
    try:
        connection.execute_command("CLUSTER ADDSLOTSRANGE", 0, 2)
        empty = inspect_node(connection, endpoint)
        wait_until(lambda: connection.execute_command("CLUSTER INFO").count("cluster_state:ok") == 1, 15, "ok")
        connection.set(keys_in_slots(range(0, 3), 1)[0], "arrived late")
        decision = Decision(kind="heal", summary="", release={endpoint.address: (SlotRange(0, 2),)})
        with pytest.raises(ActError, match=r"changed since it was inspected \(1 keys, knows 0 other node\(s\), "
                                           r"claims 0-2\); its claims were left alone"):
            act(decision, {endpoint.address: empty}, {endpoint.address: connection}, deadline=time.monotonic() + 10)
        assert connection.dbsize() == 1
        assert str(connection.execute_command("CLUSTER NODES")).split()[8:] == ["0-2"]  # the hook's raw reply
    finally:
        close(connection)


# ------------------------------------------------------------------------------------------------ refusals
def test_refuse_one_node_listed_under_two_addresses(clusters: Clusters) -> None:
    deployment = clusters.make(fallback=False)
    before = cluster_nodes(deployment)
    port = deployment.nodes["redis-node-1"].port
    nodes = [(HostPort(name, server.port), None) for name, server in deployment.nodes.items()]
    nodes[5] = (HostPort("alias-of-node-1", port), None)
    mapping = AddressMap({**deployment.address_map, f"alias-of-node-1:{port}": f"127.0.0.1:{port}"})
    targets = targets_from_nodes(nodes, masters=3, replicas_per_master=1, address_map=mapping)

    report = run_init(targets, clusters.password, timeout=30)

    assert_refused_and_unchanged(report, before, deployment)
    assert report.decision is not None and report.decision.summary == "one node is listed under two addresses"


def test_refuse_lone_nodes_claiming_the_same_slots(clusters: Clusters) -> None:
    deployment = clusters.make(fallback=False)
    with deployment.client("redis-node-1") as first, deployment.client("redis-node-2") as second:
        first.execute_command("CLUSTER ADDSLOTSRANGE", 0, 100)
        second.execute_command("CLUSTER ADDSLOTSRANGE", 50, 200)
    before = cluster_nodes(deployment)

    report = run_init(deployment.targets(), clusters.password, timeout=30)

    assert_refused_and_unchanged(report, before, deployment)
    assert report.decision is not None and report.decision.summary == "lone nodes claim the same slots"
    assert "both claim slot 50" in report.decision.findings[0].what


def test_refuse_more_lone_claimants_than_masters(clusters: Clusters) -> None:
    deployment = clusters.make(fallback=False)
    for index, name in enumerate(["redis-node-1", "redis-node-2", "redis-node-3", "redis-node-4"]):
        with deployment.client(name) as connection:
            connection.execute_command("CLUSTER ADDSLOTSRANGE", index * 100, index * 100 + 99)
    before = cluster_nodes(deployment)

    report = run_init(deployment.targets(), clusters.password, timeout=30)

    assert_refused_and_unchanged(report, before, deployment)
    assert report.decision is not None
    assert report.decision.summary == "more nodes claim slots than the spec has masters"


def test_refuse_a_master_lost_with_no_replica(clusters: Clusters) -> None:
    deployment = formed(clusters, replicas=0)
    deployment.replace_node("redis-node-3")

    def flagged() -> bool:
        """Every other node sees the old redis-node-3 as failed (fail or noaddr, not merely suspected)."""
        return all(
            any(fields[1].endswith(",redis-node-3") and {"fail", "noaddr"} & set(fields[2].split(","))
                for fields in nodes_text(deployment, name))
            for name in ("redis-node-1", "redis-node-2")
        )

    wait_until(flagged, 30, "redis-node-1 to see the lost redis-node-3 as failing")
    before = cluster_nodes(deployment)

    report = run_init(deployment.targets(), clusters.password, timeout=30)

    assert report.decision is not None
    assert_refused_and_unchanged(report, before, deployment)
    what = report.decision.findings[0].what
    assert "is down and owns slots 10922-16383 with no replica to take over" in what, what


def test_refuse_more_masters_than_the_spec(clusters: Clusters) -> None:
    deployment = formed(clusters, masters=6, replicas=0)
    before = cluster_nodes(deployment)
    targets = replace(deployment.targets(), masters=3, replicas_per_master=1)

    report = run_init(targets, clusters.password, timeout=30)

    assert_refused_and_unchanged(report, before, deployment)
    assert report.decision is not None and report.decision.summary == "the cluster has more masters than the spec"
    assert report.decision.findings[0].what == "6 masters own slots but the spec has 3"


def test_refuse_shards_that_do_not_match_the_spec(clusters: Clusters) -> None:
    deployment = formed(clusters)
    before, keys = cluster_nodes(deployment), keys_of(deployment)
    targets = replace(deployment.targets(), masters=6, replicas_per_master=0)

    report = run_init(targets, clusters.password, timeout=30)

    assert_refused_and_unchanged(report, before, deployment)
    assert report.decision is not None and report.decision.summary == "the cluster's shards do not match the spec"
    assert report.decision.findings[0].what == "the cluster has 3 masters owning slots, the spec has 6"
    assert keys_of(deployment) == keys
    with deployment.client("redis-node-1") as connection:
        assert connection.execute_command("CLUSTER INFO")["cluster_state"] == "ok"

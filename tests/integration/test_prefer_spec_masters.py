"""`init --prefer-spec-masters` against real redis-server processes: roles swapped by failovers are restored
with CLUSTER FAILOVER, keys and slots stay where they are, a plain init leaves swapped roles alone."""

from __future__ import annotations

import time

import pytest
from redis.crc import key_slot

from cache_cluster.hook import run_init

from .conftest import Clusters
from .harness import Deployment

pytestmark = pytest.mark.integration


def roles(deployment: Deployment) -> dict[str, str]:
    result = {}
    for name in deployment.nodes:
        with deployment.client(name) as client:
            result[name] = str(client.info("replication")["role"])
    return result


def slots_of(deployment: Deployment, name: str) -> list[list[str]]:
    """The slot ranges `name` serves, from its own CLUSTER NODES line (redis-py parses it into a dict)."""
    with deployment.client(name) as client:
        nodes = client.execute_command("CLUSTER NODES")
    return list(next(node for node in nodes.values() if "myself" in node["flags"])["slots"])


def test_swapped_roles_are_restored_only_on_request(clusters: Clusters) -> None:
    deployment = clusters.make(fallback=False)
    targets = deployment.targets()
    assert run_init(targets, clusters.password, timeout=60).outcome == "healthy"
    masters = {"redis-node-1": "master", "redis-node-2": "master", "redis-node-3": "master"}
    assert {name: role for name, role in roles(deployment).items() if role == "master"} == masters
    # Keys in shard 0 (slots 0-5460), written to its master: they must be there after both failovers.
    keys = [key for key in (f"key:{index}" for index in range(600)) if key_slot(key.encode()) <= 5460][:100]
    with deployment.client("redis-node-1") as client:
        for key in keys:
            client.set(key, key, px=300_000)
        assert client.execute_command("WAIT", 1, 5000) == 1
    # Swap shard 0 the way a failover does: its replica takes over with CLUSTER FAILOVER.
    replica = next(
        name
        for name in ("redis-node-4", "redis-node-5", "redis-node-6")
        if _replicates(deployment, name, "redis-node-1")
    )
    slots_before = slots_of(deployment, "redis-node-1")
    assert slots_before == [["0", "5460"]]
    with deployment.client(replica) as client:
        client.execute_command("CLUSTER FAILOVER")
    deadline = time.monotonic() + 30
    while roles(deployment)["redis-node-1"] != "slave" or roles(deployment)[replica] != "master":
        assert time.monotonic() < deadline, f"{replica} did not take over: {roles(deployment)}"
        time.sleep(0.05)

    plain = run_init(targets, clusters.password, timeout=60)
    assert plain.outcome == "healthy" and not plain.changed, (plain.summary, plain.decision)
    assert roles(deployment)["redis-node-1"] == "slave"

    restored = run_init(targets, clusters.password, timeout=60, prefer_spec_masters=True)
    assert restored.outcome == "healthy", restored.summary
    assert restored.actions == [
        f"redis-node-1:{deployment.node_port('redis-node-1')}: CLUSTER FAILOVER (master again; "
        f"{replica}:{deployment.node_port(replica)} is now its replica)"
    ]
    assert {name: role for name, role in roles(deployment).items() if role == "master"} == masters
    assert slots_of(deployment, "redis-node-1") == slots_before
    with deployment.client("redis-node-1") as client:
        assert [client.get(key) for key in keys] == keys
    again = run_init(targets, clusters.password, timeout=60, prefer_spec_masters=True)
    assert again.outcome == "healthy" and not again.changed


def _replicates(deployment: Deployment, name: str, master: str) -> bool:
    with deployment.client(name) as client:
        info = client.info("replication")
    return bool(info.get("role") == "slave" and int(info["master_port"]) == deployment.node_port(master))

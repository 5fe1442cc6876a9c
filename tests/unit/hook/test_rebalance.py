"""`init --prefer-spec-masters`: which preferred nodes get CLUSTER FAILOVER, on constructed cluster states."""

from __future__ import annotations

from cache_cluster.hook.endpoints import AddressMap, Endpoint, HostPort, Targets, targets_from_spec
from cache_cluster.hook.inspect import NodeState, parse_cluster_nodes
from cache_cluster.hook.rebalance import Swap, plan_swaps, preferred_masters
from cache_cluster.spec import ClusterSpec


def nid(index: int) -> str:
    return f"{index:040x}"


# Six nodes after two failovers: shard 0 (slots 0-5460) is served by node 4 with node 1 its replica, shard 1 by
# node 5 with node 2 its replica; shard 2 is as the spec has it (node 3, replica node 6).
ROLES = {1: 4, 2: 5, 3: None, 4: None, 5: None, 6: 3}  # node -> the node it replicates (None: a master)
SLOTS = {4: "0-5460", 5: "5461-10921", 3: "10922-16383"}


def cluster_nodes(myself: int, roles: dict[int, int | None]) -> str:
    lines = []
    for index, master in roles.items():
        flags = ("myself," if index == myself else "") + ("master" if master is None else "slave")
        parent = "-" if master is None else nid(master)
        lines.append(f"{nid(index)} 10.0.0.{index}:{7000 + index}@{17000 + index},redis-node-{index} {flags} "
                     f"{parent} 0 0 1 connected {SLOTS.get(index, '')}".strip())
    return "\n".join(lines)


def states(roles: dict[int, int | None], links: dict[int, str] | None = None) -> list[NodeState]:
    result = []
    for index, master in roles.items():
        replication = {"role": "master"} if master is None else {
            "role": "slave", "master_link_status": (links or {}).get(index, "up")}
        result.append(NodeState(
            endpoint=Endpoint(f"redis-node-{index}", 7000 + index, "cluster", HostPort("127.0.0.1", 7000 + index)),
            node_id=nid(index), ip=f"10.0.0.{index}", dbsize=10, cluster_info={"cluster_state": "ok"},
            nodes=parse_cluster_nodes(cluster_nodes(index, roles)), replication=replication,
        ))
    return result


PREFERRED = {"redis-node-1:7001", "redis-node-2:7002", "redis-node-3:7003"}


def test_each_swapped_spec_master_is_failed_over_to() -> None:
    swaps, notes = plan_swaps(states(ROLES), PREFERRED)
    assert swaps == [Swap("redis-node-1:7001", "redis-node-4:7004"), Swap("redis-node-2:7002", "redis-node-5:7005")]
    assert notes == []


def test_nothing_when_the_spec_masters_are_masters() -> None:
    as_spec = {1: None, 2: None, 3: None, 4: 1, 5: 2, 6: 3}
    assert plan_swaps(states(as_spec), PREFERRED) == ([], [])


def test_a_replica_whose_link_is_down_is_not_failed_over_to() -> None:
    swaps, notes = plan_swaps(states(ROLES, links={1: "down"}), PREFERRED)
    assert swaps == [Swap("redis-node-2:7002", "redis-node-5:7005")]
    assert notes == ["redis-node-1:7001: link to its master redis-node-4:7004 is not up; not failed over"]


def test_a_preferred_node_replicating_another_preferred_master_is_left() -> None:
    roles = {1: None, 2: 1, 3: None, 4: None, 5: None, 6: 3}
    swaps, notes = plan_swaps(states(roles), PREFERRED)
    assert swaps == []
    assert notes == ["redis-node-2:7002 replicates redis-node-1:7001, also a preferred master; left as is"]


def test_preferred_masters_are_the_specs_or_the_first_listed() -> None:
    assert preferred_masters(targets_from_spec(ClusterSpec())) == {
        "redis-node-1:7001", "redis-node-2:7002", "redis-node-3:7003"
    }
    nodes = tuple(Endpoint("10.0.0.9", port, "cluster", HostPort("10.0.0.9", port)) for port in range(8001, 8007))
    listed = Targets(nodes=nodes, masters=3, replicas_per_master=1, address_map=AddressMap())
    assert preferred_masters(listed) == {"10.0.0.9:8001", "10.0.0.9:8002", "10.0.0.9:8003"}

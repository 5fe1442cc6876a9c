"""plan(spec): nodes, roles, slots, replica placement, services, addresses and the applications' env contract."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from cache_cluster.contract import HIDDEN, env_contract
from cache_cluster.placement import SlotRange, assign_replicas, even_slot_ranges
from cache_cluster.plan import DeploymentPlan, plan
from cache_cluster.spec import SLOT_COUNT, ClusterSpec

PASSWORD = "plan-test-password-0123456789"
BRIEF_NODES = (
    "redis-node-1:7001,redis-node-2:7002,redis-node-3:7003,redis-node-4:7004,redis-node-5:7005,redis-node-6:7006"
)


def spec_of(**fields: Any) -> ClusterSpec:
    return ClusterSpec.model_validate(fields)


@pytest.fixture(scope="module")
def brief() -> DeploymentPlan:
    """The brief's topology: 3 masters + 3 replicas on 7001-7006, 3 sentinels, the exporter on 9121."""
    return plan(spec_of(auth={"password": PASSWORD}))


# Nodes


def test_brief_nodes_names_ports_and_bus_ports(brief: DeploymentPlan) -> None:
    assert [node.name for node in brief.nodes] == [f"redis-node-{index}" for index in range(1, 7)]
    assert [node.index for node in brief.nodes] == list(range(1, 7))
    assert [node.port for node in brief.nodes] == list(range(7001, 7007))
    assert [node.bus_port for node in brief.nodes] == list(range(17001, 17007))
    assert [node.address for node in brief.nodes] == BRIEF_NODES.split(",")


def test_brief_roles_and_masters(brief: DeploymentPlan) -> None:
    roles = {node.name: (node.role, node.master, node.shard) for node in brief.nodes}
    assert roles == {
        "redis-node-1": ("master", None, 0),
        "redis-node-2": ("master", None, 1),
        "redis-node-3": ("master", None, 2),
        "redis-node-4": ("replica", "redis-node-1", 0),
        "redis-node-5": ("replica", "redis-node-2", 1),
        "redis-node-6": ("replica", "redis-node-3", 2),
    }
    assert [node.name for node in brief.masters] == ["redis-node-1", "redis-node-2", "redis-node-3"]


def test_brief_slots(brief: DeploymentPlan) -> None:
    slots = {node.name: node.slots for node in brief.nodes}
    assert slots["redis-node-1"] == (SlotRange(0, 5460),)
    assert slots["redis-node-2"] == (SlotRange(5461, 10921),)
    assert slots["redis-node-3"] == (SlotRange(10922, 16383),)
    assert all(slots[f"redis-node-{index}"] == () for index in (4, 5, 6))


def _assert_even_cover(ranges: tuple[SlotRange, ...], masters: int) -> None:
    assert len(ranges) == masters
    covered = [slot for slot_range in ranges for slot in range(slot_range.start, slot_range.end + 1)]
    assert covered == list(range(SLOT_COUNT)), "every slot exactly once, in order"
    sizes = [slot_range.size for slot_range in ranges]
    assert sum(sizes) == SLOT_COUNT
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("masters", range(1, 101))
def test_even_slot_ranges_cover_every_slot_once(masters: int) -> None:
    _assert_even_cover(even_slot_ranges(masters), masters)


def test_even_slot_ranges_needs_a_master() -> None:
    with pytest.raises(ValueError, match="at least one master"):
        even_slot_ranges(0)


@pytest.mark.parametrize(("masters", "replicas"), list(itertools.product(range(3, 11), range(0, 3))))
def test_plan_shards_for_many_topologies(masters: int, replicas: int) -> None:
    deployment = plan(spec_of(topology={"masters": masters, "replicas_per_master": replicas}))
    nodes = deployment.nodes
    assert len(nodes) == masters * (1 + replicas)
    master_nodes = deployment.masters
    assert [node.name for node in master_nodes] == [f"redis-node-{index}" for index in range(1, masters + 1)]
    _assert_even_cover(tuple(node.slots[0] for node in master_nodes), masters)
    # Every master gets the same number of replicas, each replica follows a master of its own shard.
    followers = Counter(node.master for node in nodes if node.role == "replica")
    expected = dict.fromkeys((node.name for node in master_nodes), replicas) if replicas else {}
    assert followers == expected
    shard_of = {node.name: node.shard for node in master_nodes}
    for node in nodes:
        if node.role == "replica":
            assert node.master in shard_of
            assert node.shard == shard_of[node.master]
            assert node.slots == ()
    # Ports are contiguous from base_port, bus ports are port + 10000.
    assert [node.port for node in nodes] == list(range(7001, 7001 + len(nodes)))
    assert all(node.bus_port == node.port + 10000 for node in nodes)


def test_nine_nodes() -> None:
    deployment = plan(spec_of(topology={"masters": 3, "replicas_per_master": 2}))
    assert [node.port for node in deployment.nodes] == list(range(7001, 7010))
    assert {node.name: node.master for node in deployment.nodes if node.master} == {
        "redis-node-4": "redis-node-1",
        "redis-node-5": "redis-node-2",
        "redis-node-6": "redis-node-3",
        "redis-node-7": "redis-node-1",
        "redis-node-8": "redis-node-2",
        "redis-node-9": "redis-node-3",
    }
    assert deployment.contract.public["REDIS_CLUSTER_NODES"].split(",")[-1] == "redis-node-9:7009"


def test_twelve_nodes() -> None:
    deployment = plan(spec_of(topology={"masters": 6, "replicas_per_master": 1}))
    assert len(deployment.nodes) == 12
    assert [node.name for node in deployment.masters] == [f"redis-node-{index}" for index in range(1, 7)]
    assert {node.name: node.master for node in deployment.nodes if node.master} == {
        f"redis-node-{index + 6}": f"redis-node-{index}" for index in range(1, 7)
    }
    assert deployment.nodes[-1].port == 7012 and deployment.nodes[-1].bus_port == 17012
    assert [node.slots[0].size for node in deployment.masters] == [2730, 2731, 2731, 2730, 2731, 2731]


def test_custom_prefix_and_base_port() -> None:
    deployment = plan(spec_of(topology={"base_port": 8001, "node_name_prefix": "cache"}))
    assert [node.address for node in deployment.nodes][:2] == ["cache-1:8001", "cache-2:8002"]
    assert deployment.nodes[0].bus_port == 18001


# Replica placement


def test_assign_replicas_round_robin_without_domains() -> None:
    assignment = assign_replicas(["m1", "m2", "m3"], ["r1", "r2", "r3", "r4", "r5", "r6"])
    assert dict(assignment.master_of) == {"r1": "m1", "r2": "m2", "r3": "m3", "r4": "m1", "r5": "m2", "r6": "m3"}
    assert assignment.colocated == ()


def test_assign_replicas_needs_a_master() -> None:
    with pytest.raises(ValueError, match="at least one master"):
        assign_replicas([], ["r1"])


def _perfect_assignment_exists(
    masters: list[str], replicas: list[str], domains: Mapping[str, str | None], per_master: int
) -> bool:
    """Whether every master can get exactly `per_master` replicas, none in its own domain (bipartite matching)."""
    slots = [master for master in masters for _ in range(per_master)]
    holder: dict[int, str] = {}

    def place(replica: str, seen: set[int]) -> bool:
        for slot, master in enumerate(slots):
            if slot in seen or (domains.get(master) is not None and domains.get(master) == domains.get(replica)):
                continue
            seen.add(slot)
            if slot not in holder or place(holder[slot], seen):
                holder[slot] = replica
                return True
        return False

    return len(replicas) == len(slots) and all(place(replica, set()) for replica in replicas)


def _host_layout(hosts: int, masters: int, per_master: int) -> tuple[list[str], list[str], dict[str, str | None]]:
    """Nodes n0.. spread round robin over `hosts` hosts, the first `masters` of them masters."""
    names = [f"n{index}" for index in range(masters * (1 + per_master))]
    domains: dict[str, str | None] = {name: f"host-{index % hosts}" for index, name in enumerate(names)}
    return names[:masters], names[masters:], domains


LAYOUTS = [
    (hosts, masters, per_master)
    for hosts in (2, 3, 4, 6)
    for masters, per_master in ((3, 1), (3, 2), (4, 1), (5, 2), (6, 1))
]


@pytest.mark.parametrize(("hosts", "masters", "per_master"), LAYOUTS)
def test_assign_replicas_never_next_to_the_master_when_avoidable(hosts: int, masters: int, per_master: int) -> None:
    master_names, replica_names, domains = _host_layout(hosts, masters, per_master)
    assignment = assign_replicas(master_names, replica_names, domains)
    assert set(assignment.master_of) == set(replica_names)
    assert set(assignment.master_of.values()) <= set(master_names)
    # With two or more hosts every replica has a master elsewhere, so none is colocated.
    assert assignment.colocated == ()
    for replica, master in assignment.master_of.items():
        assert domains[replica] != domains[master], (replica, master)


# A greedy placement (replicas in order, each to the least-loaded master elsewhere) missed the balanced answer in
# (3 hosts, 3 masters, 1 replica each) and (6, 3, 2): these layouts guard the matching that replaced it.
@pytest.mark.parametrize(("hosts", "masters", "per_master"), LAYOUTS)
def test_assign_replicas_balanced_whenever_possible(hosts: int, masters: int, per_master: int) -> None:
    master_names, replica_names, domains = _host_layout(hosts, masters, per_master)
    if not _perfect_assignment_exists(master_names, replica_names, domains, per_master):
        # No balanced placement keeps every replica off its master's host: anti-affinity wins, yet every
        # master keeps at least one replica.
        load = Counter(assign_replicas(master_names, replica_names, domains).master_of.values())
        assert set(load) == set(master_names)
        return
    load = Counter(assign_replicas(master_names, replica_names, domains).master_of.values())
    assert load == dict.fromkeys(master_names, per_master)


def test_assign_replicas_one_master_and_one_replica_per_host() -> None:
    """The common three-host layout: each host runs one master and one replica (of another master)."""
    domains: dict[str, str | None] = {"m1": "a", "m2": "b", "m3": "c", "r1": "a", "r2": "b", "r3": "c"}
    assignment = assign_replicas(["m1", "m2", "m3"], ["r1", "r2", "r3"], domains)
    assert assignment.colocated == ()
    for replica, master in assignment.master_of.items():
        assert domains[replica] != domains[master]


def test_assign_replicas_one_master_and_one_replica_per_host_is_balanced() -> None:
    domains: dict[str, str | None] = {"m1": "a", "m2": "b", "m3": "c", "r1": "a", "r2": "b", "r3": "c"}
    assignment = assign_replicas(["m1", "m2", "m3"], ["r1", "r2", "r3"], domains)
    assert sorted(assignment.master_of.values()) == ["m1", "m2", "m3"]


def test_assign_replicas_reports_unavoidable_colocation() -> None:
    domains: dict[str, str | None] = {"m1": "a", "m2": "a", "m3": "a", "r1": "a", "r2": "a", "r3": "a"}
    assignment = assign_replicas(["m1", "m2", "m3"], ["r1", "r2", "r3"], domains)
    assert assignment.colocated == ("r1", "r2", "r3")
    # Balance still holds when nothing can be kept apart.
    assert dict(assignment.master_of) == {"r1": "m1", "r2": "m2", "r3": "m3"}


def test_assign_replicas_colocated_lists_exactly_the_replicas_next_to_their_master() -> None:
    # r3 shares host a with m1 but m2 (host b) is free: it goes there and nothing is reported.
    domains: dict[str, str | None] = {"m1": "a", "m2": "b", "r1": "c", "r2": "c", "r3": "a"}
    assignment = assign_replicas(["m1", "m2"], ["r1", "r2", "r3"], domains)
    assert assignment.colocated == ()
    assert assignment.master_of["r3"] == "m2"
    # A single master shares its host with one replica: that one is reported, the other is not.
    single = assign_replicas(["m1"], ["r1", "r2"], {"m1": "a", "r1": "a", "r2": "b"})
    assert single.colocated == ("r1",)
    assert dict(single.master_of) == {"r1": "m1", "r2": "m1"}


def test_assign_replicas_unknown_domains_never_conflict() -> None:
    domains: dict[str, str | None] = {"m1": None, "m2": None, "m3": None, "r1": None, "r2": None, "r3": None}
    assignment = assign_replicas(["m1", "m2", "m3"], ["r1", "r2", "r3"], domains)
    assert dict(assignment.master_of) == {"r1": "m1", "r2": "m2", "r3": "m3"}
    assert assignment.colocated == ()


# Services


def test_brief_service_names_and_roles(brief: DeploymentPlan) -> None:
    assert [(service.name, service.role) for service in brief.services] == [
        *[(f"redis-node-{index}", "cluster-node") for index in range(1, 7)],
        ("redis-fallback", "fallback-primary"),
        ("redis-fallback-replica", "fallback-replica"),
        ("redis-sentinel-1", "sentinel"),
        ("redis-sentinel-2", "sentinel"),
        ("redis-sentinel-3", "sentinel"),
        ("redis-exporter", "exporter"),
    ]


def test_brief_ports_are_published_on_loopback_only(brief: DeploymentPlan) -> None:
    published = {service.name: [(p.host_ip, p.host_port, p.container_port) for p in service.ports]
                 for service in brief.services}
    expected_ports = {
        **{f"redis-node-{index}": 7000 + index for index in range(1, 7)},
        "redis-fallback": 6380,
        "redis-fallback-replica": 6381,
        "redis-sentinel-1": 26379,
        "redis-sentinel-2": 26380,
        "redis-sentinel-3": 26381,
        "redis-exporter": 9121,
    }
    assert published == {name: [("127.0.0.1", port, port)] for name, port in expected_ports.items()}
    # The cluster bus is never published: it is only for the nodes, inside the network.
    bus_ports = {node.bus_port for node in brief.nodes}
    assert not bus_ports & {port.host_port for service in brief.services for port in service.ports}


def test_every_redis_service_has_its_own_data_volume(brief: DeploymentPlan) -> None:
    redis_services = [service for service in brief.services if service.role in {"cluster-node", "fallback-primary",
                                                                                 "fallback-replica"}]
    assert len(redis_services) == 8
    for service in redis_services:
        assert [(mount.volume, mount.path) for mount in service.volumes] == [(f"{service.name}-data", "/data")]
    for service in brief.services:
        if service.role in {"sentinel", "exporter"}:
            assert service.volumes == ()
    assert brief.volumes == tuple(f"{service.name}-data" for service in redis_services)


def test_services_run_rendered_files_and_read_secrets_from_files(brief: DeploymentPlan) -> None:
    node = brief.service("redis-node-1")
    assert node.image == "redis:7.2.5"
    assert node.entrypoint == ("sh", "/etc/cache-cluster/entrypoint.sh")
    assert set(node.files) == {"/etc/cache-cluster/redis.conf", "/etc/cache-cluster/entrypoint.sh"}
    assert node.secret_files == {
        "/run/secrets/redis-password": "password",
        "/run/secrets/redis-admin-password": "admin",
        "/run/secrets/redis-exporter-password": "exporter",
        "/run/secrets/redis-replication-password": "replication",
    }
    assert node.env == {}, "no secret (nor anything else) in the environment"
    assert node.healthcheck is not None and node.healthcheck.test == (
        "CMD-SHELL",
        '[ "$(redis-cli --no-auth-warning --user exporter --askpass -p 7001 ping '
        '< /run/secrets/redis-exporter-password)" = PONG ]',
    )
    assert node.memory_mb == 512
    assert node.healthcheck is not None and "7001" in " ".join(node.healthcheck.test)
    assert node.aliases == ("redis-node-1",) and node.hostname == "redis-node-1"
    sentinel = brief.service("redis-sentinel-2")
    assert set(sentinel.files) == {"/etc/cache-cluster/sentinel.conf", "/etc/cache-cluster/entrypoint.sh"}
    assert set(sentinel.secret_files.values()) == {"password", "admin", "exporter", "sentinel"}
    assert set(brief.service("redis-fallback").secret_files.values()) == {
        "password", "admin", "exporter", "replication", "sentinel"
    }
    assert {dep.service for dep in sentinel.depends_on} == {"redis-fallback"}
    replica = brief.service("redis-fallback-replica")
    assert [(dep.service, dep.condition) for dep in replica.depends_on] == [("redis-fallback", "service_healthy")]
    with pytest.raises(KeyError):
        brief.service("redis-node-7")


def test_exporter_service_and_targets(brief: DeploymentPlan) -> None:
    exporter = brief.service("redis-exporter")
    assert exporter.image == "oliver006/redis_exporter:v1.62.0"
    assert "--redis.addr=redis://redis-node-1:7001" in exporter.command
    assert "--web.listen-address=:9121" in exporter.command
    assert exporter.command[3:] == (
        "--redis.user=exporter",
        "--redis.password-file=/run/secrets/redis-exporter-password-map",
        "--config-command=-",
    )
    assert exporter.secret_files == {"/run/secrets/redis-exporter-password-map": "exporter-map"}
    assert exporter.env == {}
    assert {dep.service for dep in exporter.depends_on} == {f"redis-node-{index}" for index in range(1, 7)}
    assert brief.exporter_targets == (
        *(f"redis://redis-node-{index}:{7000 + index}" for index in range(1, 7)),
        "redis://redis-fallback:6380",
        "redis://redis-fallback-replica:6381",
        "redis://redis-sentinel-1:26379",
        "redis://redis-sentinel-2:26380",
        "redis://redis-sentinel-3:26381",
    )


def test_exporter_targets_cover_every_redis_service() -> None:
    deployment = plan(spec_of(topology={"replicas_per_master": 2}, sentinels={"count": 5, "quorum": 3}))
    redis_services = [service for service in deployment.services if service.role != "exporter"]
    expected = {f"redis://{service.name}:{service.ports[0].container_port}" for service in redis_services}
    assert set(deployment.exporter_targets) == expected
    assert len(deployment.exporter_targets) == 9 + 2 + 5


def test_fallback_disabled_drops_fallback_and_sentinels() -> None:
    deployment = plan(spec_of(fallback={"enabled": False}))
    roles = Counter(service.role for service in deployment.services)
    assert roles == {"cluster-node": 6, "exporter": 1}
    assert deployment.exporter_targets == tuple(f"redis://{node.address}" for node in deployment.nodes)


def test_exporter_disabled() -> None:
    deployment = plan(spec_of(exporter={"enabled": False}))
    assert "exporter" not in {service.role for service in deployment.services}
    assert deployment.exporter_targets == ()


def test_public_publish_address_opt_in_is_applied() -> None:
    deployment = plan(spec_of(network={"publish_address": "0.0.0.0", "allow_public_publish": True}))
    assert {port.host_ip for service in deployment.services for port in service.ports} == {"0.0.0.0"}


def test_host_address_map(brief: DeploymentPlan) -> None:
    mapping = brief.host_address_map()
    assert mapping["redis-node-1:7001"] == "127.0.0.1:7001"
    assert mapping["redis-node-6:7006"] == "127.0.0.1:7006"
    assert mapping["redis-fallback:6380"] == "127.0.0.1:6380"
    assert mapping["redis-sentinel-3:26381"] == "127.0.0.1:26381"
    assert mapping["redis-exporter:9121"] == "127.0.0.1:9121"
    assert len(mapping) == 12
    # Every address the applications are told about can be reached from the host.
    for address in BRIEF_NODES.split(","):
        host, port = mapping[address].split(":")
        assert host == "127.0.0.1" and port == address.split(":")[1]


# The applications' env contract


def test_brief_env_contract(brief: DeploymentPlan) -> None:
    public = brief.contract.public
    assert public["REDIS_CLUSTER_ENABLED"] == "true"
    assert public["REDIS_CLUSTER_NODES"] == BRIEF_NODES
    assert brief.contract.secret == {"REDIS_PASSWORD": "password"}
    assert "REDIS_PASSWORD" not in public
    assert public == {
        "REDIS_CLUSTER_ENABLED": "true",
        "REDIS_CLUSTER_NODES": BRIEF_NODES,
        "CACHE_FALLBACK_ORDER": "cluster,single,memory,database",
        "REDIS_FALLBACK_ENABLED": "true",
        "REDIS_HOST": "redis-fallback",
        "REDIS_PORT": "6380",
        "REDIS_SENTINELS": "redis-sentinel-1:26379,redis-sentinel-2:26380,redis-sentinel-3:26381",
        "REDIS_SENTINEL_MASTER": "cache-fallback",
        "CACHE_MEMORY_MAX_ENTRIES": "10000",
        "CACHE_MEMORY_MAX_MB": "64",
        "CACHE_MEMORY_TTL_SECONDS": "300",
        "REDIS_USERNAME": "app",
    }
    assert brief.contract.names()[:3] == ["REDIS_CLUSTER_ENABLED", "REDIS_CLUSTER_NODES", "CACHE_FALLBACK_ORDER"]
    assert "REDIS_PASSWORD" in brief.contract.names()


def test_password_never_in_the_public_contract(brief: DeploymentPlan) -> None:
    assert PASSWORD not in repr(brief.contract)
    assert all(PASSWORD not in value for value in brief.contract.public.values())


def test_render_dotenv_hides_the_password_unless_given(brief: DeploymentPlan) -> None:
    hidden = brief.contract.render_dotenv()
    assert f"REDIS_PASSWORD={HIDDEN}\n" in hidden
    assert PASSWORD not in hidden
    assert f"REDIS_CLUSTER_NODES={BRIEF_NODES}\n" in hidden
    assert "REDIS_CLUSTER_ENABLED=true\n" in hidden
    lines = [line for line in hidden.splitlines() if not line.startswith("#")]
    assert all("=" in line for line in lines)
    shown = brief.contract.render_dotenv({"password": PASSWORD})
    assert f"REDIS_PASSWORD={PASSWORD}\n" in shown
    assert shown.replace(PASSWORD, HIDDEN) == hidden
    # A secret of another kind does not reveal the password.
    assert PASSWORD not in brief.contract.render_dotenv({"acl:app": PASSWORD})


def test_contract_without_the_single_tier() -> None:
    contract = env_contract(spec_of(fallback={"tiers": ["cluster", "memory", "database"]}))
    assert contract.public["REDIS_FALLBACK_ENABLED"] == "false"
    assert contract.public["CACHE_FALLBACK_ORDER"] == "cluster,memory,database"
    for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"):
        assert name not in contract.public
    assert contract.public["CACHE_MEMORY_MAX_ENTRIES"] == "10000"


def test_contract_with_cluster_and_database_only() -> None:
    contract = env_contract(spec_of(fallback={"tiers": ["cluster", "database"]}))
    assert contract.public["CACHE_FALLBACK_ORDER"] == "cluster,database"
    assert contract.public["REDIS_FALLBACK_ENABLED"] == "false"
    assert not any(name.startswith("CACHE_MEMORY_") for name in contract.public)
    assert contract.public["REDIS_CLUSTER_NODES"] == BRIEF_NODES


def test_contract_with_fallback_disabled() -> None:
    contract = env_contract(spec_of(fallback={"enabled": False}))
    assert contract.public["REDIS_FALLBACK_ENABLED"] == "false"
    assert "REDIS_SENTINELS" not in contract.public
    assert contract.public["REDIS_CLUSTER_ENABLED"] == "true"
    assert contract.secret == {"REDIS_PASSWORD": "password"}


def test_contract_follows_the_spec() -> None:
    contract = env_contract(
        spec_of(
            topology={"masters": 3, "replicas_per_master": 2, "base_port": 8001},
            sentinels={"count": 5, "quorum": 3, "master_name": "fallback"},
            fallback={"primary_port": 6390, "replica_port": 6391, "memory_tier": {"max_entries": 500}},
        )
    )
    assert contract.public["REDIS_CLUSTER_NODES"].split(",") == [
        f"redis-node-{index}:{8000 + index}" for index in range(1, 10)
    ]
    assert contract.public["REDIS_SENTINELS"].count(",") == 4
    assert contract.public["REDIS_SENTINEL_MASTER"] == "fallback"
    assert contract.public["REDIS_PORT"] == "6390"
    assert contract.public["CACHE_MEMORY_MAX_ENTRIES"] == "500"


def test_plan_is_pure_and_repeatable() -> None:
    spec = spec_of(auth={"password": PASSWORD})
    assert plan(spec) == plan(spec)

"""Alert rules from the spec: names, severities, timing, runbook lines, and the spec's numbers in the expressions.
What the expressions do on series is promtool's job (test_promtool.py); here, what they are made of."""

from __future__ import annotations

from typing import Any

from cache_cluster.monitoring import render_rules
from cache_cluster.spec import ClusterSpec


def rules_of(**fields: Any) -> dict[str, dict[str, Any]]:
    spec = ClusterSpec.model_validate(fields)
    return {rule["alert"]: rule for group in render_rules(spec)["groups"] for rule in group["rules"]}


def test_groups_and_alerts_of_the_brief_deployment() -> None:
    groups = render_rules(ClusterSpec())["groups"]
    assert [(group["name"], [rule["alert"] for rule in group["rules"]]) for group in groups] == [
        (
            "cache-cluster.cluster",
            [
                "RedisClusterStateNotOk",
                "RedisClusterSlotsFailing",
                "RedisClusterSlotsUnassigned",
                "RedisClusterNodeNotJoined",
            ],
        ),
        ("cache-cluster.replication", ["RedisClusterMasterWithoutReplica", "RedisReplicaLinkDown"]),
        ("cache-cluster.capacity", ["RedisMemoryNearMaxmemory", "RedisEvictingKeys", "RedisRejectingConnections"]),
        ("cache-cluster.fallback", ["RedisFallbackPrimaryDown", "RedisSentinelQuorumLost", "RedisSentinelsDisagree"]),
        ("cache-cluster.scraping", ["RedisExporterDown", "RedisTargetDown"]),
    ]


def test_severities_and_for_durations() -> None:
    rules = rules_of()
    assert {name: (rule["labels"], rule["for"]) for name, rule in rules.items()} == {
        "RedisClusterStateNotOk": ({"severity": "critical"}, "1m"),
        "RedisClusterSlotsFailing": ({"severity": "critical"}, "1m"),
        "RedisClusterSlotsUnassigned": ({"severity": "critical"}, "2m"),
        "RedisClusterNodeNotJoined": ({"severity": "warning"}, "2m"),
        "RedisClusterMasterWithoutReplica": ({"severity": "critical"}, "1m"),
        "RedisReplicaLinkDown": ({"severity": "warning"}, "1m"),
        "RedisMemoryNearMaxmemory": ({"severity": "warning"}, "5m"),
        "RedisEvictingKeys": ({"severity": "warning"}, "5m"),
        "RedisRejectingConnections": ({"severity": "warning"}, "1m"),
        "RedisFallbackPrimaryDown": ({"severity": "critical"}, "1m"),
        "RedisSentinelQuorumLost": ({"severity": "critical"}, "1m"),
        "RedisSentinelsDisagree": ({"severity": "warning"}, "1m"),
        "RedisExporterDown": ({"severity": "critical"}, "1m"),
        "RedisTargetDown": ({"severity": "critical"}, "1m"),
    }


def test_every_alert_has_a_summary_and_a_runbook_naming_a_hook_command() -> None:
    commands = (
        "`cache-cluster status SPEC --via published`",
        "`cache-cluster validate SPEC --via published`",
        "`cache-cluster init SPEC --via published`",
    )
    for name, rule in rules_of().items():
        assert set(rule["annotations"]) == {"summary", "runbook"}, name
        assert rule["annotations"]["summary"].endswith("."), name
        assert any(command in rule["annotations"]["runbook"] for command in commands), name


def test_on_kubernetes_the_runbook_runs_the_hook_without_published_ports() -> None:
    rule = rules_of(target="kubernetes", environment="prod")["RedisClusterStateNotOk"]
    assert rule["annotations"]["runbook"] == (
        "Run `cache-cluster status SPEC` to see which shard is down; start its containers, or run "
        "`cache-cluster init SPEC` to heal a replaced node; then `cache-cluster validate SPEC`."
    )


def test_the_override_sets_every_for() -> None:
    rules = rules_of(monitoring={"alert_for_override_s": 4})
    assert {rule["for"] for rule in rules.values()} == {"4s"}
    assert {rule["for"] for rule in rules_of(monitoring={"alert_for_override_s": 120}).values()} == {"2m"}


def test_expressions_carry_the_spec_numbers_and_select_the_deployment() -> None:
    rules = rules_of(
        name="shop-cache",
        topology={"masters": 4, "replicas_per_master": 2},
        sentinels={"count": 5, "quorum": 3, "master_name": "shop-fallback"},
    )
    assert rules["RedisClusterNodeNotJoined"]["expr"] == (
        'redis_cluster_known_nodes{cache_cluster="shop-cache",cache_role="cluster-node"} < 12'
    )
    assert rules["RedisReplicaLinkDown"]["expr"] == (
        'redis_master_link_up{cache_cluster="shop-cache"} == 0\n'
        "or\n"
        '(redis_connected_slaves{cache_cluster="shop-cache",cache_role="cluster-node"} < 2 and on (cache_cluster, '
        'instance) redis_instance_info{cache_cluster="shop-cache",cache_role="cluster-node",role="master"})\n'
        "or\n"
        '(redis_connected_slaves{cache_cluster="shop-cache",cache_role=~"fallback-primary|fallback-replica"} < 1 and '
        'on (cache_cluster, instance) redis_instance_info{cache_cluster="shop-cache",'
        'cache_role=~"fallback-primary|fallback-replica",role="master"})'
    )
    assert rules["RedisSentinelQuorumLost"]["expr"] == (
        "min without (message) (redis_sentinel_master_ckquorum_status"
        '{cache_cluster="shop-cache",cache_role="sentinel",master_name="shop-fallback"}) == 0\n'
        "or\n"
        'count by (cache_cluster) (redis_up{cache_cluster="shop-cache",cache_role="sentinel"} == 1) < 3'
    )
    assert rules["RedisFallbackPrimaryDown"]["expr"].endswith(
        "count by (cache_cluster, master_name) (redis_sentinel_master_status"
        '{cache_cluster="shop-cache",cache_role="sentinel",master_name="shop-fallback"} == 0) >= 3'
    )
    assert rules["RedisExporterDown"]["expr"] == 'up{job="shop-cache-exporter"} == 0'


def test_without_replicas_there_is_no_master_without_replica_alert() -> None:
    rules = rules_of(topology={"replicas_per_master": 0})
    assert "RedisClusterMasterWithoutReplica" not in rules
    assert rules["RedisReplicaLinkDown"]["expr"] == (
        'redis_master_link_up{cache_cluster="cache-cluster"} == 0\n'
        "or\n"
        '(redis_connected_slaves{cache_cluster="cache-cluster",cache_role=~"fallback-primary|fallback-replica"} < 1 '
        'and on (cache_cluster, instance) redis_instance_info{cache_cluster="cache-cluster",'
        'cache_role=~"fallback-primary|fallback-replica",role="master"})'
    )


def test_memory_alert_is_critical_only_where_a_full_server_refuses_writes() -> None:
    lru = rules_of()["RedisMemoryNearMaxmemory"]
    assert lru["labels"] == {"severity": "warning"}
    assert lru["annotations"]["summary"] == (
        "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its maxmemory: writes now evict keys "
        "(allkeys-lru), or fail where nothing can be evicted."
    )
    strict = rules_of(memory={"maxmemory_policy": "noeviction"})["RedisMemoryNearMaxmemory"]
    assert strict["labels"] == {"severity": "critical"}
    assert strict["annotations"]["summary"] == (
        "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its maxmemory: writes fail with OOM "
        "(noeviction)."
    )


def test_without_the_fallback_tier_its_alerts_are_left_out() -> None:
    rules = rules_of(fallback={"enabled": False})
    assert not {"RedisFallbackPrimaryDown", "RedisSentinelQuorumLost", "RedisSentinelsDisagree"} & set(rules)
    assert len(rules) == 11
    assert "fallback" not in rules["RedisReplicaLinkDown"]["expr"]

"""validate's pure parts: what each server must run with, and how a difference is reported."""

from __future__ import annotations

from cache_cluster.hook.validate import config_drift, expected_config
from cache_cluster.spec import ClusterSpec

SPEC = ClusterSpec.model_validate(
    {
        "memory": {"container_memory_mb": 512, "maxmemory_mb": 300, "maxmemory_policy": "allkeys-lfu"},
        "topology": {"node_timeout_ms": 2500, "require_full_coverage": True},
    }
)


def test_expected_config_as_config_get_reports_it() -> None:
    assert expected_config(SPEC, "cluster") == {
        "maxmemory": "314572800",
        "maxmemory-policy": "allkeys-lfu",
        "cluster-node-timeout": "2500",
        "cluster-require-full-coverage": "yes",
        "cluster-allow-reads-when-down": "no",
    }
    assert expected_config(SPEC, "fallback-primary") == {"maxmemory": "314572800", "maxmemory-policy": "allkeys-lfu"}


def test_config_drift_names_each_setting_that_differs() -> None:
    expected = expected_config(SPEC, "cluster")
    deployed = {**expected, "cluster-node-timeout": "500", "maxmemory": "0"}
    del deployed["cluster-allow-reads-when-down"]
    assert config_drift("redis-node-1:7001", expected, deployed) == [
        "redis-node-1:7001: maxmemory 0, spec says 314572800",
        "redis-node-1:7001: cluster-node-timeout 500, spec says 2500",
        "redis-node-1:7001: cluster-allow-reads-when-down not set, spec says no",
    ]
    assert config_drift("redis-node-1:7001", expected, expected) == []

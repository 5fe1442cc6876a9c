"""prometheus.yml from the spec: the multi-target job (every instance through the exporter's /scrape), the
exporter's own job, timing, and the labels every series gets."""

from __future__ import annotations

from cache_cluster.monitoring import render_prometheus_config, scrape_targets
from cache_cluster.monitoring.targets import ScrapeTarget
from cache_cluster.plan import plan
from cache_cluster.spec import ClusterSpec


def test_the_whole_configuration_of_a_small_deployment() -> None:
    spec = ClusterSpec.model_validate(
        {"name": "tiny", "topology": {"replicas_per_master": 0}, "fallback": {"enabled": False}}
    )
    node = {"cache_role": "cluster-node", "cache_cluster": "tiny"}
    assert render_prometheus_config(spec) == {
        "global": {"scrape_interval": "15s", "scrape_timeout": "10s", "evaluation_interval": "15s"},
        "rule_files": ["cache-cluster.rules.yml"],
        "scrape_configs": [
            {
                "job_name": "tiny-redis",
                "metrics_path": "/scrape",
                "static_configs": [
                    {"targets": ["redis://redis-node-1:7001"], "labels": {"instance": "redis-node-1", **node}},
                    {"targets": ["redis://redis-node-2:7002"], "labels": {"instance": "redis-node-2", **node}},
                    {"targets": ["redis://redis-node-3:7003"], "labels": {"instance": "redis-node-3", **node}},
                ],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"target_label": "__address__", "replacement": "redis-exporter:9121"},
                ],
            },
            {
                "job_name": "tiny-exporter",
                "static_configs": [
                    {
                        "targets": ["redis-exporter:9121"],
                        "labels": {"instance": "redis-exporter", "cache_cluster": "tiny"},
                    }
                ],
                "metric_relabel_configs": [
                    {
                        "source_labels": ["__name__"],
                        "regex": "redis_exporter_.*|go_.*|process_.*|promhttp_.*",
                        "action": "keep",
                    }
                ],
            },
        ],
    }


def test_every_node_both_fallback_servers_and_the_sentinels_are_scraped() -> None:
    assert [(target.service, target.port, target.cache_role) for target in scrape_targets(ClusterSpec())] == [
        ("redis-node-1", 7001, "cluster-node"),
        ("redis-node-2", 7002, "cluster-node"),
        ("redis-node-3", 7003, "cluster-node"),
        ("redis-node-4", 7004, "cluster-node"),
        ("redis-node-5", 7005, "cluster-node"),
        ("redis-node-6", 7006, "cluster-node"),
        ("redis-fallback", 6380, "fallback-primary"),
        ("redis-fallback-replica", 6381, "fallback-replica"),
        ("redis-sentinel-1", 26379, "sentinel"),
        ("redis-sentinel-2", 26380, "sentinel"),
        ("redis-sentinel-3", 26381, "sentinel"),
    ]


def test_the_hook_checks_the_same_targets_prometheus_scrapes() -> None:
    deployment = plan(ClusterSpec())
    job = render_prometheus_config(deployment.spec)["scrape_configs"][0]
    scraped = [target for group in job["static_configs"] for target in group["targets"]]
    assert tuple(scraped) == deployment.exporter_targets


def test_exporter_address_and_timing_follow_the_spec() -> None:
    spec = ClusterSpec.model_validate(
        {"exporter": {"name": "metrics", "port": 9500}, "monitoring": {"scrape_interval_s": 2}}
    )
    config = render_prometheus_config(spec)
    assert config["global"] == {"scrape_interval": "2s", "scrape_timeout": "2s", "evaluation_interval": "2s"}
    assert config["scrape_configs"][0]["relabel_configs"][1] == {
        "target_label": "__address__",
        "replacement": "metrics:9500",
    }
    assert config["scrape_configs"][1]["static_configs"][0]["targets"] == ["metrics:9500"]


def test_another_network_names_the_targets_its_own_way() -> None:
    def kubernetes_name(target: ScrapeTarget) -> str:
        return f"{target.service}.cache-nodes.cache.svc.cluster.local"

    job = render_prometheus_config(ClusterSpec(), host_of=kubernetes_name)["scrape_configs"][0]
    assert job["static_configs"][0] == {
        "targets": ["redis://redis-node-1.cache-nodes.cache.svc.cluster.local:7001"],
        "labels": {"instance": "redis-node-1", "cache_role": "cluster-node", "cache_cluster": "cache-cluster"},
    }

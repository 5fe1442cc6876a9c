"""The metrics the alert rules and the dashboard use exist in the real exporter's output (Debian's
prometheus-redis-exporter), for the kinds of instance they select: a formed cluster's nodes, the fallback
primary and replica, and the sentinels, each scraped through the exporter's /scrape?target=."""

from __future__ import annotations

import re
import urllib.request
from collections import defaultdict

import pytest

from cache_cluster.hook import run_init
from cache_cluster.monitoring import dashboard_queries, render_dashboard, render_rules

from .conftest import Clusters, Tier
from .harness import Deployment

pytestmark = pytest.mark.integration

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})? (?P<value>\S+)$")


@pytest.fixture(scope="module")
def formed(module_clusters: Clusters) -> Deployment:
    deployment = module_clusters.make()
    report = run_init(deployment.targets(), module_clusters.password, timeout=60)
    assert report.outcome == "healthy", report.summary
    return deployment


def scrape(tier: Tier, target: str) -> dict[str, list[str]]:
    """Metric name -> the sample lines of one /scrape."""
    url = f"http://127.0.0.1:{tier.ports.exporter}/scrape?target={target}"
    with urllib.request.urlopen(url, timeout=15) as response:
        text = response.read().decode()
    samples: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            samples[match["name"]].append(line)
    return samples


def used_metrics(expressions: list[str]) -> set[str]:
    return set(re.findall(r"\bredis_[a-z0-9_]+", " ".join(expressions)))


def test_every_metric_in_the_rules_and_the_dashboard_is_exported(formed: Deployment, tier: Tier) -> None:
    spec = formed.spec
    roles = {
        "cluster-node": formed.exporter_targets[:6],
        "fallback-primary": formed.exporter_targets[6:7],
        "fallback-replica": formed.exporter_targets[7:8],
        "sentinel": formed.exporter_targets[8:],
    }
    exported: dict[str, set[str]] = {role: set() for role in roles}
    for role, targets in roles.items():
        for target in targets:
            samples = scrape(tier, target)
            assert samples["redis_up"] == ["redis_up 1"], (target, samples["redis_up"])
            exported[role] |= set(samples)
    rules = [rule["expr"] for group in render_rules(spec)["groups"] for rule in group["rules"]]
    used = used_metrics(rules) | used_metrics(dashboard_queries(render_dashboard(spec)))
    everywhere = set.union(*exported.values())
    assert used <= everywhere, f"not exported by any instance: {sorted(used - everywhere)}"
    # What each kind of instance must report for the rules about it to see anything.
    assert {"redis_cluster_state", "redis_cluster_slots_fail", "redis_cluster_slots_assigned",
            "redis_cluster_known_nodes", "redis_cluster_current_epoch", "redis_connected_slaves",
            "redis_master_link_up"} <= exported["cluster-node"]
    assert {"redis_connected_slaves", "redis_connected_slave_offset_bytes"} <= exported["fallback-primary"]
    assert {"redis_master_link_up"} <= exported["fallback-replica"]
    assert {"redis_sentinel_master_status", "redis_sentinel_master_ckquorum_status",
            "redis_sentinel_master_ok_sentinels", "redis_sentinel_master_ok_slaves"} <= exported["sentinel"]


def test_a_formed_cluster_reports_what_the_rules_call_healthy(formed: Deployment, tier: Tier) -> None:
    for target in formed.exporter_targets[:6]:
        samples = scrape(tier, target)
        assert samples["redis_cluster_state"] == ["redis_cluster_state 1"], target
        assert samples["redis_cluster_slots_assigned"] == ["redis_cluster_slots_assigned 16384"], target
        assert samples["redis_cluster_slots_fail"] == ["redis_cluster_slots_fail 0"], target
        assert samples["redis_cluster_known_nodes"] == ["redis_cluster_known_nodes 6"], target
    sentinel = scrape(tier, formed.exporter_targets[8])
    (ckquorum,) = sentinel["redis_sentinel_master_ckquorum_status"]
    assert 'master_name="cache-fallback"' in ckquorum and ckquorum.endswith(" 1")

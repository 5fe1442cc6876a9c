"""The Grafana dashboard: its panels, its variables, its layout, and that every query is about one deployment
and uses metrics the exporter has (the integration tier checks the names against the real exporter too)."""

from __future__ import annotations

import re

from cache_cluster.monitoring import dashboard_queries, render_dashboard
from cache_cluster.spec import ClusterSpec

# Seen in the /scrape output of Debian's prometheus-redis-exporter 1.45 for a cluster node, the fallback primary
# and replica, and a sentinel (the same names in upstream's 1.6x sources).
EXPORTER_METRICS = {
    "redis_cluster_current_epoch",
    "redis_cluster_known_nodes",
    "redis_cluster_slots_assigned",
    "redis_cluster_slots_fail",
    "redis_cluster_slots_ok",
    "redis_cluster_state",
    "redis_commands_processed_total",
    "redis_connected_slave_offset_bytes",
    "redis_connected_slaves",
    "redis_evicted_keys_total",
    "redis_instance_info",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_master_link_up",
    "redis_master_repl_offset",
    "redis_memory_max_bytes",
    "redis_memory_used_bytes",
    "redis_rejected_connections_total",
    "redis_sentinel_master_ckquorum_status",
    "redis_sentinel_master_ok_sentinels",
    "redis_sentinel_master_ok_slaves",
    "redis_sentinel_master_status",
    "redis_up",
}


def test_panels_cover_what_an_operator_looks_at() -> None:
    panels = render_dashboard(ClusterSpec())["panels"]
    assert [(panel["title"], panel["type"]) for panel in panels] == [
        ("Cluster state", "stat"),
        ("Hash slots", "stat"),
        ("Instances up", "stat"),
        ("Cluster failovers in range", "stat"),
        ("Ops/s per node", "timeseries"),
        ("Memory used / maxmemory", "timeseries"),
        ("Hit ratio", "timeseries"),
        ("Evictions and rejected connections /s", "timeseries"),
        ("Replication offset lag", "timeseries"),
        ("Replication links", "timeseries"),
        ("Current roles", "table"),
        ("Sentinel view", "table"),
    ]


def test_without_the_fallback_tier_there_is_no_sentinel_panel() -> None:
    titles = [panel["title"] for panel in render_dashboard(ClusterSpec(fallback={"enabled": False}))["panels"]]
    assert "Sentinel view" not in titles and len(titles) == 11


def test_every_query_selects_the_chosen_deployment_and_uses_exporter_metrics() -> None:
    queries = dashboard_queries(render_dashboard(ClusterSpec()))
    assert len(queries) == 20
    for query in queries:
        assert 'cache_cluster="$cluster"' in query, query
        used = set(re.findall(r"\bredis_[a-z0-9_]+", query))
        assert used and used <= EXPORTER_METRICS, query


def test_variables_default_to_the_spec_and_a_prometheus_source() -> None:
    dashboard = render_dashboard(ClusterSpec(name="shop-cache"))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["cluster"]["current"] == {"text": "shop-cache", "value": "shop-cache"}
    assert variables["cluster"]["definition"] == "label_values(redis_up, cache_cluster)"
    assert dashboard["uid"] == "cache-shop-cache"
    assert dashboard["title"] == "cache-cluster: shop-cache"
    assert all(
        target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for panel in dashboard["panels"]
        for target in panel["targets"]
    )


def test_uid_fits_grafanas_limit_for_the_longest_name() -> None:
    longest = "a" * 42
    assert len(render_dashboard(ClusterSpec(name=longest))["uid"]) == 40


def test_panels_tile_the_24_column_grid_without_overlap() -> None:
    panels = render_dashboard(ClusterSpec())["panels"]
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        columns = range(grid["x"], grid["x"] + grid["w"])
        covered = {(x, y) for x in columns for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not covered & cells, panel["title"]
        cells |= covered
    assert [panel["id"] for panel in panels] == list(range(1, len(panels) + 1))
    assert [panel["gridPos"]["y"] for panel in panels] == [0, 0, 0, 0, 4, 4, 12, 12, 20, 20, 28, 36]

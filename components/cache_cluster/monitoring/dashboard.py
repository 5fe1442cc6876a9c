"""A Grafana dashboard (JSON model, schema 39) for one deployment.

Panels: cluster state and slots, instances up, ops/s per node, memory against maxmemory, hit ratio, replication
offset lag, failovers and current roles, evictions and rejected connections, and the sentinels' view of the
fallback primary. Every query selects `cache_cluster="$cluster"` (a dashboard variable defaulting to the
spec's name) and uses only the exporter's metrics and the labels targets.py sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..spec import SLOT_COUNT, ClusterSpec
from .rules import MEMORY_NEAR_MAX_RATIO
from .targets import CLUSTER_LABEL, ROLE_LABEL

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24
IN_CLUSTER = f'{CLUSTER_LABEL}="$cluster"'
NODES = f'{IN_CLUSTER},{ROLE_LABEL}="cluster-node"'
SERVERS = f'{IN_CLUSTER},{ROLE_LABEL}!="sentinel"'
SENTINELS = f'{IN_CLUSTER},{ROLE_LABEL}="sentinel"'
PanelType = Literal["stat", "timeseries", "table"]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    type: PanelType
    queries: tuple[Query, ...]
    width: int
    height: int
    unit: str = "short"
    description: str = ""
    mappings: tuple[dict[str, Any], ...] = field(default=())
    thresholds: tuple[tuple[float | None, str], ...] = ((None, "green"),)


def _rate(metric: str, selector: str) -> str:
    return f"sum by (instance) (rate({metric}{{{selector}}}[$__rate_interval]))"


def overview_panels() -> list[Panel]:
    state_text = (
        {"type": "value", "options": {"0": {"text": "fail", "color": "red"}, "1": {"text": "ok", "color": "green"}}},
    )
    return [
        Panel(
            "Cluster state",
            "stat",
            (Query(f"min(redis_cluster_state{{{NODES}}})", "cluster_state"),),
            6,
            4,
            description="The worst cluster_state any reachable node reports (1 ok, 0 fail).",
            mappings=state_text,
            thresholds=((None, "red"), (1, "green")),
        ),
        Panel(
            "Hash slots",
            "stat",
            (
                Query(f"min(redis_cluster_slots_assigned{{{NODES}}})", "assigned"),
                Query(f"min(redis_cluster_slots_ok{{{NODES}}})", "ok"),
                Query(f"max(redis_cluster_slots_fail{{{NODES}}})", "failing"),
            ),
            6,
            4,
            description=f"Of {SLOT_COUNT}: assigned and ok (lowest any node reports) and failing (highest).",
        ),
        Panel(
            "Instances up",
            "stat",
            (
                Query(f"sum(redis_up{{{IN_CLUSTER}}})", "up"),
                Query(f"count(redis_up{{{IN_CLUSTER}}})", "scraped"),
            ),
            6,
            4,
            description="Instances that answer the exporter, of every instance Prometheus scrapes.",
        ),
        Panel(
            "Cluster failovers in range",
            "stat",
            (Query(f"max(changes(redis_cluster_current_epoch{{{NODES}}}[$__range]))", "epoch changes"),),
            6,
            4,
            description="Changes of the cluster's current epoch: each failover (and slot reconfiguration) bumps it.",
            thresholds=((None, "green"), (1, "orange")),
        ),
    ]


def traffic_panels() -> list[Panel]:
    hits = _rate("redis_keyspace_hits_total", SERVERS)
    misses = _rate("redis_keyspace_misses_total", SERVERS)
    return [
        Panel(
            "Ops/s per node",
            "timeseries",
            (Query(_rate("redis_commands_processed_total", SERVERS), "{{instance}}"),),
            12,
            8,
            unit="ops",
        ),
        Panel(
            "Memory used / maxmemory",
            "timeseries",
            (
                Query(
                    f"redis_memory_used_bytes{{{SERVERS}}} / (redis_memory_max_bytes{{{SERVERS}}} > 0)",
                    "{{instance}}",
                ),
            ),
            12,
            8,
            unit="percentunit",
            description=f"The memory alert fires above {MEMORY_NEAR_MAX_RATIO:.0%}.",
            thresholds=((None, "green"), (MEMORY_NEAR_MAX_RATIO, "red")),
        ),
        Panel(
            "Hit ratio",
            "timeseries",
            (Query(f"{hits} / ({hits} + {misses})", "{{instance}}"),),
            12,
            8,
            unit="percentunit",
            description="Keyspace hits over lookups; empty while an instance serves no reads.",
        ),
        Panel(
            "Evictions and rejected connections /s",
            "timeseries",
            (
                Query(_rate("redis_evicted_keys_total", SERVERS), "evicted {{instance}}"),
                Query(_rate("redis_rejected_connections_total", SERVERS), "rejected {{instance}}"),
            ),
            12,
            8,
            unit="ops",
        ),
    ]


def replication_panels() -> list[Panel]:
    lag = (
        f"max by ({CLUSTER_LABEL}, instance) (redis_master_repl_offset{{{SERVERS}}})\n"
        f"- on ({CLUSTER_LABEL}, instance) group_right\nredis_connected_slave_offset_bytes{{{SERVERS}}}"
    )
    return [
        Panel(
            "Replication offset lag",
            "timeseries",
            (Query(lag, "{{instance}} -> {{slave_ip}}:{{slave_port}}"),),
            12,
            8,
            unit="bytes",
            description="Bytes each replica is behind its master (the master's offset minus the replica's).",
        ),
        Panel(
            "Replication links",
            "timeseries",
            (
                Query(f"redis_master_link_up{{{SERVERS}}}", "link {{instance}}"),
                Query(
                    f'redis_connected_slaves{{{SERVERS}}} and on ({CLUSTER_LABEL}, instance) '
                    f'redis_instance_info{{{SERVERS},role="master"}}',
                    "replicas of {{instance}}",
                ),
            ),
            12,
            8,
            description="Replicas: their link to the master (1 up). Masters: how many replicas are linked.",
        ),
        Panel(
            "Current roles",
            "table",
            (Query(f"redis_instance_info{{{SERVERS}}}", ""),),
            24,
            8,
            description="Who is master now: after a failover a replica shows role master.",
        ),
    ]


def sentinel_panels(spec: ClusterSpec) -> list[Panel]:
    if not spec.fallback.enabled:
        return []
    return [
        Panel(
            "Sentinel view",
            "table",
            (
                Query(f"redis_sentinel_master_status{{{SENTINELS}}}", "status"),
                Query(f"redis_sentinel_master_ok_sentinels{{{SENTINELS}}}", "ok sentinels"),
                Query(f"redis_sentinel_master_ok_slaves{{{SENTINELS}}}", "ok replicas"),
                Query(f"min without (message) (redis_sentinel_master_ckquorum_status{{{SENTINELS}}})", "quorum"),
            ),
            24,
            8,
            description=(
                f"Each sentinel's primary of {spec.sentinels.master_name} (master_address), its status, the "
                f"sentinels and replicas it sees, and whether its quorum of {spec.sentinels.quorum} is reachable."
            ),
        ),
    ]


def dashboard_panels(spec: ClusterSpec) -> list[Panel]:
    return [*overview_panels(), *traffic_panels(), *replication_panels(), *sentinel_panels(spec)]


def _target(query: Query, ref: str, panel_type: PanelType) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": DATASOURCE, "expr": query.expr}
    if panel_type == "table":
        target |= {"format": "table", "instant": True, "range": False}
    else:
        target |= {"legendFormat": query.legend or "__auto", "range": True}
    return target


def _render_panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps = [{"color": color, "value": value} for value, color in panel.thresholds]
    rendered: dict[str, Any] = {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "mappings": list(panel.mappings),
                "thresholds": {"mode": "absolute", "steps": steps},
            },
            "overrides": [],
        },
        "targets": [_target(query, chr(ord("A") + index), panel.type) for index, query in enumerate(panel.queries)],
    }
    if panel.description:
        rendered["description"] = panel.description
    if panel.type == "table":
        rendered["transformations"] = [{"id": "merge", "options": {}}]
    return rendered


def _layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Left to right, top to bottom, on Grafana's 24-column grid."""
    rendered, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        rendered.append(_render_panel(panel, panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return rendered


def _variables(spec: ClusterSpec) -> list[dict[str, Any]]:
    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        {
            "name": "cluster",
            "label": "Deployment",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": f"label_values(redis_up, {CLUSTER_LABEL})", "refId": "cluster"},
            "definition": f"label_values(redis_up, {CLUSTER_LABEL})",
            "current": {"text": spec.name, "value": spec.name},
            "refresh": 1,
            "hide": 0,
        },
    ]


def render_dashboard(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "uid": f"cache-{spec.name}"[:40],
        "title": f"cache-cluster: {spec.name}",
        "description": "Generated by cache-cluster from the cluster spec; regenerate instead of editing.",
        "tags": ["cache-cluster", "redis"],
        "timezone": "browser",
        "editable": True,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": _variables(spec)},
        "panels": _layout(dashboard_panels(spec)),
    }


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a rendered dashboard, in panel order."""
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

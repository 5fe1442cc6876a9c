"""Prometheus Operator objects (Kubernetes, `monitoring.prometheus_operator: true`): a ServiceMonitor and a
PrometheusRule carrying the same scrape jobs and rules as prometheus.yml, as plain dicts.

The ServiceMonitor selects the exporter's Service and has one endpoint per Redis instance (the multi-target
pattern: `path: /scrape`, `params: {target: [...]}`), plus one for the exporter itself. The operator names the
job after the Service; relabelings set `job` back to the two job names of prometheus.yml, and `instance`,
`cache_role`, `cache_cluster` as targets.py does, so the rules and the dashboard work unchanged.

Field names follow the operator's CRDs (monitoring.coreos.com/v1: ServiceMonitor `spec.selector`,
`spec.namespaceSelector.matchNames`, `spec.endpoints[].port/path/params/interval/scrapeTimeout/relabelings/
metricRelabelings`; PrometheusRule `spec.groups[].name/rules[].alert/expr/for/labels/annotations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec import ClusterSpec
from .prometheus_config import DEFAULT_SCRAPE_TIMEOUT_S, duration
from .rules import render_rule_groups
from .targets import (
    CLUSTER_LABEL,
    EXPORTER_OWN_METRICS,
    SCRAPE_PATH,
    HostOf,
    exporter_job,
    redis_job,
    scrape_targets,
    service_host,
)

API_VERSION = "monitoring.coreos.com/v1"
DEFAULT_PORT_NAME = "metrics"


def _set(label: str, value: str) -> dict[str, str]:
    return {"action": "replace", "targetLabel": label, "replacement": value}


def object_labels(spec: ClusterSpec, extra: Mapping[str, str]) -> dict[str, str]:
    """`app.kubernetes.io/*` labels, then the caller's (e.g. the label a Prometheus' ruleSelector matches)."""
    return {
        "app.kubernetes.io/name": "cache-cluster",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": "monitoring",
        "app.kubernetes.io/part-of": "cache-cluster",
        **extra,
    }


def render_service_monitor(
    spec: ClusterSpec,
    *,
    exporter_service_labels: Mapping[str, str],
    host_of: HostOf = service_host,
    port_name: str = DEFAULT_PORT_NAME,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ServiceMonitor. `exporter_service_labels`: the labels of the exporter's Service (its selector);
    `host_of`: the DNS name the exporter dials for each instance; `port_name`: the Service's port name."""
    namespace = spec.kubernetes.namespace
    interval = spec.monitoring.scrape_interval_s
    timing = {
        "interval": duration(interval),
        "scrapeTimeout": duration(min(interval, DEFAULT_SCRAPE_TIMEOUT_S)),
    }
    endpoints: list[dict[str, Any]] = [
        {
            "port": port_name,
            "path": SCRAPE_PATH,
            "params": {"target": [target.url(host_of(target))]},
            **timing,
            "relabelings": [_set("job", redis_job(spec)), *(_set(k, v) for k, v in target.labels(spec).items())],
        }
        for target in scrape_targets(spec)
    ]
    endpoints.append(
        {
            "port": port_name,
            "path": "/metrics",
            **timing,
            "relabelings": [
                _set("job", exporter_job(spec)),
                _set("instance", spec.exporter.name),
                _set(CLUSTER_LABEL, spec.name),
            ],
            "metricRelabelings": [{"action": "keep", "sourceLabels": ["__name__"], "regex": EXPORTER_OWN_METRICS}],
        }
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": {"name": f"{spec.name}-redis", "namespace": namespace, "labels": object_labels(spec, labels or {})},
        "spec": {
            "selector": {"matchLabels": dict(exporter_service_labels)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": endpoints,
        },
    }


def render_prometheus_rule(spec: ClusterSpec, *, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The PrometheusRule: the same groups as the rule file."""
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{spec.name}-alerts",
            "namespace": spec.kubernetes.namespace,
            "labels": object_labels(spec, labels or {}),
        },
        "spec": {"groups": render_rule_groups(spec)},
    }

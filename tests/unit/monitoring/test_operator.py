"""ServiceMonitor and PrometheusRule for the Prometheus Operator.

kubernetes-validate has no schema for custom resources, so their shape is checked against the fields of the
operator's CRDs (monitoring.coreos.com/v1, read from prometheus-operator's example/prometheus-operator-crd/
monitoring.coreos.com_servicemonitors.yaml and _prometheusrules.yaml), written out below as JSON Schema for the
fields we use, with every other field refused: a structural CRD silently prunes a field it does not know, so a
misspelt one would be lost without an error. The metadata is checked by kubernetes-validate as an ObjectMeta,
and the rules by promtool.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from cache_cluster.monitoring import render_prometheus_rule, render_rules, render_service_monitor
from cache_cluster.spec import ClusterSpec
from tests.conftest import require

# The CRDs' own patterns.
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


RELABEL_CONFIG = _closed(
    {
        "action": {"enum": ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod"]},
        "sourceLabels": {"type": "array", "items": {"type": "string", "pattern": LABEL_NAME}},
        "separator": {"type": "string"},
        "regex": {"type": "string"},
        "targetLabel": {"type": "string"},
        "replacement": {"type": "string"},
    }
)
METADATA = _closed(
    {"name": {"type": "string"}, "namespace": {"type": "string"}, "labels": STRINGS}, ("name", "namespace")
)
SERVICE_MONITOR = _closed(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": _closed(
            {
                "selector": _closed({"matchLabels": STRINGS}),
                "namespaceSelector": _closed({"matchNames": {"type": "array", "items": {"type": "string"}}}),
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": _closed(
                        {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "params": {
                                "type": "object",
                                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                            },
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "relabelings": {"type": "array", "items": RELABEL_CONFIG},
                            "metricRelabelings": {"type": "array", "items": RELABEL_CONFIG},
                        }
                    ),
                },
            },
            ("endpoints", "selector"),
        ),
    },
    ("spec",),
)
PROMETHEUS_RULE = _closed(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": METADATA,
        "spec": _closed(
            {
                "groups": {
                    "type": "array",
                    "items": _closed(
                        {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string", "pattern": DURATION},
                            "rules": {
                                "type": "array",
                                "items": _closed(
                                    {
                                        "alert": {"type": "string"},
                                        "expr": {"type": "string"},
                                        "for": {"type": "string", "pattern": DURATION},
                                        "labels": STRINGS,
                                        "annotations": STRINGS,
                                    },
                                    ("expr",),
                                ),
                            },
                        },
                        ("name",),
                    ),
                }
            }
        ),
    },
    ("spec",),
)
SPEC = ClusterSpec.model_validate(
    {"target": "kubernetes", "environment": "prod", "monitoring": {"prometheus_operator": True}}
)
EXPORTER_SERVICE = {"app.kubernetes.io/name": "cache-cluster", "app.kubernetes.io/component": "exporter"}


def service_monitor() -> dict[str, Any]:
    return render_service_monitor(
        SPEC, exporter_service_labels=EXPORTER_SERVICE, labels={"release": "prometheus"}
    )


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PrometheusRule"])
def test_objects_have_the_crds_shape_and_valid_metadata(kind: str) -> None:
    if kind == "ServiceMonitor":
        obj, schema = service_monitor(), SERVICE_MONITOR
    else:
        obj, schema = render_prometheus_rule(SPEC), PROMETHEUS_RULE
    jsonschema.validate(obj, schema)
    as_object_meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
    for version in ("1.28.0", "1.33.0"):
        kubernetes_validate.validate(as_object_meta, version, strict=True)


def test_the_schema_refuses_a_misspelt_field() -> None:
    broken = service_monitor()
    broken["spec"]["endpoints"][0]["relabellings"] = broken["spec"]["endpoints"][0].pop("relabelings")
    with pytest.raises(jsonschema.ValidationError, match="relabellings"):
        jsonschema.validate(broken, SERVICE_MONITOR)


def test_service_monitor_scrapes_every_instance_through_the_exporter() -> None:
    monitor = service_monitor()
    assert monitor["metadata"] == {
        "name": "cache-cluster-redis",
        "namespace": "cache",
        "labels": {
            "app.kubernetes.io/name": "cache-cluster",
            "app.kubernetes.io/instance": "cache-cluster",
            "app.kubernetes.io/component": "monitoring",
            "app.kubernetes.io/part-of": "cache-cluster",
            "release": "prometheus",
        },
    }
    spec = monitor["spec"]
    assert spec["selector"] == {"matchLabels": EXPORTER_SERVICE}
    assert spec["namespaceSelector"] == {"matchNames": ["cache"]}
    endpoints = spec["endpoints"]
    assert len(endpoints) == 6 + 2 + 3 + 1
    assert endpoints[0] == {
        "port": "metrics",
        "path": "/scrape",
        "params": {"target": ["redis://redis-node-1.redis-node-headless.cache.svc.cluster.local:7001"]},
        "interval": "15s",
        "scrapeTimeout": "10s",
        "relabelings": [
            {"action": "replace", "targetLabel": "job", "replacement": "cache-cluster-redis"},
            {"action": "replace", "targetLabel": "instance", "replacement": "redis-node-1"},
            {"action": "replace", "targetLabel": "cache_role", "replacement": "cluster-node"},
            {"action": "replace", "targetLabel": "cache_cluster", "replacement": "cache-cluster"},
        ],
    }
    # The names the pods and Services have on Kubernetes (addresses.py); every sentinel listens on one port.
    assert [endpoint["params"]["target"][0] for endpoint in endpoints[6:11]] == [
        "redis://redis-fallback.cache.svc.cluster.local:6380",
        "redis://redis-fallback-replica.cache.svc.cluster.local:6381",
        "redis://redis-sentinel-1.redis-sentinel-headless.cache.svc.cluster.local:26379",
        "redis://redis-sentinel-2.redis-sentinel-headless.cache.svc.cluster.local:26379",
        "redis://redis-sentinel-3.redis-sentinel-headless.cache.svc.cluster.local:26379",
    ]
    assert endpoints[-1] == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "10s",
        "relabelings": [
            {"action": "replace", "targetLabel": "job", "replacement": "cache-cluster-exporter"},
            {"action": "replace", "targetLabel": "instance", "replacement": "redis-exporter"},
            {"action": "replace", "targetLabel": "cache_cluster", "replacement": "cache-cluster"},
        ],
        "metricRelabelings": [
            {"action": "keep", "sourceLabels": ["__name__"], "regex": "redis_exporter_.*|go_.*|process_.*|promhttp_.*"}
        ],
    }


def test_prometheus_rule_carries_the_same_rules_as_the_rule_file() -> None:
    rule = render_prometheus_rule(SPEC, labels={"release": "prometheus"})
    assert rule["metadata"]["name"] == "cache-cluster-alerts"
    assert rule["metadata"]["namespace"] == "cache"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["spec"] == render_rules(SPEC)
    assert len([r for group in rule["spec"]["groups"] for r in group["rules"]]) == 14


def test_prometheus_rules_groups_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed; fix: scripts/install-system.sh (Debian package prometheus)")
    assert promtool is not None
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(render_prometheus_rule(SPEC)["spec"]), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 14 rules found" in result.stdout

"""prometheus.yml: global timing, the rule file, and the scrape jobs of targets.py."""

from __future__ import annotations

from typing import Any

from ..spec import ClusterSpec
from .targets import HostOf, render_scrape_configs, service_host

RULES_FILE = "cache-cluster.rules.yml"
CONFIG_FILE = "prometheus.yml"
# Prometheus' own default; a scrape may never take longer than its interval.
DEFAULT_SCRAPE_TIMEOUT_S = 10


def duration(seconds: int) -> str:
    """A Prometheus duration as people write it: 300 -> `5m`, 90 -> `90s`."""
    return f"{seconds // 60}m" if seconds and seconds % 60 == 0 else f"{seconds}s"


def render_prometheus_config(spec: ClusterSpec, *, host_of: HostOf = service_host) -> dict[str, Any]:
    """The whole configuration. `rule_files` is relative, which Prometheus resolves against this file's directory:
    the same text works in `monitoring/` and in the container's /etc/prometheus."""
    interval = spec.monitoring.scrape_interval_s
    return {
        "global": {
            "scrape_interval": duration(interval),
            "scrape_timeout": duration(min(interval, DEFAULT_SCRAPE_TIMEOUT_S)),
            "evaluation_interval": duration(interval),
        },
        "rule_files": [RULES_FILE],
        "scrape_configs": render_scrape_configs(spec, host_of=host_of),
    }

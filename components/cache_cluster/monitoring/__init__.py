"""Monitoring renderings from the spec: Prometheus scrape configuration, alert rules, a Grafana dashboard, and
the Prometheus Operator's ServiceMonitor and PrometheusRule. Pure: they import only the spec.

The public names are loaded on first use (PEP 562): `plan` needs only the scrape targets, and the hook's commands
start faster without the rules and the dashboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports_on_first_use

if TYPE_CHECKING:
    from .dashboard import dashboard_queries, render_dashboard
    from .files import DASHBOARD_FILE, monitoring_files
    from .operator import render_prometheus_rule, render_service_monitor
    from .prometheus_config import CONFIG_FILE, RULES_FILE, render_prometheus_config
    from .rules import alert_groups, render_rules
    from .targets import ScrapeTarget, scrape_targets

__all__ = [
    "CONFIG_FILE",
    "DASHBOARD_FILE",
    "RULES_FILE",
    "ScrapeTarget",
    "alert_groups",
    "dashboard_queries",
    "monitoring_files",
    "render_dashboard",
    "render_prometheus_config",
    "render_prometheus_rule",
    "render_rules",
    "render_service_monitor",
    "scrape_targets",
]

_HOME = {
    "CONFIG_FILE": ".prometheus_config",
    "DASHBOARD_FILE": ".files",
    "RULES_FILE": ".prometheus_config",
    "ScrapeTarget": ".targets",
    "alert_groups": ".rules",
    "dashboard_queries": ".dashboard",
    "monitoring_files": ".files",
    "render_dashboard": ".dashboard",
    "render_prometheus_config": ".prometheus_config",
    "render_prometheus_rule": ".operator",
    "render_rules": ".rules",
    "render_service_monitor": ".operator",
    "scrape_targets": ".targets",
}


__getattr__ = exports_on_first_use(__name__, _HOME)

"""Monitoring renderings from the spec: Prometheus scrape configuration, alert rules, a Grafana dashboard, and
the Prometheus Operator's ServiceMonitor and PrometheusRule. Pure: they import only the spec."""

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

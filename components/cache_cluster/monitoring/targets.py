"""What Prometheus scrapes: every Redis instance of the spec through the exporter's multi-target `/scrape`.

One enumeration of the instances serves the Prometheus scrape configuration, the ServiceMonitor, the alert
rules' expectations and the plan's `exporter_targets` (which the hook checks). Every series carries three
labels set here, not by the exporter:

- `instance`: the service name (`redis-node-1`, `redis-sentinel-2`, ...), whatever address the target has;
- `cache_role`: what the service was deployed as (`cluster-node`, `fallback-primary`, `fallback-replica`,
  `sentinel`). Not `role`: the exporter's `redis_instance_info` already has a `role` label (master/slave, the
  role *now*), which a target label of the same name would push aside as `exported_role`;
- `cache_cluster`: the spec's name, so one Prometheus can watch several deployments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .. import addresses, tls
from ..spec import ClusterSpec

CacheRole = Literal["cluster-node", "fallback-primary", "fallback-replica", "sentinel"]
CLUSTER_LABEL = "cache_cluster"
ROLE_LABEL = "cache_role"
SCRAPE_PATH = "/scrape"
# Only the exporter's own series are kept from its /metrics: with --redis.addr set it also reports that one
# Redis there, which would duplicate the instance under the exporter's name.
EXPORTER_OWN_METRICS = "redis_exporter_.*|go_.*|process_.*|promhttp_.*"


@dataclass(frozen=True)
class ScrapeTarget:
    """One Redis instance: its service name, where the exporter dials it, and what it was deployed as."""

    service: str
    port: int
    cache_role: CacheRole
    # What the exporter dials (addresses.py): the service name on Docker, the pod's or Service's DNS name on
    # Kubernetes, where every node also listens on the one base port.
    host: str
    # `rediss` when the servers speak TLS only (spec.tls): the exporter then dials with its TLS flags.
    scheme: str = "redis"

    def url(self, host: str | None = None) -> str:
        """`redis://host:port`, the exporter's `target` parameter; the host defaults to the target's own."""
        return f"{self.scheme}://{host or self.host}:{self.port}"

    def labels(self, spec: ClusterSpec) -> dict[str, str]:
        return {"instance": self.service, ROLE_LABEL: self.cache_role, CLUSTER_LABEL: spec.name}


def scrape_targets(spec: ClusterSpec) -> tuple[ScrapeTarget, ...]:
    """Every cluster node, both fallback servers and the sentinels, in that order, at their target's addresses."""
    scheme = tls.scheme(spec)

    def target(address: addresses.Address, cache_role: CacheRole) -> ScrapeTarget:
        return ScrapeTarget(address.name, address.port, cache_role, address.host, scheme)

    targets = [target(address, "cluster-node") for address in addresses.cluster_nodes(spec)]
    if spec.fallback.enabled:
        targets += [
            target(addresses.fallback_primary(spec), "fallback-primary"),
            target(addresses.fallback_replica(spec), "fallback-replica"),
        ]
        targets += [target(address, "sentinel") for address in addresses.sentinels(spec)]
    return tuple(targets)


def redis_job(spec: ClusterSpec) -> str:
    return f"{spec.name}-redis"


def exporter_job(spec: ClusterSpec) -> str:
    return f"{spec.name}-exporter"


def exporter_address(spec: ClusterSpec) -> str:
    return str(addresses.exporter(spec))


HostOf = Callable[[ScrapeTarget], str]


def service_host(target: ScrapeTarget) -> str:
    return target.host


def render_scrape_configs(spec: ClusterSpec, *, host_of: HostOf = service_host) -> list[dict[str, Any]]:
    """The two scrape jobs: every instance through the exporter's /scrape, and the exporter itself.

    `host_of` gives the host name the exporter dials for a target; by default the target's own (addresses.py:
    the service name inside a Docker network, the DNS name on Kubernetes).
    """
    redis: dict[str, Any] = {
        "job_name": redis_job(spec),
        "metrics_path": SCRAPE_PATH,
        "static_configs": [
            {"targets": [target.url(host_of(target))], "labels": target.labels(spec)}
            for target in scrape_targets(spec)
        ],
        # The canonical multi-target pattern: the listed address becomes ?target=, the exporter is dialled.
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"target_label": "__address__", "replacement": exporter_address(spec)},
        ],
    }
    exporter: dict[str, Any] = {
        "job_name": exporter_job(spec),
        "static_configs": [
            {
                "targets": [exporter_address(spec)],
                "labels": {"instance": spec.exporter.name, CLUSTER_LABEL: spec.name},
            }
        ],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": EXPORTER_OWN_METRICS, "action": "keep"},
        ],
    }
    return [redis, exporter]

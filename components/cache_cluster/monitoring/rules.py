"""Alert rules for a cache deployment, from its spec.

The thresholds that depend on the deployment (node count, replicas per master, sentinel quorum, the sentinels'
master name) are written into the expressions, so a rule means "what this spec promised is not so". Every
alert has a severity, a summary and a runbook line naming the `cache-cluster` command to run; `SPEC` in it
stands for the cluster file or Pulumi stack file the deployment was made from.

Metric names are the exporter's (oliver006/redis_exporter; the same names in Debian's 1.45 and upstream's
1.6x): `redis_up`, `redis_cluster_*` from CLUSTER INFO, `redis_connected_slaves` / `redis_master_link_up` from
INFO replication, `redis_sentinel_master_*` from SENTINEL MASTERS and CKQUORUM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..spec import SLOT_COUNT, ClusterSpec
from .prometheus_config import duration
from .targets import CLUSTER_LABEL, ROLE_LABEL, exporter_job

Severity = Literal["critical", "warning"]
# Used memory above this share of maxmemory for the alert's `for:`: the next writes evict or fail.
MEMORY_NEAR_MAX_RATIO = 0.9
# Windows of the "rising" counters: any increase over this window counts.
COUNTER_WINDOW = "5m"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_s: int
    severity: Severity
    summary: str
    runbook: str

    def render(self, spec: ClusterSpec) -> dict[str, Any]:
        override = spec.monitoring.alert_for_override_s
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": duration(self.for_s if override is None else override),
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "runbook": self.runbook},
        }


@dataclass(frozen=True)
class AlertGroup:
    name: str
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class _Selectors:
    """Label matchers of one deployment's series, by what the services were deployed as."""

    spec: ClusterSpec

    @property
    def deployment(self) -> str:
        return f'{CLUSTER_LABEL}="{self.spec.name}"'

    @property
    def nodes(self) -> str:
        return f'{self.deployment},{ROLE_LABEL}="cluster-node"'

    @property
    def fallback(self) -> str:
        return f'{self.deployment},{ROLE_LABEL}=~"fallback-primary|fallback-replica"'

    @property
    def sentinels(self) -> str:
        return f'{self.deployment},{ROLE_LABEL}="sentinel"'


def cmd(spec: ClusterSpec, command: str) -> str:
    """The hook command line a person runs for this deployment (Docker: from the host, via published ports)."""
    via = " --via published" if spec.target == "docker" else ""
    return f"`cache-cluster {command} SPEC{via}`"


def _masters(selector: str, expr: str) -> str:
    """`expr` restricted to the instances that are masters now (the exporter's INFO role)."""
    return f'{expr} and on ({CLUSTER_LABEL}, instance) redis_instance_info{{{selector},role="master"}}'


def cluster_alerts(spec: ClusterSpec) -> tuple[Alert, ...]:
    select = _Selectors(spec)
    node_count = spec.topology.node_count
    return (
        Alert(
            "RedisClusterStateNotOk",
            f"redis_cluster_state{{{select.nodes}}} == 0",
            60,
            "critical",
            "{{ $labels.instance }} reports cluster_state:fail: some hash slots cannot be served.",
            f"Run {cmd(spec, 'status')} to see which shard is down; start its containers, or run "
            f"{cmd(spec, 'init')} to heal a replaced node; then {cmd(spec, 'validate')}.",
        ),
        Alert(
            "RedisClusterSlotsFailing",
            f"redis_cluster_slots_fail{{{select.nodes}}} > 0",
            60,
            "critical",
            "{{ $labels.instance }} sees {{ $value }} hash slots in FAIL state: a shard has lost its master "
            "and no replica took over.",
            f"Run {cmd(spec, 'status')} to find the shard whose master and replicas are down and start them; "
            f"then {cmd(spec, 'validate')}.",
        ),
        Alert(
            "RedisClusterSlotsUnassigned",
            f"redis_cluster_slots_assigned{{{select.nodes}}} < {SLOT_COUNT}",
            120,
            "critical",
            f"{{{{ $labels.instance }}}} has only {{{{ $value }}}} of {SLOT_COUNT} hash slots assigned: the cluster "
            "is not formed, or a shard is missing.",
            f"Run {cmd(spec, 'init')}: it forms a new cluster of empty nodes or heals a formed one, and refuses "
            f"(exit 3) rather than risk data; then {cmd(spec, 'validate')}.",
        ),
        Alert(
            "RedisClusterNodeNotJoined",
            f"redis_cluster_known_nodes{{{select.nodes}}} < {node_count}",
            120,
            "warning",
            f"{{{{ $labels.instance }}}} knows {{{{ $value }}}} of the {node_count} cluster nodes: a replaced or "
            "new node has not met the cluster.",
            f"Run {cmd(spec, 'init')}: it meets an empty lone node into the cluster and attaches it as a "
            f"replica where a master lacks one; {cmd(spec, 'status')} shows the result.",
        ),
    )


def replication_alerts(spec: ClusterSpec) -> tuple[Alert, ...]:
    select = _Selectors(spec)
    replicas = spec.topology.replicas_per_master
    # A replica reports its own link; a replica that is down reports nothing, so its master's count of linked
    # replicas below what the spec deploys is the other half of "a replica link is down".
    link_down = [f"redis_master_link_up{{{select.deployment}}} == 0"]
    if replicas:
        link_down.append(f"({_masters(select.nodes, f'redis_connected_slaves{{{select.nodes}}} < {replicas}')})")
    if spec.fallback.enabled:
        link_down.append(f"({_masters(select.fallback, f'redis_connected_slaves{{{select.fallback}}} < 1')})")
    alerts = []
    if replicas:
        alerts.append(
            Alert(
                "RedisClusterMasterWithoutReplica",
                _masters(select.nodes, f"redis_connected_slaves{{{select.nodes}}} == 0"),
                60,
                "critical",
                "{{ $labels.instance }} is a master without a linked replica: if it fails, its shard's keys "
                "are lost.",
                f"Run {cmd(spec, 'status')} to see the shard; start its replica's container, or run "
                f"{cmd(spec, 'init')} to attach an empty node as its replica.",
            )
        )
    alerts.append(
        Alert(
            "RedisReplicaLinkDown",
            "\nor\n".join(link_down),
            60,
            "warning",
            "{{ $labels.instance }}: a replication link is down (a replica is unreachable or has lost its "
            "master).",
            f"Run {cmd(spec, 'status')} to see every replica and its link; start the stopped replica; "
            f"{cmd(spec, 'validate')} checks that each master has its linked replicas again.",
        )
    )
    return tuple(alerts)


def capacity_alerts(spec: ClusterSpec) -> tuple[Alert, ...]:
    select = _Selectors(spec)
    policy = spec.memory.maxmemory_policy
    # A full cache that evicts is doing its job; one that may not evict refuses writes (OOM) once full.
    full: tuple[Severity, str] = (
        ("critical", "writes fail with OOM (noeviction)")
        if policy == "noeviction"
        else ("warning", f"writes now evict keys ({policy}), or fail where nothing can be evicted")
    )
    return (
        Alert(
            "RedisMemoryNearMaxmemory",
            f"redis_memory_used_bytes{{{select.deployment}}} / (redis_memory_max_bytes{{{select.deployment}}} > 0)"
            f" > {MEMORY_NEAR_MAX_RATIO}",
            300,
            full[0],
            f"{{{{ $labels.instance }}}} uses {{{{ $value | humanizePercentage }}}} of its maxmemory: {full[1]}.",
            f"Run {cmd(spec, 'status')}; raise memory.maxmemory_mb (with memory.container_memory_mb) in SPEC "
            "and redeploy, or add masters.",
        ),
        Alert(
            "RedisEvictingKeys",
            f"increase(redis_evicted_keys_total{{{select.deployment}}}[{COUNTER_WINDOW}]) > 0",
            300,
            "warning",
            "{{ $labels.instance }} evicted {{ $value | humanize }} keys in the last " + COUNTER_WINDOW + ": "
            "the working set does not fit in maxmemory.",
            f"Run {cmd(spec, 'status')}; raise memory.maxmemory_mb in SPEC and redeploy, or shorten the "
            "applications' TTLs.",
        ),
        Alert(
            "RedisRejectingConnections",
            f"increase(redis_rejected_connections_total{{{select.deployment}}}[{COUNTER_WINDOW}]) > 0",
            60,
            "warning",
            "{{ $labels.instance }} rejected {{ $value | humanize }} connections in the last " + COUNTER_WINDOW
            + " (maxclients reached).",
            f"Check the applications' connection pools; {cmd(spec, 'status')} shows the servers' state.",
        ),
    )


def fallback_alerts(spec: ClusterSpec) -> tuple[Alert, ...]:
    if not spec.fallback.enabled:
        return ()
    select = _Selectors(spec)
    sentinels = spec.sentinels
    master = f'{select.sentinels},master_name="{sentinels.master_name}"'
    no_primary = (
        f"count by ({CLUSTER_LABEL}) (redis_up{{{select.fallback}}})\n"
        f"unless on ({CLUSTER_LABEL}) count by ({CLUSTER_LABEL}) "
        f'(redis_instance_info{{{select.fallback},role="master"}})'
    )
    # The sentinels' own verdict, as they would act on it: a quorum of them sees the primary down.
    seen_down = f"count by ({CLUSTER_LABEL}, master_name) (redis_sentinel_master_status{{{master}}} == 0)"
    return (
        Alert(
            "RedisFallbackPrimaryDown",
            f"({no_primary})\nor\n{seen_down} >= {sentinels.quorum}",
            60,
            "critical",
            "The fallback Redis has no reachable primary: tier 1 of the fallback chain is down and applications "
            "fall through to memory and the database.",
            f"Run {cmd(spec, 'validate')}: it checks both fallback servers and the sentinels' view; start "
            f"{spec.fallback.primary_name} / {spec.fallback.replica_name}; the sentinels promote the replica once "
            f"{sentinels.quorum} of them agree.",
        ),
        Alert(
            "RedisSentinelQuorumLost",
            f"min without (message) (redis_sentinel_master_ckquorum_status{{{master}}}) == 0\n"
            f"or\ncount by ({CLUSTER_LABEL}) (redis_up{{{select.sentinels}}} == 1) < {sentinels.quorum}",
            60,
            "critical",
            f"The sentinels cannot reach their quorum of {sentinels.quorum} for {sentinels.master_name}: a failed "
            "fallback primary would not be replaced.",
            f"Run {cmd(spec, 'validate')} (it runs SENTINEL CKQUORUM); start the stopped sentinels.",
        ),
        Alert(
            "RedisSentinelsDisagree",
            f"count by ({CLUSTER_LABEL}, master_name) "
            f"(count by ({CLUSTER_LABEL}, master_name, master_address) (redis_sentinel_master_status{{{master}}}))"
            " > 1",
            60,
            "warning",
            "The sentinels name {{ $value }} different primaries for {{ $labels.master_name }}.",
            f"Run {cmd(spec, 'validate')} to see each sentinel's primary; a failover settles within "
            f"{sentinels.failover_timeout_ms // 1000}s, otherwise restart the sentinel that differs.",
        ),
    )


def scrape_alerts(spec: ClusterSpec) -> tuple[Alert, ...]:
    select = _Selectors(spec)
    return (
        Alert(
            "RedisExporterDown",
            f'up{{job="{exporter_job(spec)}"}} == 0',
            60,
            "critical",
            "The Redis exporter {{ $labels.instance }} does not answer: no Redis metrics, every other alert is "
            "blind.",
            f"Start the {spec.exporter.name} container (`make up` does); {cmd(spec, 'validate')} checks that "
            "it reaches every instance.",
        ),
        Alert(
            "RedisTargetDown",
            f"redis_up{{{select.deployment}}} == 0",
            60,
            "critical",
            "{{ $labels.instance }} ({{ $labels.cache_role }}) does not answer the exporter.",
            f"Run {cmd(spec, 'status')} to see which servers answer; start the container; a replaced cluster "
            f"node is healed by {cmd(spec, 'init')}.",
        ),
    )


def alert_groups(spec: ClusterSpec) -> tuple[AlertGroup, ...]:
    groups = (
        AlertGroup(f"{spec.name}.cluster", cluster_alerts(spec)),
        AlertGroup(f"{spec.name}.replication", replication_alerts(spec)),
        AlertGroup(f"{spec.name}.capacity", capacity_alerts(spec)),
        AlertGroup(f"{spec.name}.fallback", fallback_alerts(spec)),
        AlertGroup(f"{spec.name}.scraping", scrape_alerts(spec)),
    )
    return tuple(group for group in groups if group.alerts)


def render_rule_groups(spec: ClusterSpec) -> list[dict[str, Any]]:
    """The `groups:` of a Prometheus rule file (also a PrometheusRule's `spec.groups`)."""
    return [
        {"name": group.name, "rules": [alert.render(spec) for alert in group.alerts]} for group in alert_groups(spec)
    ]


def render_rules(spec: ClusterSpec) -> dict[str, Any]:
    return {"groups": render_rule_groups(spec)}

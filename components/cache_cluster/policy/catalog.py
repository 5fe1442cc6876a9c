"""Every rule with its name, description, enforcement level, remediation and config schema (with defaults).

A team tunes a rule in its Pulumi policy config (`pulumi policy enable ... --config`, or `--policy-pack-config`
on preview/up): `{"cluster-topology": {"min_masters": 5}}`; the level may be changed the same way
(`{"images-pinned": "advisory"}`). Unset properties take the defaults below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import rules
from .resources import DOCKER_CONTAINER, K8S_DEPLOYMENT, K8S_STATEFUL_SET, K8S_WORKLOADS, SECRETS_DIR, Resource

Level = Literal["advisory", "mandatory"]
DEV = {
    "dev_environments": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["dev"],
        "description": "Environments (the spec's `environment`) treated as dev.",
    }
}


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: Level
    remediation: str
    check: Callable[..., Iterable[Any]]
    stack: bool = False  # a stack rule sees every resource (AnalyzeStack); otherwise one resource (Analyze)
    types: tuple[str, ...] = ()  # resource rules: the types it applies to (empty: all)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    everywhere: bool = False  # also the resources an application stack declares beside the cache (the password)

    def settings(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**{key: schema["default"] for key, schema in self.config.items()}, **(given or {})}

    def applies_to(self, resource: Resource) -> bool:
        return (self.everywhere or resource.in_cache) and (not self.types or resource.type in self.types)

    def message(self, problem: str) -> str:
        return f"{problem}; fix: {self.remediation}"


RULES: tuple[Rule, ...] = (
    Rule(
        "cluster-topology",
        "The cluster has at least 3 masters and at least 1 replica per master (outside dev), all of them declared.",
        "mandatory",
        "set topology.masters >= 3 and topology.replicas_per_master >= 1 in cache-cluster:cluster",
        rules.cluster_topology,
        stack=True,
        config={
            "min_masters": {"type": "integer", "minimum": 3, "default": 3, "description": "Fewest masters."},
            "min_replicas_per_master": {
                "type": "integer",
                "minimum": 0,
                "default": 1,
                "description": "Fewest replicas per master outside dev.",
            },
            **DEV,
        },
    ),
    Rule(
        "cluster-topology-dev-replicas",
        "On dev, a cluster without replicas is allowed but cannot survive a master's failure.",
        "advisory",
        "set topology.replicas_per_master: 1 to rehearse failover on dev",
        rules.dev_replicas,
        stack=True,
        config={
            "min_replicas_per_master": {
                "type": "integer",
                "minimum": 0,
                "default": 1,
                "description": "Replicas per master below which dev is warned.",
            },
            **DEV,
        },
    ),
    Rule(
        "password-secret",
        "Every input that carries the Redis password (env, Secret data, auth lines) is a Pulumi secret.",
        "mandatory",
        "pass the password as pulumi.Output.secret(...) (or config set --secret) so every input holding it is secret",
        rules.password_secret,
        everywhere=True,
    ),
    Rule(
        "password-set",
        "Every Redis server, sentinel and the exporter receives its users' passwords (files under /run/secrets).",
        "mandatory",
        "mount the deployment's secret files into the container (the component does this; keep auth on)",
        rules.password_set,
        stack=True,
    ),
    Rule(
        "passwords-as-files",
        "No container or pod gets a password through its environment (also not from a Secret's key).",
        "mandatory",
        f"mount the passwords as files under {SECRETS_DIR} (Compose secrets, a Secret volume, uploads marked "
        "secret) and read them there, as the components do",
        rules.passwords_as_files,
        stack=True,
    ),
    Rule(
        "password-never-plain",
        "The Redis password appears in no resource input in plain text.",
        "mandatory",
        "read the password from the environment or a mounted secret, never from a literal in a command or file",
        rules.password_never_plain,
        stack=True,
        everywhere=True,
    ),
    Rule(
        "images-pinned",
        "Images are pinned: a tag other than latest, and a digest outside dev.",
        "mandatory",
        "pin every image (the spec's images.*) as name:tag@sha256:<digest> "
        "(a tag alone is accepted on dev)",
        rules.images_pinned,
        stack=True,
        config={
            **DEV,
            "tag_only_images": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Image repositories (no tag) accepted with a tag alone outside dev: images a team "
                "pins by digest in its own registry at deploy time. Empty by default: every image needs a digest.",
            },
        },
    ),
    Rule(
        "images-digest-on-dev",
        "On dev a tag alone is accepted, but only a digest names the exact image.",
        "advisory",
        "add @sha256:<digest> to the image references",
        rules.images_digest_on_dev,
        stack=True,
        config=DEV,
    ),
    Rule(
        "no-public-exposure",
        "Nothing is published beyond loopback (Docker ports, LoadBalancer/NodePort Services) unless the spec opts in.",
        "mandatory",
        "publish on 127.0.0.1 (network.publish_address) or opt in with network.allow_public_publish: true",
        rules.no_public_exposure,
        stack=True,
    ),
    Rule(
        "docker-restart-policy",
        "Every container restarts by itself.",
        "mandatory",
        "set restart to unless-stopped (or always / on-failure)",
        rules.docker_restart_policy,
        types=(DOCKER_CONTAINER,),
        config={
            "allowed_restart_policies": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["unless-stopped", "always", "on-failure"],
                "description": "Restart policies accepted.",
            }
        },
    ),
    Rule(
        "docker-memory-limit",
        "Every container has a memory limit.",
        "mandatory",
        "set memory (MB) on the container; for Redis keep maxmemory below it",
        rules.docker_memory_limit,
        types=(DOCKER_CONTAINER,),
    ),
    Rule(
        "docker-health-check",
        "Every container has a health check.",
        "mandatory",
        "set healthcheck.tests (e.g. CMD-SHELL redis-cli -p PORT ping)",
        rules.docker_health_check,
        types=(DOCKER_CONTAINER,),
        config={
            "exempt_roles": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["exporter"],
                "description": "Roles without a health check: the upstream redis_exporter image has "
                "no shell or HTTP client to probe with (the hook checks /scrape).",
            }
        },
    ),
    Rule(
        "docker-graceful-stop",
        "Containers get time to stop cleanly (destroyGraceSeconds) before Docker kills them.",
        "mandatory",
        "set destroy_grace_seconds on the container (the component's default is enough)",
        rules.docker_graceful_stop,
        types=(DOCKER_CONTAINER,),
        config={
            "min_destroy_grace_seconds": {
                "type": "integer",
                "minimum": 0,
                "default": 10,
                "description": "Fewest seconds a container gets to stop.",
            }
        },
    ),
    Rule(
        "maxmemory-below-limit",
        "Every Redis server's maxmemory is set and below its container's memory limit, with room to spare.",
        "mandatory",
        "lower memory.maxmemory_mb or raise memory.container_memory_mb",
        rules.maxmemory_below_limit,
        stack=True,
        config={
            "max_ratio": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1,
                "default": 0.9,
                "description": "Largest maxmemory / memory limit.",
            }
        },
    ),
    Rule(
        "persistence-outside-dev",
        "Cluster nodes persist their data (AOF or RDB) outside dev.",
        "mandatory",
        "set persistence.appendonly: true (or rdb_snapshots: true) in the spec",
        rules.persistence_outside_dev,
        stack=True,
        config=DEV,
    ),
    Rule(
        "nodes-conf-persistent",
        "Every cluster node keeps nodes.conf on a persistent volume, so a restart remembers the cluster.",
        "mandatory",
        "mount a named volume (Docker) or a PersistentVolumeClaim (Kubernetes) at the node's dir",
        rules.nodes_conf_persistent,
        stack=True,
    ),
    Rule(
        "sentinel-quorum",
        "Sentinels are an odd number, at least 3, and their quorum is a majority.",
        "mandatory",
        "set sentinels.count to 3 (or 5) and sentinels.quorum to count // 2 + 1",
        rules.sentinel_quorum,
        stack=True,
        config={"min_sentinels": {"type": "integer", "minimum": 1, "default": 3, "description": "Fewest sentinels."}},
    ),
    Rule(
        "exporter-coverage",
        "A redis_exporter exists that can reach every Redis server, sentinel and node.",
        "mandatory",
        "keep exporter.enabled: true and the exporter on the nodes' network/namespace",
        rules.exporter_coverage,
        stack=True,
    ),
    Rule(
        "fallback-chain-order",
        "The fallback chain keeps the order cluster, single, memory, database.",
        "mandatory",
        "set fallback.tiers to a sub-list of [cluster, single, memory, database] in that order",
        rules.fallback_chain_order,
        stack=True,
    ),
    Rule(
        "hook-after-nodes",
        "The post-deploy hook (cache-cluster init) runs after every cluster node exists.",
        "mandatory",
        "make the hook depend on every node (depends_on, or triggers on their IDs)",
        rules.hook_after_nodes,
        stack=True,
    ),
    Rule(
        "kubernetes-requests-limits",
        "Every Kubernetes container requests CPU and memory and has a memory limit.",
        "mandatory",
        "set resources.requests.cpu/memory and resources.limits.memory (memory.* in the spec)",
        rules.kubernetes_requests_limits,
        types=K8S_WORKLOADS,
    ),
    Rule(
        "kubernetes-restricted-profile",
        "Pods meet the restricted Pod Security profile: non-root, read-only root, no escalation, capabilities dropped.",
        "mandatory",
        "set runAsNonRoot, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities.drop [ALL], "
        "seccompProfile RuntimeDefault",
        rules.kubernetes_restricted_profile,
        types=K8S_WORKLOADS,
    ),
    Rule(
        "kubernetes-spread",
        "Replicated pods are spread across failure domains (anti-affinity or topology spread).",
        "mandatory",
        "add podAntiAffinity or topologySpreadConstraints on kubernetes.topology_key",
        rules.kubernetes_spread,
        types=(K8S_STATEFUL_SET, K8S_DEPLOYMENT),
    ),
    Rule(
        "kubernetes-pdb",
        "Every Redis StatefulSet of more than one pod has a PodDisruptionBudget.",
        "mandatory",
        "declare a policy/v1 PodDisruptionBudget whose selector matches the pods' labels",
        rules.kubernetes_pdb,
        stack=True,
    ),
    Rule(
        "kubernetes-network-policy",
        "A NetworkPolicy restricts who reaches the Redis pods.",
        "mandatory",
        "declare a NetworkPolicy (Ingress) selecting the cache pods (kubernetes.network_policy: true)",
        rules.kubernetes_network_policy,
        stack=True,
    ),
    Rule(
        "kubernetes-node-storage",
        "Cluster nodes keep their data on a PersistentVolumeClaim.",
        "mandatory",
        "give the nodes' StatefulSet a volumeClaimTemplate mounted at the data dir",
        rules.kubernetes_node_storage,
        stack=True,
    ),
)

BY_NAME = {rule.name: rule for rule in RULES}

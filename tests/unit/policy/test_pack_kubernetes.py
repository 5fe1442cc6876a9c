"""The Kubernetes rules over gRPC, fed hand-written resources in the engine's shape (pulumi-kubernetes' typed
resources: kubernetes:apps/v1:StatefulSet etc., camelCase as the Kubernetes API names fields, secrets sealed).

The compliant stack is a production deployment as the Kubernetes target is meant to declare it; each violating
input changes one thing and the test asserts the exact violations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from cache_cluster.policy.analyzer import Pack, Violation, running_pack
from cache_cluster.policy.capture import Captured
from tests.unit.policy.engine_shape import PACK_DIR, secret

DIGEST = "@sha256:" + "ab" * 32
REDIS = f"redis:7.2.5{DIGEST}"
EXPORTER = f"oliver006/redis_exporter:v1.62.0{DIGEST}"
HOOK_IMAGE = f"cache-cluster/hook:0.1.0{DIGEST}"
PASSWORD = "K8sStandInPassword0123456789abcd"
SPEC = {
    "environment": "production",
    "topology": {"masters": 3, "replicas_per_master": 1},
    "sentinels": {"count": 3, "quorum": 2},
    "fallback": {"enabled": True, "tiers": ["cluster", "single", "memory", "database"]},
    "network": {"allow_public_publish": False},
}
NODE_CONF = (
    "port 7001\ndir /data\nappendonly yes\nmaxmemory 384mb\ncluster-enabled yes\ncluster-config-file nodes.conf\n"
)
FALLBACK_CONF = "port 6380\ndir /data\nappendonly yes\nmaxmemory 384mb\n"
SENTINEL_CONF = "port 26379\nsentinel monitor cache-fallback redis-fallback 6380 2\n"

PIN_FIX = (
    "fix: pin every image (the spec's images.*) as name:tag@sha256:<digest> "
    "(a tag alone is accepted on dev)"
)


def urn(type_: str, name: str) -> str:
    # Children of the Kubernetes component, as its URN's type chain says.
    return f"urn:pulumi:production::cache-cluster::cache-cluster:index:KubernetesCacheCluster${type_}::{name}"


def resource(type_: str, name: str, properties: dict[str, Any], dependencies: tuple[str, ...] = ()) -> Captured:
    return Captured(type_, name, urn(type_, name), properties, dependencies=list(dependencies))


def meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": "cache", "labels": {"app": "cache-cluster"}}


def container(name: str, image: str, mounts: list[dict[str, str]], memory: str = "512Mi") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [*mounts, {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True}],
    }


def pod(component: str, containers: list[dict[str, Any]], config_map: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"component": component}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        },
    }
    spec["volumes"] = [{"name": "secrets", "secret": {"secretName": "cache-auth", "defaultMode": 0o444}}]
    if config_map:
        spec["volumes"].append({"name": "config", "configMap": {"name": config_map}})
    return {"metadata": {"labels": {"app": "cache-cluster", "component": component}}, "spec": spec}


def stateful_set(name: str, component: str, replicas: int, config_map: str, claim: bool = True) -> Captured:
    mounts = [{"name": "config", "mountPath": "/etc/cache-cluster"}]
    if claim:
        mounts.append({"name": "data", "mountPath": "/data"})
    spec: dict[str, Any] = {
        "serviceName": name,
        "replicas": replicas,
        "selector": {"matchLabels": {"component": component}},
        "template": pod(component, [container("redis", REDIS, mounts)], config_map),
    }
    if claim:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ]
    return resource("kubernetes:apps/v1:StatefulSet", name, {"metadata": meta(name), "spec": spec})


def budget(component: str) -> Captured:
    return resource(
        "kubernetes:policy/v1:PodDisruptionBudget",
        f"{component}-pdb",
        {
            "metadata": meta(f"{component}-pdb"),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"component": component}}},
        },
    )


def compliant() -> list[Captured]:
    nodes = stateful_set("redis-node", "node", 6, "cache-node-conf")
    exporter_pod = pod("exporter", [container("exporter", EXPORTER, [], memory="128Mi")], None)
    exporter_pod["spec"]["containers"][0]["command"] = ["/redis_exporter"]
    hook_pod = pod(
        "hook",
        [container("init", HOOK_IMAGE, [{"name": "config", "mountPath": "/etc/cache-cluster"}], memory="128Mi")],
        "cache-node-conf",
    )
    hook_pod["spec"]["containers"][0]["command"] = ["cache-cluster"]
    hook_pod["spec"]["containers"][0]["args"] = ["init", "/etc/cache-cluster/cluster.yaml", "--via", "direct"]
    hook_pod["spec"]["restartPolicy"] = "OnFailure"
    return [
        resource(
            "kubernetes:core/v1:Secret",
            "cache-auth",
            {"metadata": meta("cache-auth"), "stringData": secret({"redis-password": PASSWORD})},
        ),
        resource(
            "kubernetes:core/v1:ConfigMap",
            "cache-node-conf",
            {
                "metadata": meta("cache-node-conf"),
                "data": {"redis.conf": NODE_CONF, "cluster.yaml": yaml.safe_dump(SPEC)},
            },
        ),
        resource(
            "kubernetes:core/v1:ConfigMap",
            "cache-fallback-conf",
            {"metadata": meta("cache-fallback-conf"), "data": {"redis.conf": FALLBACK_CONF}},
        ),
        resource(
            "kubernetes:core/v1:ConfigMap",
            "cache-sentinel-conf",
            {"metadata": meta("cache-sentinel-conf"), "data": {"sentinel.conf": SENTINEL_CONF}},
        ),
        nodes,
        stateful_set("redis-fallback", "fallback", 2, "cache-fallback-conf"),
        stateful_set("redis-sentinel", "sentinel", 3, "cache-sentinel-conf", claim=False),
        resource(
            "kubernetes:apps/v1:Deployment",
            "redis-exporter",
            {
                "metadata": meta("redis-exporter"),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"component": "exporter"}},
                    "template": exporter_pod,
                },
            },
        ),
        budget("node"),
        budget("fallback"),
        budget("sentinel"),
        resource(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "cache-ingress",
            {
                "metadata": meta("cache-ingress"),
                "spec": {
                    "podSelector": {"matchLabels": {"app": "cache-cluster"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"cache-client": "true"}}}]}],
                },
            },
        ),
        resource(
            "kubernetes:core/v1:Service",
            "redis-node-svc",
            {
                "metadata": meta("redis-node"),
                "spec": {"clusterIP": "None", "selector": {"component": "node"}, "ports": [{"port": 7001}]},
            },
        ),
        resource(
            "kubernetes:batch/v1:Job",
            "cache-init",
            {
                "metadata": meta("cache-init"),
                "spec": {"backoffLimit": 10, "template": hook_pod},
            },
            dependencies=(nodes.urn,),
        ),
    ]


@pytest.fixture(scope="module")
def pack() -> Iterator[Pack]:
    with running_pack(PACK_DIR) as running:
        running.configure(stack="production", project="cache-cluster")
        yield running


def verdicts(found: list[Violation]) -> set[tuple[str, str, str, str]]:
    return {(v.policy, v.level, v.resource, v.message.splitlines()[-1]) for v in found}


def changed(name: str, change: Callable[[dict[str, Any]], Any]) -> list[Captured]:
    stack = compliant()
    (target,) = [item for item in stack if item.name == name]
    change(target.properties)
    return stack


def redis_container(properties: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = properties["spec"]["template"]["spec"]["containers"][0]
    return found


def test_the_compliant_kubernetes_stack_passes_every_rule(pack: Pack) -> None:
    assert pack.check(compliant()) == []


def test_analyze_sees_the_statefulset_alone(pack: Pack) -> None:
    nodes = next(item for item in compliant() if item.name == "redis-node")
    assert pack.analyze(nodes) == []
    del redis_container(nodes.properties)["resources"]["limits"]
    assert verdicts(pack.analyze(nodes)) == {
        (
            "kubernetes-requests-limits",
            "mandatory",
            "redis-node",
            "container redis has no limits.memory; fix: set resources.requests.cpu/memory and resources.limits.memory "
            "(memory.* in the spec)",
        ),
    }


def _without(*names: str) -> list[Captured]:
    return [item for item in compliant() if item.name not in names]


def _hook_not_waiting() -> list[Captured]:
    stack = compliant()
    next(item for item in stack if item.name == "cache-init").dependencies = []
    return stack


RESTRICTED_FIX = (
    "fix: set runAsNonRoot, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities.drop [ALL], "
    "seccompProfile RuntimeDefault"
)
STORAGE_FIX = "fix: mount a named volume (Docker) or a PersistentVolumeClaim (Kubernetes) at the node's dir"

VIOLATIONS: dict[str, tuple[Callable[[], list[Captured]], set[tuple[str, str, str, str]]]] = {
    "requests missing": (
        lambda: changed("redis-exporter", lambda p: redis_container(p).pop("resources")),
        {
            (
                "kubernetes-requests-limits",
                "mandatory",
                "redis-exporter",
                "container exporter has no requests.cpu, requests.memory, limits.memory; fix: set resources.requests."
                "cpu/memory and resources.limits.memory (memory.* in the spec)",
            )
        },
    ),
    "root filesystem writable, capabilities kept": (
        lambda: changed(
            "redis-sentinel",
            lambda p: redis_container(p).update(
                securityContext={"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": False}
            ),
        ),
        {
            (
                "kubernetes-restricted-profile",
                "mandatory",
                "redis-sentinel",
                f"container redis: readOnlyRootFilesystem is not true; capabilities.drop lacks ALL; {RESTRICTED_FIX}",
            )
        },
    ),
    "running as root": (
        lambda: changed("redis-fallback", lambda p: p["spec"]["template"]["spec"].update(securityContext={})),
        {
            (
                "kubernetes-restricted-profile",
                "mandatory",
                "redis-fallback",
                "container redis: runAsNonRoot is not true; seccompProfile.type is not RuntimeDefault; "
                + RESTRICTED_FIX,
            )
        },
    ),
    "no spread": (
        lambda: changed("redis-node", lambda p: p["spec"]["template"]["spec"].pop("affinity")),
        {
            (
                "kubernetes-spread",
                "mandatory",
                "redis-node",
                "6 replicas with neither podAntiAffinity nor topologySpreadConstraints: one node failure can take them "
                "all; fix: add podAntiAffinity or topologySpreadConstraints on kubernetes.topology_key",
            )
        },
    ),
    "LoadBalancer": (
        lambda: _retyped("LoadBalancer"),
        {
            (
                "no-public-exposure",
                "mandatory",
                "redis-node-svc",
                "Service type LoadBalancer exposes the cache outside the cluster; fix: publish on 127.0.0.1 "
                "(network.publish_address) or opt in with network.allow_public_publish: true",
            )
        },
    ),
    "NodePort": (
        lambda: _retyped("NodePort"),
        {
            (
                "no-public-exposure",
                "mandatory",
                "redis-node-svc",
                "Service type NodePort exposes the cache outside the cluster; fix: publish on 127.0.0.1 "
                "(network.publish_address) or opt in with network.allow_public_publish: true",
            )
        },
    ),
    "no PDB for the sentinels": (
        lambda: _without("sentinel-pdb"),
        {
            (
                "kubernetes-pdb",
                "mandatory",
                "redis-sentinel",
                "no PodDisruptionBudget selects its pods: a drain may evict them all; fix: declare a policy/v1 "
                "PodDisruptionBudget whose selector matches the pods' labels",
            )
        },
    ),
    "no NetworkPolicy": (
        lambda: _without("cache-ingress"),
        {
            (
                "kubernetes-network-policy",
                "mandatory",
                name,
                "no NetworkPolicy selects its pods: anything in the cluster can reach Redis; "
                "fix: declare a NetworkPolicy (Ingress) selecting the cache pods (kubernetes.network_policy: true)",
            )
            for name in ("redis-node", "redis-fallback", "redis-sentinel")
        },
    ),
    "no PVC for node data": (
        lambda: [
            stateful_set("redis-node", "node", 6, "cache-node-conf", claim=False) if item.name == "redis-node" else item
            for item in compliant()
        ],
        {
            (
                "kubernetes-node-storage",
                "mandatory",
                "redis-node",
                "container redis: no PersistentVolumeClaim template for the node's data; fix: give the nodes' "
                "StatefulSet a volumeClaimTemplate mounted at the data dir",
            ),
            (
                "nodes-conf-persistent",
                "mandatory",
                "redis-node",
                f"container redis: /data/nodes.conf is on no volume: a restart forgets the cluster; {STORAGE_FIX}",
            ),
        },
    ),
    "hook not waiting for the nodes": (
        _hook_not_waiting,
        {
            (
                "hook-after-nodes",
                "mandatory",
                "cache-init",
                "cache-init does not wait for redis-node: it may run before they exist; "
                "fix: make the hook depend on every node (depends_on, or triggers on their IDs)",
            ),
        },
    ),
    "maxmemory above the pod limit": (
        lambda: changed(
            "redis-fallback",
            lambda p: redis_container(p)["resources"].update(
                requests={"cpu": "100m", "memory": "400Mi"}, limits={"memory": "400Mi"}
            ),
        ),
        {
            (
                "maxmemory-below-limit",
                "mandatory",
                "redis-fallback",
                "container redis: maxmemory 384 MB is above 0.9 x the 400 MB limit (no room for buffers, forks and "
                "replication); fix: lower memory.maxmemory_mb or raise memory.container_memory_mb",
            )
        },
    ),
    "Secret data not marked secret": (
        lambda: changed("cache-auth", lambda p: p.update(stringData={"redis-password": PASSWORD})),
        {
            (
                "password-secret",
                "mandatory",
                "cache-auth",
                "stringData holds the Redis password (or an auth line) in plain text, not marked secret; fix: pass the "
                "password as pulumi.Output.secret(...) (or config set --secret) so every input holding it is secret",
            ),
            (
                "password-never-plain",
                "mandatory",
                "cache-auth",
                "stringData.redis-password contains the Redis password in plain text; fix: read the password from the "
                "environment or a mounted secret, never from a literal in a command or file",
            ),
        },
    ),
    "password as a literal env value": (
        lambda: changed(
            "redis-exporter", lambda p: redis_container(p).update(env=[{"name": "REDIS_PASSWORD", "value": PASSWORD}])
        ),
        {
            (
                "password-secret",
                "mandatory",
                "redis-exporter",
                "spec.template.spec.containers[0].env.REDIS_PASSWORD holds the Redis password (or an auth line) "
                "in plain text, not marked secret; fix: pass the password as pulumi.Output.secret(...) "
                "(or config set --secret) so every input holding it is secret",
            ),
            (
                "password-never-plain",
                "mandatory",
                "redis-exporter",
                "spec.template.spec.containers[0].env[0].value contains the Redis password in plain text; "
                "fix: read the password from the environment or a mounted secret, "
                "never from a literal in a command or file",
            ),
            (
                "passwords-as-files",
                "mandatory",
                "redis-exporter",
                "container exporter: this exporter gets REDIS_PASSWORD in its environment, where `docker inspect`, "
                "/proc/<pid>/environ and crash reports show it; fix: mount the passwords as files under /run/secrets/ "
                "(Compose secrets, a Secret volume, uploads marked secret) and read them there, as the components do",
            ),
        },
    ),
    "password from a Secret's key into the environment": (
        lambda: changed(
            "redis-sentinel",
            lambda p: redis_container(p).update(
                env=[{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "cache-auth", "key": "pw"}}}]
            ),
        ),
        {
            (
                "passwords-as-files",
                "mandatory",
                "redis-sentinel",
                "container redis: this sentinel gets REDIS_PASSWORD in its environment, where `docker inspect`, "
                "/proc/<pid>/environ and crash reports show it; fix: mount the passwords as files under /run/secrets/ "
                "(Compose secrets, a Secret volume, uploads marked secret) and read them there, as the components do",
            )
        },
    ),
    "image without a digest outside dev": (
        lambda: changed("redis-sentinel", lambda p: redis_container(p).update(image="redis:7.2.5")),
        {
            (
                "images-pinned",
                "mandatory",
                "redis-sentinel",
                "image 'redis:7.2.5' has no digest in environment 'production'; " + PIN_FIX,
            )
        },
    ),
    "four sentinels": (
        lambda: changed("redis-sentinel", lambda p: p["spec"].update(replicas=4)),
        {
            (
                "sentinel-quorum",
                "mandatory",
                "<stack>",
                "4 sentinels; failover needs an odd number, at least 3; fix: set sentinels.count to 3 (or 5) and "
                "sentinels.quorum to count // 2 + 1",
            ),
            (
                "sentinel-quorum",
                "mandatory",
                "redis-sentinel",
                "container redis: quorum 2 is not a majority of 4 sentinels; fix: set sentinels.count to 3 (or 5) "
                "and sentinels.quorum to count // 2 + 1",
            ),
        },
    ),
    "no exporter": (
        lambda: _without("redis-exporter"),
        {
            (
                "exporter-coverage",
                "mandatory",
                "<stack>",
                "no redis_exporter: the nodes' metrics reach no one; "
                "fix: keep exporter.enabled: true and the exporter on the nodes' network/namespace",
            )
        },
    ),
    "no hook": (
        lambda: _without("cache-init"),
        {
            (
                "hook-after-nodes",
                "mandatory",
                "<stack>",
                "no post-deploy hook (cache-cluster init) in the stack: nothing forms the cluster; fix: make the hook "
                "depend on every node (depends_on, or triggers on their IDs)",
            )
        },
    ),
}


def _retyped(kind: str) -> list[Captured]:
    stack = compliant()
    service = next(item for item in stack if item.type == "kubernetes:core/v1:Service")
    service.properties["spec"]["type"] = kind
    return stack


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_kubernetes_violation_is_reported_exactly(pack: Pack, case: str) -> None:
    make, expected = VIOLATIONS[case]
    assert verdicts(pack.check(make())) == expected


def test_a_load_balancer_passes_when_the_spec_opts_in(pack: Pack) -> None:
    stack = _retyped("LoadBalancer")
    config_map = next(item for item in stack if item.name == "cache-node-conf")
    config_map.properties["data"]["cluster.yaml"] = yaml.safe_dump({**SPEC, "network": {"allow_public_publish": True}})
    assert pack.check(stack) == []


def test_a_one_pod_set_needs_no_budget(pack: Pack) -> None:
    """The fallback primary and its replica run one pod each: a budget could only block drains."""
    stack = [
        stateful_set("redis-fallback", "fallback", 1, "cache-fallback-conf") if item.name == "redis-fallback" else item
        for item in compliant()
        if item.name != "fallback-pdb"
    ]
    assert pack.check(stack) == []


def test_passwords_from_a_projected_volume_count_as_files(pack: Pack) -> None:
    """With tls.cert_secret the pods mount one projected volume: the auth Secret's keys beside the TLS Secret's."""

    def projected(properties: dict[str, Any]) -> None:
        auth = {"name": "cache-auth", "items": [{"key": "redis-password", "path": "redis-password"}]}
        certs = {"name": "cache-tls", "items": [{"key": "tls.crt", "path": "redis-tls-server-cert"}]}
        properties["spec"]["template"]["spec"]["volumes"] = [
            {"name": "config", "configMap": {"name": "cache-node-conf"}},
            {"name": "secrets", "projected": {"sources": [{"secret": auth}, {"secret": certs}]}},
        ]

    assert pack.check(changed("redis-node", projected)) == []
    without = changed("redis-node", lambda p: p["spec"]["template"]["spec"].update(volumes=[
        {"name": "config", "configMap": {"name": "cache-node-conf"}},
        {"name": "secrets", "projected": {"sources": [{"configMap": {"name": "cache-node-conf"}}]}},
    ]))  # fmt: skip
    assert {v.policy for v in pack.check(without)} == {"password-set"}

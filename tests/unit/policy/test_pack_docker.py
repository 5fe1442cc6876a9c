"""The policy pack served as the engine serves it (`python -u -m pulumi.policy <engine> .` in policies/, port read
from stdout) and called over gRPC with the Docker stack's resources, captured under mocks in the engine's shape.

The dev stack is the compliant input; each violating input is the dev stack with one property changed, and the
test asserts the exact violations (policy, level, resource, problem) and nothing else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cache_cluster.policy.analyzer import Pack, Violation, running_pack
from cache_cluster.policy.capture import Captured
from tests.unit.policy.engine_shape import PACK_DIR, SECRET_SIG, capture_stack, secret

DIGEST_ADVISORIES = {
    (
        "images-digest-on-dev",
        "advisory",
        "cache-cluster-redis-image",
        "image 'redis:7.2.5' is pinned by tag only; fix: add @sha256:<digest> to the image references",
    ),
    (
        "images-digest-on-dev",
        "advisory",
        "cache-cluster-exporter-image",
        "image 'oliver006/redis_exporter:v1.62.0' is pinned by tag only; "
        "fix: add @sha256:<digest> to the image references",
    ),
    (
        "images-digest-on-dev",
        "advisory",
        "cache-cluster-prometheus-image",
        "image 'prom/prometheus:v2.53.1' is pinned by tag only; fix: add @sha256:<digest> to the image references",
    ),
}

PIN_FIX = (
    "fix: pin every image (the spec's images.*) as name:tag@sha256:<digest> "
    "(a tag alone is accepted on dev)"
)


@pytest.fixture(scope="module")
def pack() -> Iterator[Pack]:
    with running_pack(PACK_DIR) as running:
        running.configure(stack="dev", project="cache-cluster")
        yield running


@pytest.fixture(scope="module")
def dev() -> list[Captured]:
    return capture_stack("dev")


def verdicts(found: list[Violation]) -> set[tuple[str, str, str, str]]:
    return {(v.policy, v.level, v.resource, v.message.splitlines()[-1]) for v in found}


def changed(resources: list[Captured], name: str, change: Callable[[dict[str, Any]], None]) -> list[Captured]:
    """A deep copy of the stack with `change` applied to the properties of the resource called `name`."""
    copied = copy.deepcopy(resources)
    (target,) = [resource for resource in copied if resource.name == name]
    change(target.properties)
    return copied


def spec_changed(resources: list[Captured], change: Callable[[dict[str, Any]], None]) -> list[Captured]:
    """The stack with the hook's spec (its stdin) changed, as a stack with another spec would hand it over."""

    def edit(properties: dict[str, Any]) -> None:
        spec = json.loads(properties["stdin"])
        change(spec)
        properties["stdin"] = json.dumps(spec)

    return changed(resources, "cache-cluster-init", edit)


def node_conf(properties: dict[str, Any], old: str, new: str) -> None:
    upload = properties["uploads"][0]
    assert old in upload["content"]
    upload["content"] = upload["content"].replace(old, new)


def test_analyzer_info_lists_every_policy_with_level_and_config_defaults(pack: Pack) -> None:
    info = pack.info()
    assert info.name == "cache-cluster"
    levels = {policy.name: policy.enforcementLevel for policy in info.policies}
    assert sorted(name for name, level in levels.items() if level == 0) == [  # ADVISORY
        "cluster-topology-dev-replicas",
        "images-digest-on-dev",
    ]
    assert len(levels) == 26
    by_name = {policy.name: policy for policy in info.policies}
    topology = by_name["cluster-topology"]
    assert topology.configSchema.properties["min_masters"]["default"] == 3
    assert topology.configSchema.properties["min_replicas_per_master"]["default"] == 1
    assert by_name["docker-graceful-stop"].configSchema.properties["min_destroy_grace_seconds"]["default"] == 10
    assert by_name["sentinel-quorum"].configSchema.properties["min_sentinels"]["default"] == 3
    assert by_name["maxmemory-below-limit"].configSchema.properties["max_ratio"]["default"] == 0.9
    assert by_name["hook-after-nodes"].remediation_steps.startswith("make the hook depend on every node")


def test_the_dev_stack_as_captured_is_in_the_engines_shape(dev: list[Captured]) -> None:
    node = next(resource for resource in dev if resource.name == "cache-cluster-redis-node-1")
    assert "envs" not in node.properties  # the passwords are files: each secret upload's content is sealed
    secret_files = [upload for upload in node.properties["uploads"] if upload["file"].startswith("/run/secrets/")]
    assert secret_files and all(upload["content"][SECRET_SIG[0]] == SECRET_SIG[1] for upload in secret_files)
    assert node.properties["networksAdvanced"] == [{"aliases": ["redis-node-1"], "name": "cache-cluster"}]
    assert node.properties["healthcheck"]["startPeriod"] == "5s"  # camelCase, as pulumi-docker's schema names it
    hook = next(resource for resource in dev if resource.name == "cache-cluster-init")
    assert node.urn in hook.dependencies


def test_the_dev_stack_passes_with_only_the_dev_digest_advisories(pack: Pack, dev: list[Captured]) -> None:
    assert verdicts(pack.check(dev)) == DIGEST_ADVISORIES


def test_analyze_checks_one_resource_by_its_inputs(pack: Pack, dev: list[Captured]) -> None:
    node = copy.deepcopy(next(resource for resource in dev if resource.name == "cache-cluster-redis-node-2"))
    assert pack.analyze(node) == []
    node.properties["restart"] = "no"
    del node.properties["memory"]
    # maxmemory-below-limit, a stack rule, speaks only in AnalyzeStack.
    assert verdicts(pack.analyze(node)) == {
        (
            "docker-restart-policy",
            "mandatory",
            "cache-cluster-redis-node-2",
            "restart policy 'no': the container stays down after a crash or a daemon restart; "
            "fix: set restart to unless-stopped (or always / on-failure)",
        ),
        (
            "docker-memory-limit",
            "mandatory",
            "cache-cluster-redis-node-2",
            "no memory limit (memory): one container can starve every other on the host; "
            "fix: set memory (MB) on the container; for Redis keep maxmemory below it",
        ),
    }


VIOLATIONS: dict[str, tuple[Callable[[list[Captured]], list[Captured]], set[tuple[str, str, str, str]]]] = {
    "health check": (
        lambda dev: changed(dev, "cache-cluster-redis-sentinel-2", lambda p: p.pop("healthcheck")),
        {
            (
                "docker-health-check",
                "mandatory",
                "cache-cluster-redis-sentinel-2",
                "no health check (healthcheck.tests): Docker and the deploy cannot tell a hung server from a live one; "
                "fix: set healthcheck.tests (e.g. CMD-SHELL redis-cli -p PORT ping)",
            )
        },
    ),
    "graceful stop": (
        lambda dev: changed(dev, "cache-cluster-redis-node-3", lambda p: p.update(destroyGraceSeconds=2)),
        {
            (
                "docker-graceful-stop",
                "mandatory",
                "cache-cluster-redis-node-3",
                "destroyGraceSeconds is 2 s: below 10 s Redis may be killed before it flushes the AOF; "
                "fix: set destroy_grace_seconds on the container (the component's default is enough)",
            )
        },
    ),
    "published on every address": (
        lambda dev: changed(dev, "cache-cluster-redis-node-1", lambda p: p["ports"][0].update(ip="0.0.0.0")),
        {
            (
                "no-public-exposure",
                "mandatory",
                "cache-cluster-redis-node-1",
                "port 7001 is published on 0.0.0.0, not loopback; fix: publish on 127.0.0.1 "
                "(network.publish_address) or opt in with network.allow_public_publish: true",
            )
        },
    ),
    "password in a plain secret file": (
        lambda dev: changed(
            dev,
            "cache-cluster-redis-exporter",
            lambda p: p["uploads"][0].update(content=p["uploads"][0]["content"]["value"]),
        ),
        {
            (
                "password-secret",
                "mandatory",
                "cache-cluster-redis-exporter",
                "uploads[0].content holds the Redis password (or an auth line) in plain text, not marked secret; fix: "
                "pass the password as pulumi.Output.secret(...) (or config set --secret) so every input holding it is "
                "secret",
            ),
            (
                "password-never-plain",
                "mandatory",
                "cache-cluster-redis-exporter",
                "uploads[0].content contains the Redis password in plain text; fix: read the password "
                "from the environment or a mounted secret, never from a literal in a command or file",
            ),
        },
    ),
    "password in a container's environment, even marked secret": (
        lambda dev: changed(
            dev,
            "cache-cluster-redis-node-3",
            lambda p: p.setdefault("envs", []).append(secret("REDISCLI_AUTH=PolicyCheckStandIn0123456789abcd")),
        ),
        {
            (
                "passwords-as-files",
                "mandatory",
                "cache-cluster-redis-node-3",
                "this node gets REDISCLI_AUTH in its environment, where `docker inspect`, /proc/<pid>/environ and "
                "crash reports show it; fix: mount the passwords as files under /run/secrets/ (Compose secrets, a "
                "Secret volume, uploads marked secret) and read them there, as the components do",
            )
        },
    ),
    "password on a command line": (
        lambda dev: changed(
            dev,
            "cache-cluster-redis-exporter",
            lambda p: p["command"].append("--redis.password=PolicyCheckStandIn0123456789abcd"),
        ),
        {
            (
                "password-never-plain",
                "mandatory",
                "cache-cluster-redis-exporter",
                "command[6] contains the Redis password in plain text; fix: read the "
                "password from the environment or a mounted secret, never from a literal in a command or file",
            )
        },
    ),
    "auth line with a literal password in a config file": (
        lambda dev: changed(
            dev,
            "cache-cluster-redis-node-2",
            lambda p: node_conf(p, "include /tmp/cache-cluster/auth.conf", "requirepass Literal-password-in-conf"),
        ),
        {
            (
                "password-secret",
                "mandatory",
                "cache-cluster-redis-node-2",
                "uploads[0].content holds the Redis password (or an auth line) in plain text, not marked secret; "
                "fix: pass the password as pulumi.Output.secret(...) (or config set --secret) so every input "
                "holding it is secret",
            )
        },
    ),
    "an application's container beside the cache: only the password rules judge it": (
        lambda dev: [*copy.deepcopy(dev), _application_container()],
        {
            (
                "password-secret",
                "mandatory",
                "shop-app",
                "envs[0] holds the Redis password (or an auth line) in plain text, not marked secret; fix: pass the "
                "password as pulumi.Output.secret(...) (or config set --secret) so every input holding it is secret",
            ),
            (
                "password-never-plain",
                "mandatory",
                "shop-app",
                "envs[0] contains the Redis password in plain text; fix: read the password from the environment or "
                "a mounted secret, never from a literal in a command or file",
            ),
        },
    ),
    "no password": (
        lambda dev: changed(
            dev,
            "cache-cluster-redis-fallback-replica",
            lambda p: p.update(uploads=[u for u in p["uploads"] if not u["file"].startswith("/run/secrets/")]),
        ),
        {
            (
                "password-set",
                "mandatory",
                "cache-cluster-redis-fallback-replica",
                "this single gets no password (neither as a file under /run/secrets/ nor in its environment): "
                "it would run without auth; fix: "
                "mount the deployment's secret files into the container (the component does this; keep auth on)",
            )
        },
    ),
    "latest image": (
        lambda dev: changed(dev, "cache-cluster-redis-image", lambda p: p.update(name="redis:latest")),
        {
            (
                "images-pinned",
                "mandatory",
                "cache-cluster-redis-image",
                "image 'redis:latest' uses the moving tag latest; " + PIN_FIX,
            )
        }
        | {advisory for advisory in DIGEST_ADVISORIES if advisory[2] != "cache-cluster-redis-image"},
    ),
    "untagged image": (
        lambda dev: changed(dev, "cache-cluster-exporter-image", lambda p: p.update(name="oliver006/redis_exporter")),
        {
            (
                "images-pinned",
                "mandatory",
                "cache-cluster-exporter-image",
                "image 'oliver006/redis_exporter' has no tag (it means latest); " + PIN_FIX,
            )
        }
        | {advisory for advisory in DIGEST_ADVISORIES if advisory[2] != "cache-cluster-exporter-image"},
    ),
    "maxmemory above the limit": (
        lambda dev: changed(
            dev, "cache-cluster-redis-node-4", lambda p: node_conf(p, "maxmemory 384mb", "maxmemory 500mb")
        ),
        {
            (
                "maxmemory-below-limit",
                "mandatory",
                "cache-cluster-redis-node-4",
                "maxmemory 500 MB is above 0.9 x the 512 MB limit (no room for buffers, "
                "forks and replication); fix: lower memory.maxmemory_mb or raise memory.container_memory_mb",
            )
        },
    ),
    "nodes.conf off the volume": (
        lambda dev: changed(dev, "cache-cluster-redis-node-5", lambda p: p.update(volumes=[])),
        {
            (
                "nodes-conf-persistent",
                "mandatory",
                "cache-cluster-redis-node-5",
                "/data/nodes.conf is on no volume: a restart forgets the cluster; fix: mount "
                "a named volume (Docker) or a PersistentVolumeClaim (Kubernetes) at the node's dir",
            )
        },
    ),
    "nodes.conf moved out of the volume's dir": (
        lambda dev: changed(
            dev,
            "cache-cluster-redis-node-6",
            lambda p: node_conf(p, "cluster-config-file nodes.conf", "cluster-config-file /tmp/nodes.conf"),
        ),
        {
            (
                "nodes-conf-persistent",
                "mandatory",
                "cache-cluster-redis-node-6",
                "/tmp/nodes.conf is on no volume: a restart forgets the cluster; fix: mount "
                "a named volume (Docker) or a PersistentVolumeClaim (Kubernetes) at the node's dir",
            )
        },
    ),
    "quorum not a majority": (
        lambda dev: changed(dev, "cache-cluster-redis-sentinel-1", lambda p: node_conf(p, "6380 2\n", "6380 1\n")),
        {
            (
                "sentinel-quorum",
                "mandatory",
                "cache-cluster-redis-sentinel-1",
                "quorum 1 is not a majority of 3 sentinels; fix: set sentinels.count to "
                "3 (or 5) and sentinels.quorum to count // 2 + 1",
            )
        },
    ),
    "exporter gone": (
        lambda dev: [resource for resource in dev if resource.name != "cache-cluster-redis-exporter"],
        {
            (
                "exporter-coverage",
                "mandatory",
                "<stack>",
                "no redis_exporter: the nodes' metrics reach no one; fix: keep exporter.enabled: true and the exporter "
                "on the nodes' network/namespace",
            )
        },
    ),
    "exporter off the nodes' network": (
        lambda dev: changed(
            dev, "cache-cluster-redis-exporter", lambda p: p["networksAdvanced"][0].update(name="other")
        ),
        {
            (
                "exporter-coverage",
                "mandatory",
                f"cache-cluster-redis-{name}",
                "no exporter is on its networks ['cache-cluster']; fix: keep "
                "exporter.enabled: true and the exporter on the nodes' network/namespace",
            )
            for name in (
                "node-1",
                "node-2",
                "node-3",
                "node-4",
                "node-5",
                "node-6",
                "fallback",
                "fallback-replica",
                "sentinel-1",
                "sentinel-2",
                "sentinel-3",
            )
        },
    ),
    "hook not waiting for a node": (
        lambda dev: _hook_without(dev, "cache-cluster-redis-node-6"),
        {
            (
                "hook-after-nodes",
                "mandatory",
                "cache-cluster-init",
                "cache-cluster-init does not wait for cache-cluster-redis-node-6: it may run before they exist; "
                "fix: make "
                "the hook depend on every node (depends_on, or triggers on their IDs)",
            )
        },
    ),
    "fallback chain reordered": (
        lambda dev: spec_changed(
            dev, lambda s: s["fallback"].update(tiers=["cluster", "memory", "single", "database"])
        ),
        {
            (
                "fallback-chain-order",
                "mandatory",
                "<stack>",
                "fallback tiers ['cluster', 'memory', 'single', 'database']; the order is "
                "['cluster', 'single', 'memory', 'database'] (tiers may be left out); "
                "fix: set fallback.tiers to a sub-list of [cluster, single, memory, "
                "database] in that order",
            )
        },
    ),
    "two masters": (
        lambda dev: spec_changed(dev, lambda s: s["topology"].update(masters=2)),
        {
            (
                "cluster-topology",
                "mandatory",
                "<stack>",
                "2 masters; a cluster needs at least 3; "
                "fix: set topology.masters >= 3 and topology.replicas_per_master "
                ">= 1 in cache-cluster:cluster",
            ),
            (
                "cluster-topology",
                "mandatory",
                "<stack>",
                "6 cluster nodes declared; the spec's 2 masters x 2 need 4; fix: set topology.masters >= 3 and "
                "topology.replicas_per_master >= 1 in cache-cluster:cluster",
            ),
        },
    ),
    "no replicas on dev": (
        lambda dev: spec_changed(dev, lambda s: s["topology"].update(masters=6, replicas_per_master=0)),
        {
            (
                "cluster-topology-dev-replicas",
                "advisory",
                "<stack>",
                "0 replicas per master on 'dev': a failed master loses its shard; "
                "fix: set topology.replicas_per_master: "
                "1 to rehearse failover on dev",
            )
        },
    ),
    "no replicas on staging": (
        lambda dev: spec_changed(
            dev,
            lambda s: s.update(
                environment="staging", topology={**s["topology"], "masters": 6, "replicas_per_master": 0}
            ),
        ),
        {
            (
                "cluster-topology",
                "mandatory",
                "<stack>",
                "0 replicas per master in environment 'staging'; at least 1; fix: set topology.masters >= 3 and "
                "topology.replicas_per_master >= 1 in cache-cluster:cluster",
            )
        }
        | {
            (
                "images-pinned",
                "mandatory",
                resource,
                f"image {image!r} has no digest in environment 'staging'; " + PIN_FIX,
            )
            for resource, image in (
                ("cache-cluster-redis-image", "redis:7.2.5"),
                ("cache-cluster-exporter-image", "oliver006/redis_exporter:v1.62.0"),
                ("cache-cluster-prometheus-image", "prom/prometheus:v2.53.1"),
            )
        },
    ),
}


def _application_container() -> Captured:
    """An application stack's own container (no cache-cluster component above it): no health check, no limits,
    ports on every address, and the cache's password in plain text."""
    return Captured(
        type="docker:index/container:Container",
        name="shop-app",
        urn="urn:pulumi:dev::cache-cluster::docker:index/container:Container::shop-app",
        properties={
            "name": "shop-app",
            "image": "shop/app:latest",
            "envs": ["REDIS_PASSWORD=PolicyCheckStandIn0123456789abcd"],
            "ports": [{"internal": 8080, "external": 8080, "ip": "0.0.0.0", "protocol": "tcp"}],
        },
    )


def _hook_without(dev: list[Captured], node: str) -> list[Captured]:
    copied = copy.deepcopy(dev)
    urn = next(resource.urn for resource in copied if resource.name == node)
    hook = next(resource for resource in copied if resource.name == "cache-cluster-init")
    hook.dependencies = [dependency for dependency in hook.dependencies if dependency != urn]
    hook.property_dependencies = {
        key: [u for u in urns if u != urn] for key, urns in hook.property_dependencies.items()
    }
    return copied


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_violation_is_reported_exactly(pack: Pack, dev: list[Captured], case: str) -> None:
    make, expected = VIOLATIONS[case]
    found = verdicts(pack.check(make(dev)))
    advisories = set() if any(item[0].startswith("images") for item in expected) else DIGEST_ADVISORIES
    assert found == expected | advisories


def test_persistence_off_outside_dev_is_refused(pack: Pack, dev: list[Captured]) -> None:
    staging = spec_changed(dev, lambda s: s.update(environment="staging"))
    for index in range(1, 7):
        staging = changed(
            staging, f"cache-cluster-redis-node-{index}", lambda p: node_conf(p, "appendonly yes", "appendonly no")
        )
    found = {item for item in verdicts(pack.check(staging)) if item[0] == "persistence-outside-dev"}
    assert found == {
        (
            "persistence-outside-dev",
            "mandatory",
            f"cache-cluster-redis-node-{index}",
            "neither AOF nor RDB snapshots: a restart loses every key; fix: set "
            "persistence.appendonly: true (or rdb_snapshots: true) in the spec",
        )
        for index in range(1, 7)
    }
    dev_without_aof = dev
    for index in range(1, 7):
        dev_without_aof = changed(
            dev_without_aof,
            f"cache-cluster-redis-node-{index}",
            lambda p: node_conf(p, "appendonly yes", "appendonly no"),
        )
    assert verdicts(pack.check(dev_without_aof)) == DIGEST_ADVISORIES


def test_an_even_sentinel_count_is_refused(pack: Pack, dev: list[Captured]) -> None:
    fewer = [resource for resource in dev if resource.name != "cache-cluster-redis-sentinel-3"]
    assert verdicts(pack.check(fewer)) - DIGEST_ADVISORIES == {
        (
            "sentinel-quorum",
            "mandatory",
            "<stack>",
            "2 sentinels; failover needs an odd number, at least 3; fix: set sentinels.count to 3 (or 5) and "
            "sentinels.quorum to count // 2 + 1",
        ),
    }


def test_public_publish_passes_when_the_spec_opts_in(pack: Pack, dev: list[Captured]) -> None:
    public = changed(dev, "cache-cluster-redis-node-1", lambda p: p["ports"][0].update(ip="0.0.0.0"))
    opted_in = spec_changed(public, lambda s: s["network"].update(allow_public_publish=True))
    assert verdicts(pack.check(opted_in)) == DIGEST_ADVISORIES


def test_a_team_tunes_thresholds_and_levels_through_policy_config(dev: list[Captured]) -> None:
    with running_pack(PACK_DIR) as tuned:
        tuned.configure(
            stack="dev",
            project="cache-cluster",
            policy_config={
                "cluster-topology": {"min_masters": 5},
                "images-digest-on-dev": "disabled",
                "docker-graceful-stop": {"enforcementLevel": "advisory", "min_destroy_grace_seconds": 3600},
            },
        )
        found = verdicts(tuned.check(dev))
    assert (
        "cluster-topology",
        "mandatory",
        "<stack>",
        "3 masters; a cluster needs at least 5; fix: set topology.masters >= 3 and topology.replicas_per_master "
        ">= 1 in cache-cluster:cluster",
    ) in found
    assert not [item for item in found if item[0] == "images-digest-on-dev"]
    graceful = {item for item in found if item[0] == "docker-graceful-stop"}
    assert len(graceful) == 13 and {item[1] for item in graceful} == {"advisory"}  # every container


# sdk/go/common/resource/plugin/rpc.go: what MarshalProperties(KeepUnknowns) sends for a string not known yet.
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_values_unknown_during_a_first_preview_are_not_violations(pack: Pack, dev: list[Captured]) -> None:
    preview = dev
    for index in range(1, 7):
        # The image ID comes from the RemoteImage, the password from RandomPassword: neither exists yet.
        preview = changed(
            preview,
            f"cache-cluster-redis-node-{index}",
            lambda p: p.update(image=UNKNOWN_STRING, envs=secret(UNKNOWN_STRING)),
        )
    assert verdicts(pack.check(preview)) == DIGEST_ADVISORIES

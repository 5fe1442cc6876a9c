"""The two renderings of one plan agree: the Pulumi Docker containers (captured under mocks) and the Compose
services (`render_compose`), field by field.

Each side is reduced to the same neutral view; only what each format must spell differently is normalized:
Compose's `$$` escapes and `${VAR:-default}` image references, secret files as Compose secrets named after the
variable that fills them (Pulumi uploads the value), durations, memory units, file modes.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import pulumi
import pytest

from tests.unit import pulumi_mocks as pm

pm.install()  # before anything declares resources, as Pulumi's testing guide does

from cache_cluster import acl  # noqa: E402
from cache_cluster.plan import INIT_SERVICE, plan  # noqa: E402
from cache_cluster.spec import ClusterSpec  # noqa: E402
from cache_cluster.targets.compose import render_compose  # noqa: E402
from cache_cluster.targets.docker import DockerCacheCluster, rolling_predecessors  # noqa: E402

PASSWORD = "Parity-password.0123456789"
SPECS = {
    "dev defaults": {},
    "acl users, other ports, no rdb": {
        "name": "shop-cache",
        "auth": {"acl_users": [{"name": "billing"}, {"name": "reporting", "rules": "~report:* +@read"}]},
        "topology": {"masters": 3, "replicas_per_master": 2, "base_port": 7101},
        "sentinels": {"count": 5, "quorum": 3, "base_port": 26400},
        "network": {"name": "shop-net"},
        "memory": {"cpu_limit": "500m"},
        "images": {"redis": "cache-cluster/redis:7.0.15-debian", "exporter": "cache-cluster/redis-exporter:1.5-debian"},
        "monitoring": {"prometheus": {"enabled": True, "port": 9191}},
    },
    "no fallback, no exporter": {"fallback": {"enabled": False}, "exporter": {"enabled": False}},
}
_IMAGE_REFERENCE = re.compile(r"^\$\{[A-Z_]+:-(?P<default>.*)\}$")
_SECRET_REFERENCE = re.compile(r"^\$\{(?P<variable>[A-Z0-9_]+):-\}$")


def unescape(value: Any) -> Any:
    """Compose's `$$` is a literal `$` (compose-go interpolation)."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [unescape(item) for item in value]
    return value


def compose_view(document: dict[str, Any], name: str, project: str) -> dict[str, Any]:
    """`project`: the Compose project name (`-p`), which prefixes the volume names."""
    service = document["services"][name]
    environment = {}
    for key, value in service.get("environment", {}).items():
        secret = _SECRET_REFERENCE.match(value)
        environment[key] = f"secret:{secret.group('variable')}" if secret else unescape(value)
    check = service.get("healthcheck")
    image = _IMAGE_REFERENCE.match(service["image"])
    assert image is not None, service["image"]
    return {
        "image": unescape(image.group("default")),
        "hostname": service["hostname"],
        "entrypoint": unescape(service.get("entrypoint", [])),
        "command": unescape(service.get("command", [])),
        "environment": environment,
        "ports": sorted(port.replace("[", "").replace("]", "") for port in service.get("ports", [])),
        # Compose names a volume `<project>_<key>`; the network has an explicit name.
        "volumes": {
            path: f"{project}_{volume}"
            for volume, path in (entry.split(":", 1) for entry in service.get("volumes", []))
        },
        "networks": {document["networks"][key]["name"]: value["aliases"] for key, value in service["networks"].items()},
        "healthcheck": None
        if check is None
        else {
            "test": unescape(check["test"]),
            "interval": check["interval"],
            "timeout": check["timeout"],
            "retries": check["retries"],
            "start_period": check["start_period"],
        },
        "files": {
            config["target"]: (unescape(document["configs"][config["source"]]["content"]), f"0{config['mode']:o}")
            for config in service.get("configs", [])
        },
        "secret_files": {
            secret["target"]: (f"secret:{document['secrets'][secret['source']]['environment']}", f"0{secret['mode']:o}")
            for secret in service.get("secrets", [])
        },
        "memory_mb": int(service["mem_limit"].removesuffix("m")) if "mem_limit" in service else None,
        "cpus": service.get("cpus"),
        "user": service.get("user"),
        "restart": service["restart"],
        "init": service.get("init", False),
        # The one-shot init service is Compose's own way to run the hook (the Docker component runs it as a
        # Command); the exporter's wait for it is not a dependency between servers.
        "depends_on": {
            dependency: value["condition"]
            for dependency, value in service.get("depends_on", {}).items()
            if dependency != INIT_SERVICE
        },
    }


def pulumi_view(
    mocks: pm.RecordingMocks, container: pm.Registered, secrets: dict[str, str], prefix: str
) -> dict[str, Any]:
    inputs = container.inputs
    images = {image.outputs["image_id"]: image.inputs["name"] for image in pm.of_type(mocks, pm.REMOTE_IMAGE)}
    containers = {other.urn: other for other in pm.of_type(mocks, pm.CONTAINER)}
    environment = {}
    for entry in inputs.get("envs", []):
        key, value = entry.split("=", 1)
        environment[key] = f"secret:{secrets[value]}" if value in secrets else value
    check = inputs.get("healthcheck")
    depends_on = {}
    for urn in container.dependencies:
        if urn in containers:
            dependency = containers[urn]
            depends_on[dependency.name.removeprefix(prefix)] = dependency
    return {
        "image": images[inputs["image"]],
        "hostname": inputs["hostname"],
        "entrypoint": inputs.get("entrypoints") or [],
        "command": inputs.get("command") or [],
        "environment": environment,
        "ports": sorted(
            f"{port['ip']}:{int(port['external'])}:{int(port['internal'])}" for port in inputs.get("ports", [])
        ),
        "volumes": {volume["containerPath"]: volume["volumeName"] for volume in inputs.get("volumes", [])},
        "networks": {network["name"]: network["aliases"] for network in inputs["networksAdvanced"]},
        "healthcheck": None
        if check is None
        else {
            "test": check["tests"],
            "interval": check["interval"],
            "timeout": check["timeout"],
            "retries": int(check["retries"]),
            "start_period": check["startPeriod"],
        },
        "files": {
            upload["file"]: (upload["content"], upload["permissions"])
            for upload in inputs.get("uploads", [])
            if not upload["file"].startswith("/run/secrets/")
        },
        "secret_files": {
            upload["file"]: (f"secret:{secrets[upload['content']]}", upload["permissions"])
            for upload in inputs.get("uploads", [])
            if upload["file"].startswith("/run/secrets/")
        },
        "memory_mb": int(inputs["memory"]) if "memory" in inputs else None,
        "cpus": inputs.get("cpus"),
        "user": inputs.get("user"),
        "restart": inputs["restart"],
        "init": inputs["init"],
        "depends_on": depends_on,
    }


def same_dependencies(service: str, ours: dict[str, pm.Registered], theirs: dict[str, str], rolled: str | None) -> None:
    """Compose's depends_on, plus (Pulumi only) the container before this one in the rolling order. Pulumi waits
    for every container with a health check, so a `service_healthy` dependency is one Pulumi waits for."""
    assert set(ours) == set(theirs) | ({rolled} if rolled else set()), f"{service}: {sorted(ours)} vs {theirs}"
    for dependency, condition in theirs.items():
        if condition == "service_healthy":
            assert ours[dependency].inputs.get("wait") is True, f"{service} -> {dependency} is not waited for"


def acl_passwords(spec: ClusterSpec) -> dict[str, str]:
    """A distinct password per ACL user, so each secret file's content tells which secret it is."""
    return {user.name: f"Parity-{user.name}-password.0123456789" for user in spec.auth.acl_users}


def internal_passwords(spec: ClusterSpec) -> dict[str, str]:
    kinds = [kind for kind in acl.password_kinds(spec) if kind != "password" and not kind.startswith("acl:")]
    return {kind: f"Parity-{kind}-password.0123456789" for kind in kinds}


def secret_variables(spec: ClusterSpec) -> dict[str, str]:
    """Each secret file's content -> the variable Compose fills the same file from."""
    users = {user.name: user for user in spec.auth.acl_users}
    variables = {PASSWORD: "REDIS_PASSWORD"}
    variables |= {password: users[name].password_env for name, password in acl_passwords(spec).items()}
    variables |= {password: f"REDIS_{kind.upper()}_PASSWORD" for kind, password in internal_passwords(spec).items()}
    if spec.exporter.enabled:
        password_map = {target: "Parity-exporter-password.0123456789" for target in plan(spec).exporter_targets}
        variables[json.dumps(password_map, sort_keys=True)] = "REDIS_EXPORTER_PASSWORD_MAP"
    return variables


def deploy(spec: ClusterSpec) -> pm.RecordingMocks:
    mocks = pm.install()
    args = {
        "spec": spec,
        "password": PASSWORD,
        "acl_passwords": acl_passwords(spec),
        "internal_passwords": internal_passwords(spec),
    }

    @pulumi.runtime.test
    def run() -> pulumi.Output[str]:
        return DockerCacheCluster("cache", args).urn  # type: ignore[arg-type]

    run()
    return mocks


@pytest.mark.parametrize("overrides", SPECS.values(), ids=list(SPECS))
def test_pulumi_containers_and_compose_services_agree(overrides: dict[str, Any]) -> None:
    spec = ClusterSpec.model_validate(overrides)
    deployment = plan(spec)
    document = render_compose(deployment)
    mocks = deploy(spec)
    secrets = secret_variables(spec)
    containers = {container.inputs["hostname"]: container for container in pm.of_type(mocks, pm.CONTAINER)}
    rolled = rolling_predecessors(deployment)

    assert sorted(containers) == sorted(s.name for s in deployment.services)
    assert sorted(document["services"]) == sorted([*containers, INIT_SERVICE])
    for name, container in containers.items():
        ours, theirs = pulumi_view(mocks, container, secrets, "cache-"), compose_view(document, name, spec.name)
        assert set(ours) == set(theirs)
        same_dependencies(name, ours.pop("depends_on"), theirs.pop("depends_on"), rolled.get(name))
        for field in ours:
            if field == "files":
                assert_same_files(name, ours[field], theirs[field])
            assert ours[field] == theirs[field], f"{name}.{field}: Pulumi {ours[field]!r} != Compose {theirs[field]!r}"


def assert_same_files(service: str, ours: dict[str, tuple[str, str]], theirs: dict[str, tuple[str, str]]) -> None:
    """Files compared path by path, a content difference shown as a diff rather than two whole files."""
    assert sorted(ours) == sorted(theirs), f"{service}: files {sorted(ours)} != {sorted(theirs)}"
    for path, (content, mode) in ours.items():
        assert mode == theirs[path][1], f"{service} {path}: mode {mode} (Pulumi) != {theirs[path][1]} (Compose)"
        diff = difflib.unified_diff(
            theirs[path][0].splitlines(), content.splitlines(), "compose", "pulumi", lineterm=""
        )
        assert content == theirs[path][0], f"{service} {path}:\n" + "\n".join(diff)


def test_the_views_see_every_field_the_plan_sets() -> None:
    """Guard against a vacuous comparison: a node's view is full on both sides."""
    spec = ClusterSpec()
    view = compose_view(render_compose(plan(spec)), "redis-fallback-replica", spec.name)
    assert view["environment"] == {}
    assert view["secret_files"] == {
        "/run/secrets/redis-password": ("secret:REDIS_PASSWORD", "0444"),
        "/run/secrets/redis-admin-password": ("secret:REDIS_ADMIN_PASSWORD", "0444"),
        "/run/secrets/redis-exporter-password": ("secret:REDIS_EXPORTER_PASSWORD", "0444"),
        "/run/secrets/redis-replication-password": ("secret:REDIS_REPLICATION_PASSWORD", "0444"),
        "/run/secrets/redis-sentinel-password": ("secret:REDIS_SENTINEL_PASSWORD", "0444"),
    }
    assert view["ports"] == ["127.0.0.1:6381:6381"]
    assert view["volumes"] == {"/data": "cache-cluster_redis-fallback-replica-data"}
    assert view["depends_on"] == {"redis-fallback": "service_healthy"}
    assert "$(redis-cli" in view["healthcheck"]["test"][1]
    assert set(view["files"]) == {"/etc/cache-cluster/redis.conf", "/etc/cache-cluster/entrypoint.sh"}
    assert view["files"]["/etc/cache-cluster/entrypoint.sh"][1] == "0555"
    assert view["init"] is True and view["memory_mb"] == 512 and view["user"] == "999:999"

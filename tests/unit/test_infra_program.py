"""infra/__main__.py, the stack program, run under Pulumi's mocks with stack config set as the engine sets it."""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from cache_cluster.loader import load_spec_file
from tests.unit import pulumi_mocks as pm

pm.install()  # before anything declares resources, as Pulumi's testing guide does

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "infra" / "__main__.py"
DEV_CLUSTER = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["cache-cluster:cluster"]
PROD_CLUSTER = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["cache-cluster:cluster"]
PASSWORD = "Config-password.0123456789"


@pytest.fixture(autouse=True)
def _no_config_left_behind() -> Iterator[None]:
    yield
    pulumi.runtime.set_all_config({}, [])


def set_config(cluster: Any = None, password: str | None = None) -> None:
    """Stack config as the engine hands it to the program: JSON text for objects, secret keys listed."""
    config: dict[str, str] = {}
    if cluster is not None:
        config["cache-cluster:cluster"] = json.dumps(cluster)
    if password is not None:
        config["cache-cluster:redisPassword"] = password
    pulumi.runtime.set_all_config(config, ["cache-cluster:redisPassword"] if password is not None else [])


def run_program(stack: str = "dev") -> tuple[pm.RecordingMocks, dict[str, Any], dict[str, bool]]:
    """Run the program; return the registrations, the stack exports and which exported values are secret."""
    mocks = pm.install(stack)
    exports: dict[str, Any] = {}
    secret: dict[str, bool] = {}

    async def secretness() -> None:
        for name, value in exports.items():
            values = value.items() if isinstance(value, dict) else [("", value)]
            for key, item in values:
                if isinstance(item, pulumi.Output):
                    secret[f"{name}.{key}" if key else name] = await item.is_secret()
            if isinstance(value, pulumi.Output):
                exports[name] = await value.future()

    original = pulumi.export

    def export(name: str, value: Any) -> None:
        exports[name] = value
        original(name, value)

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        pulumi.export = export
        try:
            runpy.run_path(str(PROGRAM), run_name="__main__")
        finally:
            pulumi.export = original
        return pulumi.Output.from_input(secretness())

    run()
    return mocks, exports, secret


def test_dev_stack_deploys_the_whole_cluster_and_exports_the_contract() -> None:
    set_config(DEV_CLUSTER)
    mocks, exports, secret = run_program()
    # 6 nodes, 2 fallback servers, 3 sentinels, the exporter and Prometheus (the dev stack turns it on).
    assert len(pm.of_type(mocks, pm.CONTAINER)) == 13
    # No redisPassword in config: the application's is generated, beside admin, exporter, replication, sentinel.
    assert sorted(r.name for r in pm.of_type(mocks, pm.RANDOM_PASSWORD)) == [
        "cache-cluster-admin-password", "cache-cluster-exporter-password", "cache-cluster-password",
        "cache-cluster-replication-password", "cache-cluster-sentinel-password",
    ]
    assert [r.name for r in pm.of_type(mocks, pm.COMPONENT)] == ["cache-cluster"]
    assert set(exports) == {"env", "node_endpoints", "host_address_map", "exporter_url", "admin_password"}
    assert secret["env.REDIS_PASSWORD"] is True and secret["admin_password"] is True
    secrets = {key for key, is_secret in secret.items() if is_secret}
    assert secrets == {"env.REDIS_PASSWORD", "admin_password"}
    assert exports["node_endpoints"][0] == "redis-node-1:7001"
    assert exports["host_address_map"]["redis-node-6:7006"] == "127.0.0.1:7006"
    assert exports["exporter_url"] == "http://127.0.0.1:9121"


def test_the_configured_secret_password_is_used_and_stays_secret() -> None:
    set_config(DEV_CLUSTER, password=PASSWORD)
    mocks, _, secret = run_program()
    assert "cache-cluster-password" not in {r.name for r in pm.of_type(mocks, pm.RANDOM_PASSWORD)}
    node = next(r for r in pm.of_type(mocks, pm.CONTAINER) if r.name == "cache-cluster-redis-node-1")
    uploads = {upload["file"]: upload["content"] for upload in node.inputs["uploads"]}
    assert uploads["/run/secrets/redis-password"] == PASSWORD and "uploads" in node.secret
    assert "envs" not in node.inputs
    (hook,) = pm.of_type(mocks, pm.COMMAND)
    assert PASSWORD not in hook.inputs["create"] + hook.inputs["stdin"]
    assert secret["env.REDIS_PASSWORD"] is True


def test_environment_defaults_to_the_stack_name() -> None:
    set_config({key: value for key, value in DEV_CLUSTER.items() if key != "environment"})
    mocks, _, _ = run_program(stack="staging")
    (hook,) = pm.of_type(mocks, pm.COMMAND)
    assert json.loads(hook.inputs["stdin"])["environment"] == "staging"


def _clean_failure(stack: str = "dev") -> str:
    """Run the program expecting a RunError; return its text.

    Pulumi's Python host catches a RunError and logs `str(error)` alone, where any other exception is shown
    as "Program failed with an unhandled exception" and a traceback.
    """
    with pytest.raises(pulumi.RunError) as raised:
        run_program(stack)
    message = str(raised.value)
    assert message.strip() and "Traceback" not in message
    return message


def test_an_invalid_spec_is_a_clean_error_naming_the_field() -> None:
    set_config({**DEV_CLUSTER, "topology": {"masters": 2}, "sentinels": {"count": 4}})
    message = _clean_failure()
    assert message.startswith("error: stack 'dev' (Pulumi.dev.yaml) is not a valid cluster spec")
    assert "config.cache-cluster:cluster.topology.masters" in message
    assert "config.cache-cluster:cluster.sentinels.count" in message
    assert "fix:" in message


def test_nothing_is_declared_when_the_spec_is_invalid() -> None:
    set_config({**DEV_CLUSTER, "network": {"publish_address": "0.0.0.0"}})
    mocks = pm.install()
    with pytest.raises(pulumi.RunError, match=r"network\.publish_address"):
        pulumi.runtime.test(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))()
    assert not mocks.resources


def test_a_weak_configured_password_is_refused_without_showing_it() -> None:
    weak = "tooShort1"
    set_config(DEV_CLUSTER, password=weak)
    message = _clean_failure()
    assert message.startswith("error: cache-cluster:redisPassword is not acceptable")
    assert "fewer than 16" in message
    assert weak not in message


def test_the_prod_stack_deploys_the_kubernetes_component() -> None:
    set_config(PROD_CLUSTER)
    mocks, exports, secret = run_program(stack="prod")
    assert [r.name for r in pm.of_type(mocks, "cache-cluster:index:KubernetesCacheCluster")] == ["cache-cluster"]
    assert not pm.of_type(mocks, pm.CONTAINER)
    assert len(pm.of_type(mocks, "kubernetes:apps/v1:StatefulSet")) == 4
    assert len(pm.of_type(mocks, "kubernetes:batch/v1:Job")) == 1
    assert exports["node_endpoints"][0] == "redis-node-1.redis-node-headless.cache.svc.cluster.local:7001"
    assert exports["host_address_map"] == {}
    assert exports["exporter_url"] == "http://redis-exporter.cache.svc.cluster.local:9121"
    assert secret["env.REDIS_PASSWORD"] is True


def test_missing_or_malformed_cluster_config_is_a_clean_error() -> None:
    set_config(None)
    assert "cache-cluster:cluster" in _clean_failure()
    set_config(["not", "a", "mapping"])
    assert "must hold a mapping" in _clean_failure()


@pytest.mark.parametrize(
    ("stack", "cluster", "carriers"),
    [
        # Docker: the secret files of every Redis and sentinel container, the exporter's, the hook's.
        ("dev", DEV_CLUSTER, 11),
        # Kubernetes: the one Secret (its stringData), which every pod mounts as files.
        ("prod", PROD_CLUSTER, 1),
    ],
)
def test_leak_scan_of_the_stack_program_under_mocks(
    capfd: pytest.CaptureFixture[str], stack: str, cluster: dict[str, Any], carriers: int
) -> None:
    """The program's output, its exports and every resource input: the passwords only where marked secret.

    The application's password comes from config; the others (admin, exporter, replication, sentinel) are
    generated, which the mocks answer with pm.GENERATED_PASSWORD."""
    set_config(cluster, password=PASSWORD)
    mocks, exports, secret = run_program(stack=stack)
    printed = capfd.readouterr()
    for value in (PASSWORD, pm.GENERATED_PASSWORD):
        assert value not in printed.out + printed.err
        carried = 0
        for resource in mocks.resources:
            carrying = resource.carries(value)
            carried += len(carrying)
            assert carrying <= resource.secret, f"{resource.name}: {sorted(carrying - resource.secret)} not secret"
            if resource.type in (pm.CONTAINER, pm.COMMAND):
                # What the provider echoes back lands in the state: secret there too.
                outputs = {name[0].lower() + name[1:] for name in resource.additional_secret_outputs}
                assert carrying <= outputs, resource.name
        assert carried >= carriers, "the scan reaches every input that carries the passwords"
    plain = {name: value for name, value in exports.items() if not isinstance(value, (pulumi.Output, dict))}
    assert PASSWORD not in json.dumps(plain, default=str)
    assert {key for key, is_secret in secret.items() if is_secret} == {"env.REDIS_PASSWORD", "admin_password"}


# ------------------------------------------------------------------------------------ stack names, volumes


@pytest.mark.parametrize(
    ("stack", "environment"), [("prod_eu", "prod-eu"), ("Staging", "staging"), ("eu.west-1", "eu-west-1")]
)
def test_a_stack_name_that_is_no_dns_label_becomes_one(stack: str, environment: str) -> None:
    set_config({key: value for key, value in DEV_CLUSTER.items() if key != "environment"})
    mocks, _, _ = run_program(stack=stack)
    (hook,) = pm.of_type(mocks, pm.COMMAND)
    assert json.loads(hook.inputs["stdin"])["environment"] == environment


def test_a_stack_name_that_cannot_become_an_environment_names_the_stack() -> None:
    set_config({key: value for key, value in DEV_CLUSTER.items() if key != "environment"})
    message = _clean_failure(stack="2024-archive")
    assert message.startswith("error: stack name '2024-archive' cannot be used as the environment")
    assert "fix: set `environment:`" in message


def test_check_config_reads_a_stack_file_name_the_same_way(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.prod_eu.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"cache-cluster:cluster": {"target": "docker"}}}))
    assert load_spec_file(stack_file).environment == "prod-eu"


def test_volumes_are_retained_unless_the_stack_says_otherwise() -> None:
    set_config(DEV_CLUSTER)
    mocks, _, _ = run_program()
    assert all(volume.retain_on_delete for volume in pm.of_type(mocks, pm.VOLUME))
    pulumi.runtime.set_all_config(
        {"cache-cluster:cluster": json.dumps(DEV_CLUSTER), "cache-cluster:retainVolumes": "false"}, []
    )
    mocks, _, _ = run_program()
    volumes = pm.of_type(mocks, pm.VOLUME)
    # 6 nodes, 2 fallback servers and Prometheus' data (the dev stack runs Prometheus).
    assert len(volumes) == 9 and not any(volume.retain_on_delete for volume in volumes)

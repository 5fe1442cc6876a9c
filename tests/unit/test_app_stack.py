"""examples/app-stack, an application's own Pulumi project, run under Pulumi's mocks with its dev stack's config.

It declares the cache with DockerCacheCluster, hands it the stack's own docker Provider, and runs an application
container on the cache's network that receives the env contract (REDIS_PASSWORD a secret).
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.unit import pulumi_mocks as pm

pm.install()  # before anything declares resources, as Pulumi's testing guide does

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "app-stack"
PROJECT = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
STACK = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]


@pytest.fixture(autouse=True)
def _no_config_left_behind() -> Iterator[None]:
    yield
    pulumi.runtime.set_all_config({}, [])


def with_project_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """The project's declared defaults for keys the stack leaves out, as the CLI merges them (config.go,
    mergeConfig) before the program starts; the mocks do not."""
    defaults = {f"{PROJECT['name']}:{key}": value["default"] for key, value in PROJECT["config"].items()}
    return {**defaults, **config}


def run_example(config: dict[str, Any]) -> tuple[pm.RecordingMocks, dict[str, Any]]:
    mocks = pm.install("dev", project=PROJECT["name"])
    # Stack config as the engine hands it over: strings, objects as JSON.
    merged = with_project_defaults(config)
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}, [])
    exports: dict[str, Any] = {}
    original = pulumi.export

    @pulumi.runtime.test
    def run() -> None:
        pulumi.export = lambda name, value: exports.__setitem__(name, value)
        try:
            runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = original

    run()
    return mocks, exports


@pytest.fixture(scope="module")
def deployed() -> pm.RecordingMocks:
    mocks, _ = run_example(STACK)
    return mocks


def one(mocks: pm.RecordingMocks, type_: str, name: str) -> pm.Registered:
    return next(resource for resource in pm.of_type(mocks, type_) if resource.name == name)


def test_the_cache_is_declared_with_the_component(deployed: pm.RecordingMocks) -> None:
    (component,) = pm.of_type(deployed, pm.COMPONENT)
    assert component.name == "shop-cache"
    nodes = [r for r in pm.of_type(deployed, pm.CONTAINER) if r.parent == component.urn]
    assert len(nodes) == 12
    assert one(deployed, pm.NETWORK, "shop-cache-network").inputs["name"] == "shop-cache"
    published = sorted(int(port["external"]) for r in nodes for port in r.inputs.get("ports", []))
    assert published == [16380, 16381, *range(17001, 17007), 19121, 36379, 36380, 36381]


def test_one_provider_the_stacks_own_serves_the_cache_and_the_app(deployed: pm.RecordingMocks) -> None:
    (engine,) = pm.of_type(deployed, pm.DOCKER_PROVIDER)
    assert engine.name == "docker"
    assert engine.inputs["host"] == "unix:///var/run/docker.sock"
    docker_resources = [r for r in deployed.resources if r.type.startswith("docker:")]
    assert len(docker_resources) == 1 + 8 + 2 + 12 + 1 + 1  # cache: network, volumes, images, containers; app
    assert {r.provider for r in docker_resources} == {f"{engine.urn}::{engine.id}"}


def test_the_app_runs_on_the_caches_network_with_the_env_contract(deployed: pm.RecordingMocks) -> None:
    app = one(deployed, pm.CONTAINER, "shop-app")
    (network,) = app.inputs["networksAdvanced"]
    assert network["name"] == "shop-cache"
    env = dict(entry.split("=", 1) for entry in app.inputs["envs"])
    assert env["REDIS_CLUSTER_ENABLED"] == "true"
    assert env["REDIS_CLUSTER_NODES"] == ",".join(f"redis-node-{i}:{17000 + i}" for i in range(1, 7))
    assert env["REDIS_HOST"] == "redis-fallback" and env["REDIS_PORT"] == "16380"
    assert env["REDIS_PASSWORD"] == pm.GENERATED_PASSWORD
    assert "envs" in app.secret and "envs" in app.additional_secret_outputs
    # After the whole cache: every node and the hook that forms the cluster.
    (hook,) = pm.of_type(deployed, pm.COMMAND)
    assert hook.urn in app.dependencies
    assert {r.urn for r in pm.of_type(deployed, pm.CONTAINER) if r.name != "shop-app"} <= set(app.dependencies)


def test_another_docker_host_reaches_every_resource_and_the_hook_dials_it() -> None:
    remote = {**STACK, "shop-app:dockerHost": "tcp://10.20.0.5:2376", "shop-app:publishAddress": "0.0.0.0"}
    mocks, _ = run_example(remote)
    (engine,) = pm.of_type(mocks, pm.DOCKER_PROVIDER)
    assert engine.inputs["host"] == "tcp://10.20.0.5:2376"
    assert {r.provider for r in mocks.resources if r.type.startswith("docker:")} == {f"{engine.urn}::{engine.id}"}
    (hook,) = pm.of_type(mocks, pm.COMMAND)
    assert "--address-map redis-node-1:17001=10.20.0.5:17001," in hook.inputs["create"]


def test_a_remote_host_publishing_on_its_loopback_is_refused_with_the_fix() -> None:
    with pytest.raises(pulumi.RunError, match=r"points at tcp://10\.20\.0\.5:2376.*fix: set network\.publish_address"):
        run_example({**STACK, "shop-app:dockerHost": "tcp://10.20.0.5:2376"})


def test_the_requirements_install_this_package_from_the_repository() -> None:
    lines = [line for line in (EXAMPLE / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == ["-e ../..[docker]"]
    assert (EXAMPLE / "../../pyproject.toml").resolve() == Path(__file__).resolve().parents[2] / "pyproject.toml"

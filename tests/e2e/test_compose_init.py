"""End to end: the brief's own Compose commands, and nothing else, give a formed, working cluster.

In a temporary directory with a minimal application `docker-compose.yml` (project `cctest-init-app`, one service
that waits for `cache-cluster-init` with `service_completed_successfully`) and the Compose file rendered from
tests/e2e/init-stack.yaml (network `cctest-init-net`, ports 25001+), in file order:

1. without the secrets' variables, `up` starts nothing and Compose names the missing variable;
2. the merged command `docker-compose -f docker-compose.yml -f docker-compose.cache-cluster.yml up -d` forms the
   cluster: a client in the network writes through one node and reads through another; the application keeps
   its project name;
3. a second `up -d` changes nothing (same containers, same node IDs);
4. `down -v` works without any password variable;
5. the alone command (`-f docker-compose.cache-cluster.yml up -d --wait`, project = the directory's name) too;
6. `make up`'s project and the application's project share the network: after the application's project went
   down (removing the network) while make up's containers were stopped, `make up` recovers by itself.

Leftovers of an interrupted run are removed first (by project name); the module always removes its projects.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cache_cluster import acl
from cache_cluster.loader import load_spec_file
from cache_cluster.plan import INIT_SERVICE, DeploymentPlan, plan
from cache_cluster.targets.compose import compose_yaml
from tests.conftest import require
from tests.e2e.brief_app import app_compose
from tests.e2e.test_compose_stack import ROOT, _compose_binary, _docker_available, _image_env, docker, run
from tests.e2e.waiting import log, wait_for

pytestmark = pytest.mark.e2e

SPEC = "tests/e2e/init-stack.yaml"
APP_PROJECT = "cctest-init-app"
ALONE_PROJECT = "cctest-init-alone"  # the alone command's project: the name of the directory it runs in
PASSWORD = "e2e-init-password-0123456789abcdef"
APP_COMPOSE = app_compose(APP_PROJECT, load_spec_file(ROOT / SPEC).network.name)


def secret_variables() -> dict[str, str]:
    """Every secret variable the rendered file reads (a password per ACL user, the exporter's map)."""
    deployment = plan(load_spec_file(ROOT / SPEC))
    spec = deployment.spec
    kinds = acl.password_kinds(spec)
    passwords = {kind: f"e2e-init-{acl.secret_name(kind, spec)}-0123456789" for kind in kinds}
    passwords["password"] = PASSWORD
    if spec.exporter.enabled:
        kinds = (*kinds, acl.EXPORTER_MAP)
    contents = acl.secret_contents(kinds, passwords, deployment.exporter_targets)
    return {acl.secret_env(kind, spec): value for kind, value in contents.items()}


SECRETS = secret_variables()


@dataclass(frozen=True)
class Workspace:
    deployment: DeploymentPlan
    app_dir: Path
    alone_dir: Path

    @property
    def network(self) -> str:
        return self.deployment.spec.network.name


def env(*, password: bool = True) -> dict[str, str]:
    values = {key: value for key, value in os.environ.items() if key not in SECRETS}
    values.update(_image_env())
    if password:
        values.update(SECRETS)
    return values


def compose(cwd: Path, *args: str, password: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    log(f"docker-compose {' '.join(args)} (in {cwd.name}, deadline {timeout:.0f}s)")
    return subprocess.run(
        [_compose_binary(), *args], cwd=cwd, env=env(password=password), capture_output=True, text=True,
        timeout=timeout, check=False,
    )


MERGED = ("-f", "docker-compose.yml", "-f", "docker-compose.cache-cluster.yml")
ALONE = ("-f", "docker-compose.cache-cluster.yml")


def in_network(network: str, *command: str) -> str:
    """redis-cli run by a client container inside the cluster's network (names resolve, MOVED is followed)."""
    image = _image_env().get("CACHE_CLUSTER_REDIS_IMAGE", "redis:7.2.5")
    result = run(
        ["docker", "run", "--rm", "--network", network, "-e", "REDISCLI_AUTH", image, "redis-cli", *command],
        timeout=60, env={**os.environ, "REDISCLI_AUTH": PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def on_node(workspace: Workspace, index: int, *command: str) -> str:
    """redis-cli -c (following MOVED by name) against the cluster's node `index` (0-based), from inside the network."""
    node = workspace.deployment.nodes[index]
    return in_network(workspace.network, "-c", "-h", node.name, "-p", str(node.port), *command)


def node_ids(workspace: Workspace) -> dict[str, str]:
    return {
        node.name: in_network(workspace.network, "-h", node.name, "-p", str(node.port), "cluster", "myid")
        for node in workspace.deployment.nodes
    }


def project_containers(project: str) -> list[str]:
    listed = docker("ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}")
    return sorted(listed.stdout.split())


def remove_project(project: str) -> None:
    run([_compose_binary(), "-p", project, "down", "--volumes", "--timeout", "5"], timeout=120)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    available, why = _docker_available()
    require(available, why)
    require("CACHE_CLUSTER_HOOK_IMAGE" in _image_env(), "no hook image in scripts/images.env (make images)")
    deployment = plan(load_spec_file(ROOT / SPEC))
    projects = (APP_PROJECT, ALONE_PROJECT, deployment.spec.name)
    for project in projects:
        remove_project(project)
    base = tmp_path_factory.mktemp("brief")
    app_dir, alone_dir = base / "shop", base / ALONE_PROJECT
    for directory in (app_dir, alone_dir):
        directory.mkdir()
        (directory / "docker-compose.cache-cluster.yml").write_text(compose_yaml(deployment), encoding="utf-8")
    (app_dir / "docker-compose.yml").write_text(APP_COMPOSE, encoding="utf-8")
    try:
        yield Workspace(deployment, app_dir, alone_dir)
    finally:
        for project in projects:
            remove_project(project)


def test_starting_without_the_password_fails_and_says_why(workspace: Workspace) -> None:
    started = compose(workspace.alone_dir, *ALONE, "up", "-d", "--wait", "--wait-timeout", "60", password=False)
    try:
        # Compose reads a secret's variable when it creates a container and stops there, naming it, exit code 1
        # (the containers are left `Created`; the PyPI wrapper script, which install-python.sh replaces, said 0).
        assert started.returncode == 1, started.stdout + started.stderr
        assert "required by secret" in started.stdout + started.stderr, started.stdout + started.stderr
        assert "is not set" in started.stdout + started.stderr
        running = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={ALONE_PROJECT}")
        assert running.stdout.split() == []
    finally:
        assert compose(workspace.alone_dir, *ALONE, "down", "-v", "-t", "2", password=False).returncode == 0


def test_the_merged_command_alone_forms_the_cluster(workspace: Workspace) -> None:
    started = compose(workspace.app_dir, *MERGED, "up", "-d")
    assert started.returncode == 0, started.stderr
    assert "cluster_state:ok" in on_node(workspace, 0, "cluster", "info")
    assert on_node(workspace, 0, "set", "brief:key", "v1") == "OK"
    assert on_node(workspace, 3, "get", "brief:key") == "v1"
    # The application keeps its project name: the cluster's containers are in it, under its name.
    names = docker("ps", "--filter", f"label=com.docker.compose.project={APP_PROJECT}", "--format", "{{.Names}}").stdout
    assert f"{APP_PROJECT}-redis-node-1-1" in names.split() and f"{APP_PROJECT}-app-1" in names.split()
    init = docker("inspect", "--format", "{{.State.ExitCode}}", f"{APP_PROJECT}-{INIT_SERVICE}-1").stdout.strip()
    assert init == "0"


def test_a_second_up_changes_nothing(workspace: Workspace) -> None:
    before_ids, before_containers = node_ids(workspace), project_containers(APP_PROJECT)
    again = compose(workspace.app_dir, *MERGED, "up", "-d")
    assert again.returncode == 0, again.stderr
    assert project_containers(APP_PROJECT) == before_containers
    assert node_ids(workspace) == before_ids
    logs = compose(workspace.app_dir, *MERGED, "logs", "--no-log-prefix", INIT_SERVICE)
    assert "Traceback" not in logs.stdout + logs.stderr


def test_down_with_volumes_needs_no_password(workspace: Workspace) -> None:
    down = compose(workspace.app_dir, *MERGED, "down", "-v", "-t", "5", password=False)
    assert down.returncode == 0, down.stderr
    assert project_containers(APP_PROJECT) == []
    volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={APP_PROJECT}")
    assert not volumes.stdout.split()


def test_the_alone_command_forms_the_cluster_and_up_wait_returns_once_formed(workspace: Workspace) -> None:
    started = compose(workspace.alone_dir, *ALONE, "up", "-d", "--wait", "--wait-timeout", "180")
    try:
        assert started.returncode == 0, started.stderr
        # No polling: `up --wait` returned, so the cluster must be formed now.
        assert "cluster_state:ok" in on_node(workspace, 0, "cluster", "info")
        assert on_node(workspace, 4, "set", "alone", "1") == "OK"
        assert on_node(workspace, 0, "get", "alone") == "1"
    finally:
        assert compose(workspace.alone_dir, *ALONE, "down", "-v", "-t", "5", password=False).returncode == 0


def test_make_up_recovers_after_the_application_project_removed_the_shared_network(workspace: Workspace) -> None:
    name = workspace.deployment.spec.name
    # The application's project creates the network (labelled as its own), then stops.
    assert compose(workspace.app_dir, *MERGED, "up", "-d").returncode == 0
    assert compose(workspace.app_dir, *MERGED, "stop", "-t", "5").returncode == 0
    up_env = {**env(password=False), "REDIS_PASSWORD": PASSWORD}
    first = run(["bash", "scripts/up.sh", SPEC], timeout=300, env=up_env)
    assert first.returncode == 0, first.stdout + first.stderr
    # make up's containers stop; the application's project goes down and takes the network with it.
    stopped = run([_compose_binary(), "-p", name, "stop", "-t", "5"], timeout=120)
    assert stopped.returncode == 0, stopped.stderr

    def network_unused() -> tuple[bool, str]:
        attached = docker("network", "inspect", "--format", "{{len .Containers}}", workspace.network, check=False)
        return attached.stdout.strip() == "0", attached.stdout.strip() or attached.stderr

    # The engine releases a stopped container's endpoint a moment after `stop` returns.
    wait_for(f"no container attached to the network {workspace.network}", network_unused, deadline_s=30)
    assert compose(workspace.app_dir, *MERGED, "down", "-v", "-t", "5", password=False).returncode == 0
    assert docker("network", "ls", "-q", "--filter", f"name=^{workspace.network}$").stdout.strip() == ""
    again = run(["bash", "scripts/up.sh", SPEC], timeout=300, env=up_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "recreating them, data volumes kept" in again.stdout
    assert "cluster_state:ok" in on_node(workspace, 0, "cluster", "info")

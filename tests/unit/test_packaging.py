"""The extras an application stack installs: one per target, floors the code needs, nothing a target does not use.

`pulumi-docker >= 4.7`: the component sets ContainerUploadArgs.permissions (the upload's file mode), which the
upstream provider gained in kreuzwerker/terraform-provider-docker#693 (merged April 2025), after pulumi-docker
4.6.2 (published March 2025). The installed SDK is checked for every argument the component relies on.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pulumi_docker as docker
import tomllib

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[; ]", requirement, maxsplit=1)[0] for requirement in requirements}


def test_one_extra_per_target_and_one_for_all() -> None:
    assert names(EXTRAS["docker"]) == {"pulumi", "pulumi-docker", "pulumi-random", "pulumi-command", "pulumi-tls"}
    assert names(EXTRAS["kubernetes"]) == {"pulumi", "pulumi-kubernetes", "pulumi-random", "pulumi-tls"}
    assert names(EXTRAS["policy"]) == {"pulumi", "pulumi-policy"}
    assert names(EXTRAS["certs"]) == {"cryptography"}
    assert EXTRAS["pulumi"] == ["cache-cluster[docker,kubernetes,policy,certs]"]


def test_the_docker_extra_floor_has_upload_permissions() -> None:
    (requirement,) = [r for r in EXTRAS["docker"] if r.startswith("pulumi-docker")]
    assert requirement == "pulumi-docker>=4.7,<6"


def test_the_installed_sdk_has_every_argument_the_component_sets() -> None:
    upload = inspect.signature(docker.ContainerUploadArgs).parameters
    assert {"file", "content", "executable", "permissions"} <= set(upload)
    container = inspect.signature(docker.Container._internal_init).parameters
    assert {"destroy_grace_seconds", "stop_timeout", "cpus", "wait", "wait_timeout", "init", "uploads"} <= set(
        container
    )


def test_the_readme_and_the_example_show_the_install_line() -> None:
    readme = (ROOT / "README.md").read_text()
    assert 'pip install "cache-cluster[docker] @ git+' in readme
    assert "-e ../..[docker]" in (ROOT / "examples" / "app-stack" / "requirements.txt").read_text()
    assert "-e .[docker,kubernetes]" in (ROOT / "requirements.txt").read_text()  # Pulumi.dev and Pulumi.prod

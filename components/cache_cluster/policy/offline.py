"""The offline policy check: the stack program under mocks -> engine-shaped resources -> the pack over gRPC.

The same verdicts `pulumi preview --policy-pack policies` would give, without Pulumi credentials or the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import CacheClusterError
from ..loader import stack_file
from .analyzer import Violation, running_pack
from .capture import capture_program, stack_config


def read_project(project_dir: Path) -> tuple[str, Path, dict[str, Any]]:
    """The project's name, its program and its declared config (Pulumi.yaml `name`, `main`, `config`)."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise CacheClusterError(f"no Pulumi.yaml in {project_dir}; fix: pass --project-dir with the Pulumi project")
    project = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise CacheClusterError(f"{path}: no project name; fix: set name: in Pulumi.yaml")
    return name, project_dir / str(project.get("main") or "."), dict(project.get("config") or {})


def check_stack(
    stack: str, project_dir: Path, pack_dir: Path, policy_config: Mapping[str, Any] | None = None
) -> list[Violation]:
    project, program, declared = read_project(project_dir)
    config, secret_keys = stack_config(stack_file(stack, project_dir), project, declared)
    resources = capture_program(program, project=project, stack=stack, config=config, secret_keys=secret_keys)
    with running_pack(pack_dir) as pack:
        pack.configure(stack=stack, project=project, policy_config=policy_config)
        return pack.check(resources)

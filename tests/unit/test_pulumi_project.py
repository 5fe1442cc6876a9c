"""Pulumi.yaml, every Pulumi.<stack>.yaml and the example project, held to the rules the Pulumi CLI applies.

No Pulumi CLI runs here, so the rules are written out from its sources (pulumi/pulumi):
- sdk/go/common/workspace/project.json, the project schema every command validates Pulumi.yaml against
  (ValidateProject in project.go): `name` and `runtime` required; `runtime` a name or {name, options} and nothing
  else; a config declaration has only type, items, description, secret, default, value, and its `type` is one of
  string, integer, boolean, array (`simpleConfigType`); an array declares its `items`.
- sdk/go/common/workspace/project.go, Project.Validate: not both `default` and `value`; a key namespaced by
  another package (`aws:region`) declares no type and no default, only a value; a default matches its type.
- sdk/go/common/workspace/config.go (mergeConfig, validateStackConfigValues): a project-namespaced declaration
  without default or value must be set by every stack; a typed declaration checks the stack's value.
- sdk/go/common/resource/config/key.go, ParseKey: a stack config key is `<namespace>:<name>`.
- pkg/backend/diy (validateStackName): a stack name is 1-100 of letters, digits, `-`, `_`, `.`.
- sdk/go/common/workspace/project.go / pkg/engine getPwdMain: `main` is a relative path inside the project.
- sdk/python/toolchain (toolchain.go, pip.go): runtime options toolchain (pip, poetry, uv), virtualenv,
  typechecker (mypy, pyright); with pip and a virtualenv, Pulumi creates the virtualenv and installs
  requirements.txt into it (InstallDependencies), so a project without one gets an empty environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIRS = [ROOT, ROOT / "examples" / "app-stack"]

PROJECT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
RUNTIME_KEYS = {"name", "options"}
PYTHON_OPTIONS = {"toolchain": {"pip", "poetry", "uv"}, "virtualenv": None, "typechecker": {"mypy", "pyright"}}
DECLARATION_KEYS = {"type", "items", "description", "secret", "default", "value"}
CONFIG_TYPES = {"string", "integer", "boolean", "array"}


def _matches_type(type_name: str, items: Any, value: Any) -> bool:
    """ValidateConfigValue (project.go): strings, integers (or integer text), booleans (or "true"/"false")."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None
        )
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "array" and isinstance(value, list) and isinstance(items, dict):
        return all(_matches_type(items.get("type", ""), items.get("items"), item) for item in value)
    return False


def _namespaced_by_project(project: str, key: str) -> bool:
    return ":" not in key or key.startswith(f"{project}:")


def project_problems(document: Any, directory: Path) -> list[str]:
    """What the Pulumi CLI would refuse in a Pulumi.yaml (empty: nothing)."""
    if not isinstance(document, dict):
        return ["the project file is not a mapping"]
    problems: list[str] = []
    name = document.get("name")
    if not isinstance(name, str) or not PROJECT_NAME.match(name):
        problems.append(f"name {name!r}: a non-empty string of letters, digits, '-', '_', '.'")
    runtime = document.get("runtime")
    options: dict[str, Any] = {}
    if isinstance(runtime, dict):
        if set(runtime) - RUNTIME_KEYS:
            problems.append(f"runtime has {sorted(set(runtime) - RUNTIME_KEYS)}: only name and options are allowed")
        options = runtime.get("options") or {}
        runtime = runtime.get("name")
    if not isinstance(runtime, str) or not runtime:
        problems.append("runtime: a name (python) or {name, options} is required")
    if runtime == "python":
        for option, value in options.items():
            if option not in PYTHON_OPTIONS:
                problems.append(f"runtime.options.{option}: not a Python runtime option")
            elif PYTHON_OPTIONS[option] is not None and value not in PYTHON_OPTIONS[option]:  # type: ignore[operator]
                problems.append(f"runtime.options.{option}: {value!r} is not one of {PYTHON_OPTIONS[option]}")
        places = (directory, directory / document.get("main", "."))
        has_requirements = any((where / "requirements.txt").exists() for where in places)
        if options.get("toolchain", "pip") == "pip" and options.get("virtualenv") and not has_requirements:
            problems.append("toolchain pip with a virtualenv: requirements.txt is missing, Pulumi installs nothing")
    main = document.get("main")
    if main is not None:
        target = (directory / main).resolve()
        if Path(main).is_absolute() or not target.is_relative_to(directory.resolve()) or not target.exists():
            problems.append(f"main {main!r}: a relative path to a directory inside the project")
        elif runtime == "python" and target.is_dir() and not (target / "__main__.py").exists():
            problems.append(f"main {main!r}: a Python program directory needs __main__.py")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        return [*problems, "config: a mapping of declarations"]
    for key, declaration in config.items():
        if not isinstance(declaration, dict):
            if not isinstance(declaration, str | int | bool | list):
                problems.append(f"config.{key}: a shorthand value is a string, integer, boolean or array")
            continue
        unknown = set(declaration) - DECLARATION_KEYS
        if unknown:
            problems.append(f"config.{key}: {sorted(unknown)} not allowed (only {sorted(DECLARATION_KEYS)})")
        type_name = declaration.get("type")
        if type_name is not None and type_name not in CONFIG_TYPES:
            problems.append(f"config.{key}.type {type_name!r} is not one of {sorted(CONFIG_TYPES)}")
        if type_name == "array" and "items" not in declaration:
            problems.append(f"config.{key}: an array declares its items")
        if "default" in declaration and "value" in declaration:
            problems.append(f"config.{key}: both a default and a value")
        foreign = isinstance(name, str) and not _namespaced_by_project(name, key)
        if foreign and ("type" in declaration or "default" in declaration or "value" not in declaration):
            problems.append(f"config.{key}: another package's key takes a value only (no type, no default)")
        typed_default = type_name in CONFIG_TYPES and "default" in declaration
        if typed_default and not _matches_type(type_name, declaration.get("items"), declaration["default"]):
            problems.append(f"config.{key}: the default is not of type {type_name}")
    return problems


def stack_problems(stack_file: Path, project: dict[str, Any]) -> list[str]:
    """What the Pulumi CLI would refuse in a Pulumi.<stack>.yaml of `project`."""
    stack = stack_file.name.removeprefix("Pulumi.").rsplit(".", 1)[0]
    problems = [] if STACK_NAME.match(stack) else [f"stack name {stack!r}: 1-100 of letters, digits, '-', '_', '.'"]
    document = yaml.safe_load(stack_file.read_text()) or {}
    config = document.get("config") or {}
    for key in config:
        parts = key.split(":")
        if not (len(parts) == 2 or (len(parts) == 3 and parts[1] == "config")) or not all(parts):
            problems.append(f"config key {key!r}: must be <namespace>:<name>")
    name = project["name"]
    for key, declaration in (project.get("config") or {}).items():
        if not isinstance(declaration, dict) or not _namespaced_by_project(name, key):
            continue
        full_key = key if ":" in key else f"{name}:{key}"
        if full_key not in config and "default" not in declaration and "value" not in declaration:
            problems.append(f"{full_key}: declared by the project without a default, missing from the stack")
        type_name = declaration.get("type")
        typed_value = full_key in config and type_name in CONFIG_TYPES
        if typed_value and not _matches_type(type_name, declaration.get("items"), config[full_key]):
            problems.append(f"{full_key}: the stack's value is not of type {type_name}")
    return problems


def _project(directory: Path) -> dict[str, Any]:
    document = yaml.safe_load((directory / "Pulumi.yaml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("directory", PROJECT_DIRS, ids=lambda path: str(path.relative_to(ROOT)) or ".")
def test_the_project_file_passes_the_clis_rules(directory: Path) -> None:
    assert project_problems(_project(directory), directory) == []


STACK_FILES = sorted(path for directory in PROJECT_DIRS for path in directory.glob("Pulumi.*.yaml"))


def test_every_project_has_stack_files() -> None:
    assert {path.parent for path in STACK_FILES} == set(PROJECT_DIRS)


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_stack_file_passes_the_clis_rules(stack_file: Path) -> None:
    assert stack_problems(stack_file, _project(stack_file.parent)) == []


# The checker itself catches what the issue found (a checker that passes everything proves nothing).


def test_the_checker_refuses_an_object_config_type() -> None:
    before = {
        "name": "cache-cluster",
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}},
        "main": "infra/",
        "config": {"cache-cluster:cluster": {"type": "object", "description": "the spec"}},
    }
    assert project_problems(before, ROOT) == [
        "config.cache-cluster:cluster.type 'object' is not one of ['array', 'boolean', 'integer', 'string']"
    ]


def test_the_checker_refuses_a_pip_virtualenv_without_requirements(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("")
    document = {"name": "p", "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}}
    assert project_problems(document, tmp_path) == [
        "toolchain pip with a virtualenv: requirements.txt is missing, Pulumi installs nothing"
    ]


def test_the_checker_refuses_bad_declarations_and_stack_keys(tmp_path: Path) -> None:
    document = {
        "name": "p",
        "runtime": {"name": "python", "options": {"toolchain": "conda"}, "version": 3},
        "main": "../elsewhere",
        "config": {
            "aws:region": {"type": "string", "default": "eu-west-1"},
            "sizes": {"type": "array"},
            "count": {"type": "integer", "default": "many", "required": True},
            "mode": {"default": "a", "value": "b"},
        },
    }
    problems = project_problems(document, tmp_path)
    assert len(problems) == 8, problems
    stack_file = tmp_path / "Pulumi.bad stack.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"plainkey": 1, "p:count": "7", "p:mode": "x"}}))
    assert stack_problems(stack_file, {"name": "p", "config": {"needed": {"type": "string"}}}) == [
        "stack name 'bad stack': 1-100 of letters, digits, '-', '_', '.'",
        "config key 'plainkey': must be <namespace>:<name>",
        "p:needed: declared by the project without a default, missing from the stack",
    ]

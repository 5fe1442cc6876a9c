"""Load a ClusterSpec from a YAML cluster file or from a Pulumi stack config file."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .environment import PASSWORD_ENV, SECRETS_STATE_DIR, secret_file_name
from .errors import CacheClusterError, Problem, problems_from_validation
from .spec import DNS_LABEL, ClusterSpec

PROJECT = "cache-cluster"
SPEC_CONFIG_KEY = f"{PROJECT}:cluster"
STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[A-Za-z0-9_.-]+)\.ya?ml$")
# Quoted text of three or more characters in a YAML error; single characters ('%', '\t') stay visible.
_QUOTED_TOKEN = re.compile(r"'[^']{3,}'")


def environment_for_stack(stack: str) -> str:
    """The `environment` a stack gets when its spec sets none: the stack name as a DNS label.

    Pulumi allows stack names of letters, digits, `-`, `_` and `.` (up to 100 characters; pulumi/pulumi
    pkg/backend/diy, validateStackName), so `prod_eu` becomes `prod-eu` and `Staging` `staging`. A name that
    does not become a label (it starts with a digit, or is too long) is refused naming the stack, not a field
    the user never wrote.
    """
    label = re.sub(r"-{2,}", "-", re.sub(r"[_.]", "-", stack.lower())).strip("-")
    if not DNS_LABEL.match(label):
        raise CacheClusterError(
            f"stack name {stack!r} cannot be used as the environment (a DNS label: a lowercase letter first, then "
            "letters, digits and '-', at most 42 characters); fix: set `environment:` in the stack's "
            f"{SPEC_CONFIG_KEY} config"
        )
    return label


def spec_from_mapping(data: Mapping[str, Any] | None, *, source: str, prefix: str = "") -> ClusterSpec:
    if data is not None and not isinstance(data, Mapping):
        raise CacheClusterError(f"{source} must hold a mapping of fields, not a {type(data).__name__}")
    try:
        return ClusterSpec.model_validate(dict(data or {}))
    except ValidationError as error:
        raise CacheClusterError(
            f"{source} is not a valid cluster spec", problems_from_validation(error, prefix, ClusterSpec)
        ) from None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CacheClusterError(f"{path} does not exist; fix: give the path of a cluster file or stack file") from None
    except OSError as error:
        raise CacheClusterError(f"cannot read {path}: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        # "found undefined alias 'x'" / "... the tag '!x'" quote the file's text, which may be a password.
        problem = _QUOTED_TOKEN.sub("'<hidden>'", problem)
        raise CacheClusterError(f"{path} is not valid YAML{where}: {problem}") from None


def load_spec_file(path: Path) -> ClusterSpec:
    """A Pulumi stack file (`Pulumi.<stack>.yaml`, spec under `cache-cluster:cluster`) or a plain cluster file."""
    data = _read_yaml(path)
    if data is not None and not isinstance(data, dict):
        raise CacheClusterError(f"{path} must hold a mapping of fields, not a {type(data).__name__}")
    stack = STACK_FILE.match(path.name)
    if stack is not None or (data and "config" in data):
        config = (data or {}).get("config") or {}
        if not isinstance(config, dict):
            raise CacheClusterError(f"{path}: 'config' must be a mapping")
        raw = config.get(SPEC_CONFIG_KEY)
        if raw is None:
            raise CacheClusterError(
                f"{path} has no '{SPEC_CONFIG_KEY}' entry; fix: add the cluster spec under config.{SPEC_CONFIG_KEY}"
            )
        if not isinstance(raw, dict):
            raise CacheClusterError(f"{path}: config.{SPEC_CONFIG_KEY} must be a mapping of fields")
        if stack is not None and "environment" not in raw:
            raw = {**raw, "environment": environment_for_stack(stack.group("stack"))}
        return spec_from_mapping(raw, source=str(path), prefix=f"config.{SPEC_CONFIG_KEY}")
    return spec_from_mapping(data, source=str(path))


def stack_file(stack: str, project_dir: Path) -> Path:
    for suffix in ("yaml", "yml"):
        candidate = project_dir / f"Pulumi.{stack}.{suffix}"
        if candidate.exists():
            return candidate
    raise CacheClusterError(
        f"no stack file Pulumi.{stack}.yaml in {project_dir}; fix: pass --project-dir, or create the stack file"
    )


def generated_secret_file(variable: str, start: Path | None = None) -> Path | None:
    """The file `make up` (`render secrets`) wrote for `variable` (`.cache-cluster/secrets/<redis-...>`), in
    `start` (default: cwd) or a parent."""
    here = (start or Path.cwd()).resolve()
    relative = Path(SECRETS_STATE_DIR) / secret_file_name(variable)
    for directory in (here, *here.parents):
        candidate = directory / relative
        if candidate.is_file():
            return candidate
    return None


def password_from_env(
    env: Mapping[str, str] | None = None, *, required: bool = True, variable: str = PASSWORD_ENV
) -> str | None:
    """A password from the environment variable `variable` (REDIS_PASSWORD: the application user's), checked
    with the spec's own password rules.

    With the process's own environment (`env` None) and `variable` unset, the file `make up` generated for it
    is used: `.cache-cluster/secrets/<variable, lowercase, dashed>` in the working directory or a parent.
    """
    source = os.environ if env is None else env
    value = source.get(variable)
    origin = variable
    if not value and env is None:
        found = generated_secret_file(variable)
        if found is not None:
            try:
                value = found.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise CacheClusterError(f"cannot read {found}: {error.strerror}; fix: export {variable}") from None
            origin = str(found)
    if not value:
        if required:
            raise CacheClusterError(
                f"{variable} is not set; fix: export {variable}, or run `make up` here (it writes "
                f"{SECRETS_STATE_DIR}/{secret_file_name(variable)}, which is read when {variable} is unset)"
            )
        return None
    try:
        ClusterSpec.model_validate({"auth": {"password": value}})
    except ValidationError as error:
        problems = [Problem(origin, problem.message) for problem in problems_from_validation(error)]
        raise CacheClusterError(f"{origin} is not an acceptable password", problems) from None
    return value

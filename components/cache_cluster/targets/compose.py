"""Render a DeploymentPlan as a Compose v2 file (`docker-compose.cache-cluster.yml`).

A pure rendering of plan.py's `ServicePlan`s: every decision (images, commands, ports, health checks, order of
start) is taken there; this module only spells it in Compose's vocabulary. Four Compose details matter:

- Compose interpolates `$` everywhere, so every literal `$` (shell code in health checks and in the config
  files' content) is written as `$$`; the only real references are the ones made here on purpose: the image
  variables (`${CACHE_CLUSTER_REDIS_IMAGE:-default}`).
- Secrets never appear in the file, nor in any container's environment: each is a Compose secret whose value
  Compose takes from its own environment (`environment: REDIS_PASSWORD`, ...) when it creates a container and
  copies in as a file (plan.py's `secret_files`). Compose reads it only then: `config` and `down` work without
  it; starting without it stops with Compose's message naming the variable and the secret.
- The files a service runs from (redis.conf, entrypoint.sh, the hook's cluster.yaml) are inline `configs`
  (`content:`, Compose >= 2.23), copied into the container at creation, owned by root, with plan.py's modes.
- The text reads each kind of service once: what every service of one role shares is an extension field
  (`x-<role>: &<role>`) merged into each (`<<: *<role>`), and identical config files are YAML aliases.
  `render_compose` is the plain data; `compose_yaml` only factors the spelling (Compose resolves it back).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Any

import yaml

from .. import acl
from ..environment import ADMIN_PASSWORD_ENV, PASSWORD_ENV, SECRETS_STATE_DIR
from ..plan import SECRET_FILE_MODE, Dependency, DeploymentPlan, ImageKind, ServicePlan
from ..target_support import docker_cpus
from ..yaml_text import BlockDumper, dump_yaml

REDIS_IMAGE_ENV = "CACHE_CLUSTER_REDIS_IMAGE"
EXPORTER_IMAGE_ENV = "CACHE_CLUSTER_EXPORTER_IMAGE"
PROMETHEUS_IMAGE_ENV = "CACHE_CLUSTER_PROMETHEUS_IMAGE"
HOOK_IMAGE_ENV = "CACHE_CLUSTER_HOOK_IMAGE"
IMAGE_ENV: dict[ImageKind, str] = {
    "redis": REDIS_IMAGE_ENV,
    "exporter": EXPORTER_IMAGE_ENV,
    "prometheus": PROMETHEUS_IMAGE_ENV,
    "hook": HOOK_IMAGE_ENV,
}
# Where `make up` keeps the application's password (the other secrets beside it, named like their variables).
PASSWORD_FILE = f"{SECRETS_STATE_DIR}/redis-password"
DEFAULT_OUTPUT = "docker-compose.cache-cluster.yml"


def escape(value: str) -> str:
    """A literal string for Compose: `$` is Compose's interpolation character, `$$` is a literal `$`."""
    return value.replace("$", "$$")


def image_reference(service: ServicePlan) -> str:
    """`${CACHE_CLUSTER_..._IMAGE:-<spec default>}`: the spec's image unless the environment overrides it."""
    return f"${{{IMAGE_ENV[service.image_kind]}:-{escape(service.image)}}}"


def config_name(service: ServicePlan, path: str) -> str:
    """Name of the top-level config holding one of the service's files: `<service>.<file name>`."""
    return f"{service.name}.{posixpath.basename(path)}"


class FileMode(int):
    """A file mode: an int that the YAML dumper writes in octal (`0555`), as Compose files usually do."""


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def depends_on_entry(dependency: Dependency) -> dict[str, Any]:
    """`{condition: ...}`, with `required: false` only when the dependant starts even if the dependency failed."""
    entry: dict[str, Any] = {"condition": dependency.condition}
    if not dependency.required:
        entry["required"] = False
    return entry


def render_service(deployment: DeploymentPlan, service: ServicePlan) -> dict[str, Any]:
    """One entry of `services:`; keys in a fixed order so diffs of the generated file stay readable."""
    spec = deployment.spec
    rendered: dict[str, Any] = {
        "image": image_reference(service),
        "hostname": service.hostname,
        "networks": {spec.network.name: {"aliases": list(service.aliases)}},
    }
    if service.entrypoint:
        rendered["entrypoint"] = [escape(part) for part in service.entrypoint]
    if service.command:
        rendered["command"] = [escape(part) for part in service.command]
    environment: dict[str, str] = {name: escape(value) for name, value in service.env.items()}
    if environment:
        rendered["environment"] = environment
    if service.ports:
        rendered["ports"] = [f"{port.host_endpoint}:{port.container_port}" for port in service.ports]
    if service.volumes:
        rendered["volumes"] = [f"{mount.volume}:{mount.path}" for mount in service.volumes]
    if service.secret_files:
        rendered["secrets"] = [
            {"source": acl.secret_name(kind, spec), "target": path, "mode": FileMode(SECRET_FILE_MODE)}
            for path, kind in service.secret_files.items()
        ]
    if service.files:
        rendered["configs"] = [
            {"source": config_name(service, path), "target": path, "mode": FileMode(service.file_mode(path))}
            for path in service.files
        ]
    if service.healthcheck is not None:
        check = service.healthcheck
        rendered["healthcheck"] = {
            "test": [escape(part) for part in check.test],
            "interval": _duration(check.interval_s),
            "timeout": _duration(check.timeout_s),
            "retries": check.retries,
            "start_period": _duration(check.start_period_s),
        }
    if service.depends_on:
        rendered["depends_on"] = {dependency.service: depends_on_entry(dependency) for dependency in service.depends_on}
    rendered["restart"] = service.restart
    if service.memory_mb is not None:
        rendered["mem_limit"] = f"{service.memory_mb}m"
    if service.cpu_limit is not None:
        rendered["cpus"] = docker_cpus(service.cpu_limit)
    if service.user is not None:
        rendered["user"] = service.user
    # tini as pid 1: forwards SIGTERM to redis-server and reaps the node entrypoint's background rejoin loop.
    rendered["init"] = True
    return rendered


def all_services(deployment: DeploymentPlan) -> tuple[ServicePlan, ...]:
    """The long-running services, then the one-shot init service that forms the cluster."""
    if deployment.init is None:
        return deployment.services
    init = deployment.init
    awaiting = {
        service.name: dataclasses.replace(
            service,
            depends_on=(
                *service.depends_on,
                Dependency(init.service.name, "service_completed_successfully", required=False),
            ),
        )
        for service in deployment.services
        if service.name in init.awaited_by
    }
    return (*(awaiting.get(service.name, service) for service in deployment.services), init.service)


def render_compose(deployment: DeploymentPlan) -> dict[str, Any]:
    """The Compose v2 file of a deployment, as plain data (dicts keep the order they are written in)."""
    spec = deployment.spec
    planned = all_services(deployment)
    services = {service.name: render_service(deployment, service) for service in planned}
    configs: dict[str, Any] = {
        config_name(service, path): {"content": escape(content)}
        for service in planned
        for path, content in service.files.items()
    }
    # No top-level `name:`: merged after an application's own file (`-f docker-compose.yml -f this`), it would
    # rename the application's project. The project name is given with `-p` (make up uses spec.name).
    document: dict[str, Any] = {
        "services": services,
        # An explicit name (not `<project>_<key>`): the same network the Pulumi Docker component creates, and
        # one that other Compose projects can join as `external: true`.
        "networks": {spec.network.name: {"name": spec.network.name}},
        "volumes": {volume: {} for volume in deployment.volumes},
    }
    if configs:
        document["configs"] = configs
    kinds = dict.fromkeys(kind for service in planned for kind in service.secret_files.values())
    if kinds:
        # Taken from docker-compose's own environment when a container is created, copied in as a file.
        document["secrets"] = {
            acl.secret_name(kind, spec): {"environment": acl.secret_env(kind, spec)} for kind in kinds
        }
    return document


class Shared(dict[str, Any]):
    """A mapping written once, under an anchor of this name, and as an alias (`*name`) wherever else it is used."""

    def __init__(self, anchor: str, items: dict[str, Any]) -> None:
        super().__init__(items)
        self.anchor = anchor


class _MergeKey(str):
    """The `<<` key: merges a Shared mapping into the mapping it stands in (a str, so it is never aliased)."""


MERGE = _MergeKey("<<")


def _shared_part(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    """The keys (and the sub-keys of mappings) whose values all of `rendered` agree on."""
    first, rest = rendered[0], rendered[1:]
    shared: dict[str, Any] = {}
    for key, value in first.items():
        if all(key in other and other[key] == value for other in rest):
            shared[key] = value
        elif isinstance(value, dict) and all(isinstance(other.get(key), dict) for other in rest):
            common = _shared_part([value, *(other[key] for other in rest)])
            if common:
                shared[key] = common
    return shared


def _merged(shared: Shared, own: dict[str, Any]) -> dict[str, Any]:
    """`own` written as `<<: *shared` plus what differs from it (a sub-mapping merges its shared part likewise)."""
    written: dict[str, Any] = {MERGE: shared}
    for key, value in own.items():
        base = shared.get(key)
        if base is not None and base == value:
            continue
        if isinstance(base, Shared) and isinstance(value, dict):
            written[key] = _merged(base, value)
        else:
            written[key] = value
    return written


def _anchor(name: str) -> str:
    """An anchor name YAML accepts (letters, digits, `-`, `_`): `a.redis.conf` -> `a-redis-conf`."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _factored(document: dict[str, Any], roles: dict[str, str]) -> dict[str, Any]:
    """The same Compose document with each role's shared settings written once (`x-<role>`)."""
    by_role: dict[str, list[str]] = {}
    for name, role in roles.items():
        by_role.setdefault(role, []).append(name)
    extensions: dict[str, Any] = {}
    services = dict(document["services"])
    for role, names in by_role.items():
        if len(names) < 2:
            continue
        shared_items = _shared_part([document["services"][name] for name in names])
        if not shared_items:
            continue
        first = document["services"][names[0]]
        # A mapping only partly shared (a health check's timings, not its port) gets its own anchor.
        shared = Shared(
            role,
            {
                key: value if first[key] == value else Shared(_anchor(f"{role}-{key}"), value)
                for key, value in shared_items.items()
            },
        )
        extensions[f"x-{role}"] = shared
        for name in names:
            services[name] = _merged(shared, document["services"][name])
    factored: dict[str, Any] = {**extensions, **document, "services": services}
    if "configs" in document:
        # Files with the same content (one entrypoint for every sentinel, ...) are written once.
        first_with: dict[str, Shared] = {}
        configs: dict[str, Any] = {}
        for name, config in document["configs"].items():
            content = config["content"]
            if content not in first_with:
                first_with[content] = Shared(_anchor(name), config)
            configs[name] = first_with[content]
        factored["configs"] = configs
    return factored


class _Dumper(BlockDumper):
    """Block style, multi-line strings as `|` literals (the config files stay readable in the diff), named anchors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.anchor_names: dict[yaml.Node, str] = {}

    def generate_anchor(self, node: yaml.Node) -> str:
        return self.anchor_names.get(node) or str(super().generate_anchor(node))

    def ignore_aliases(self, data: Any) -> bool:
        # Only Shared mappings become anchors; other repeated values (equal lists, ...) are written out.
        return not isinstance(data, Shared)


def _represent_shared(dumper: _Dumper, value: Shared) -> yaml.MappingNode:
    node = dumper.represent_mapping("tag:yaml.org,2002:map", dict(value))
    dumper.anchor_names[node] = value.anchor
    return node


def _represent_merge(dumper: yaml.SafeDumper, value: _MergeKey) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:merge", str(value))


def _represent_mode(dumper: yaml.SafeDumper, value: FileMode) -> yaml.ScalarNode:
    # 0o555 -> `0555`: a YAML 1.1 octal, which compose-go also reads as octal (and PyYAML reads back as 365).
    return dumper.represent_scalar("tag:yaml.org,2002:int", f"0{value:o}")


_Dumper.add_representer(FileMode, _represent_mode)
_Dumper.add_representer(Shared, _represent_shared)
_Dumper.add_representer(_MergeKey, _represent_merge)


def header(deployment: DeploymentPlan, *, source: str | None, output: str | None) -> str:
    spec = deployment.spec
    rendered_from = source or "the cluster spec"
    regenerate = f"cache-cluster render compose {source or 'FILE'} --output {output or DEFAULT_OUTPUT}"
    lines = [
        f"# Generated by cache-cluster from {rendered_from}. Do not edit:",
        "# change the spec, then regenerate from this file's directory with",
        f"#   {regenerate}",
    ]
    if source == "Pulumi.dev.yaml":
        lines.append("# (`make compose` runs exactly that; a unit test fails while this file is stale.)")
    init = deployment.init.service.name if deployment.init is not None else None
    lines += [
        "#",
        f"# Secrets are not in this file: Compose reads {PASSWORD_ENV} (the application user's password),",
        f"# {ADMIN_PASSWORD_ENV} and the other variables under `secrets:` from its environment and copies",
        "# them into the containers as files (never into their environment); needed to start, not for `down`.",
        f"# `make up` generates them into {SECRETS_STATE_DIR}/ (0600) and exports them. Images: {REDIS_IMAGE_ENV},",
        f"# {EXPORTER_IMAGE_ENV}, {PROMETHEUS_IMAGE_ENV} and {HOOK_IMAGE_ENV} override the spec's",
        "# defaults (`make up` uses the locally built ones).",
        "#",
        "# Run it alone, or merged into an application's project (which keeps its own project name):",
        f"#   docker-compose -p {spec.name} -f docker-compose.cache-cluster.yml up -d --wait",
        "#   docker-compose -f docker-compose.yml -f docker-compose.cache-cluster.yml up -d",
    ]
    if init is not None:
        lines += [
            f"# {init} forms the cluster (once; later runs only validate) and exits 0 when it is healthy;",
            f"# applications wait for it: depends_on: {{{init}: {{condition: service_completed_successfully}}}}",
        ]
    lines += [
        f"# Ports are published on {spec.network.publish_address} only (network.publish_address in the spec).",
        "# x-<role> fields hold what every service of that role shares; each service merges it (<<: *<role>).",
    ]
    return "\n".join(lines) + "\n"


def compose_yaml(deployment: DeploymentPlan, *, source: str | None = None, output: str | None = None) -> str:
    """The Compose file's text: a header saying it is generated and how to regenerate it, then the YAML.

    `source` is the spec file's path relative to the Compose file's directory and `output` the Compose file's
    name; both only appear in the header.
    """
    roles: dict[str, str] = {service.name: service.role for service in all_services(deployment)}
    body = dump_yaml(_factored(render_compose(deployment), roles), dumper=_Dumper)
    return header(deployment, source=source, output=output) + body

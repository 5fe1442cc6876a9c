"""Render a DeploymentPlan as a Compose v2 file (`docker-compose.cache-cluster.yml`).

A pure rendering of plan.py's `ServicePlan`s: every decision (images, commands, ports, health checks, order of
start) is taken there; this module only spells it in Compose's vocabulary. Three Compose details matter:

- Compose interpolates `$` everywhere, so every literal `$` (shell code in health checks and in the config
  files' content) is written as `$$`; the only real references are the ones made here on purpose: the image
  variables (`${CACHE_CLUSTER_REDIS_IMAGE:-default}`) and the secrets (`${REDIS_PASSWORD:?...}`).
- Secrets never appear in the file: each secret variable is taken from the environment of `docker-compose`,
  and Compose refuses to start when it is unset.
- The files a service runs from (redis.conf, entrypoint.sh, ...) are inline `configs` (`content:`, Compose
  >= 2.23), copied into the container at creation, owned by root, with the modes plan.py gives them.
"""

from __future__ import annotations

import posixpath
from typing import Any

import yaml

from ..environment import PASSWORD_ENV
from ..plan import DeploymentPlan, ServicePlan, secret_variable

REDIS_IMAGE_ENV = "CACHE_CLUSTER_REDIS_IMAGE"
EXPORTER_IMAGE_ENV = "CACHE_CLUSTER_EXPORTER_IMAGE"
PASSWORD_FILE = ".cache-cluster/password"
DEFAULT_OUTPUT = "docker-compose.cache-cluster.yml"


def escape(value: str) -> str:
    """A literal string for Compose: `$` is Compose's interpolation character, `$$` is a literal `$`."""
    return value.replace("$", "$$")


def secret_reference(variable: str) -> str:
    """`${VAR:?message}`: Compose stops with the message when VAR is unset or empty."""
    hint = f"set {variable}"
    if variable == PASSWORD_ENV:
        hint += f" (make up writes {PASSWORD_FILE})"
    return f"${{{variable}:?{hint}}}"


def image_reference(service: ServicePlan) -> str:
    """`${CACHE_CLUSTER_..._IMAGE:-<spec default>}`: the spec's image unless the environment overrides it."""
    variable = EXPORTER_IMAGE_ENV if service.role == "exporter" else REDIS_IMAGE_ENV
    return f"${{{variable}:-{escape(service.image)}}}"


def config_name(service: ServicePlan, path: str) -> str:
    """Name of the top-level config holding one of the service's files: `<service>.<file name>`."""
    return f"{service.name}.{posixpath.basename(path)}"


class FileMode(int):
    """A file mode: an int that the YAML dumper writes in octal (`0555`), as Compose files usually do."""


def _duration(seconds: int) -> str:
    return f"{seconds}s"


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
    environment |= {
        name: secret_reference(secret_variable(spec, kind)) for name, kind in service.secret_env.items()
    }
    if environment:
        rendered["environment"] = environment
    if service.ports:
        rendered["ports"] = [f"{port.host_endpoint}:{port.container_port}" for port in service.ports]
    if service.volumes:
        rendered["volumes"] = [f"{mount.volume}:{mount.path}" for mount in service.volumes]
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
        rendered["depends_on"] = {
            dependency.service: {"condition": dependency.condition} for dependency in service.depends_on
        }
    rendered["restart"] = service.restart
    if service.memory_mb is not None:
        rendered["mem_limit"] = f"{service.memory_mb}m"
    if service.user is not None:
        rendered["user"] = service.user
    # tini as pid 1: forwards SIGTERM to redis-server and reaps the node entrypoint's background rejoin loop.
    rendered["init"] = True
    return rendered


def render_compose(deployment: DeploymentPlan) -> dict[str, Any]:
    """The Compose v2 file of a deployment, as plain data (dicts keep the order they are written in)."""
    spec = deployment.spec
    services = {service.name: render_service(deployment, service) for service in deployment.services}
    configs: dict[str, Any] = {
        config_name(service, path): {"content": escape(content)}
        for service in deployment.services
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
    return document


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as `|` literals (the config files stay readable in the diff)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as Compose files usually are.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_mode(dumper: yaml.SafeDumper, value: FileMode) -> yaml.ScalarNode:
    # 0o555 -> `0555`: a YAML 1.1 octal, which compose-go also reads as octal (and PyYAML reads back as 365).
    return dumper.represent_scalar("tag:yaml.org,2002:int", f"0{value:o}")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(FileMode, _represent_mode)


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
    lines += [
        "#",
        f"# Secrets are not in this file: {PASSWORD_ENV} comes from the environment; `make up` creates",
        f"# {PASSWORD_FILE} (mode 0600) and exports it. Images: {REDIS_IMAGE_ENV} and",
        f"# {EXPORTER_IMAGE_ENV} override the spec's defaults (`make up` uses the locally built ones).",
        "#",
        "# Run it alone, or merged into an application's project (which keeps its own project name):",
        f"#   docker-compose -p {spec.name} -f docker-compose.cache-cluster.yml up -d --wait",
        "#   docker-compose -f docker-compose.yml -f docker-compose.cache-cluster.yml up -d --wait",
        f"# then form the cluster once (safe to repeat): cache-cluster init {source or 'FILE'} --via published",
        f"# Ports are published on {spec.network.publish_address} only (network.publish_address in the spec).",
    ]
    return "\n".join(lines) + "\n"


def compose_yaml(deployment: DeploymentPlan, *, source: str | None = None, output: str | None = None) -> str:
    """The Compose file's text: a header saying it is generated and how to regenerate it, then the YAML.

    `source` is the spec file's path relative to the Compose file's directory and `output` the Compose file's
    name; both only appear in the header.
    """
    body = yaml.dump(
        render_compose(deployment),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
    )
    return header(deployment, source=source, output=output) + body

"""The `cache-cluster` command. Commands are thin: load the spec, call pure code or the hook, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .errors import CacheClusterError
from .loader import load_spec_file, password_from_env, stack_file
from .plan import DeploymentPlan, plan
from .spec import ClusterSpec

app = typer.Typer(
    name="cache-cluster",
    help="Declare, run and initialize a Redis Cluster with sentinels, an exporter and fallback tiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the plan table when output goes to a pipe or a CI log; errors are never wrapped.
out = Console(width=160) if not sys.stdout.isatty() else Console()
err = Console(stderr=True, soft_wrap=True)

SpecFile = Annotated[
    Path | None, typer.Argument(help="Cluster file (YAML) or Pulumi stack file (Pulumi.<stack>.yaml).")
]
StackOption = Annotated[str | None, typer.Option("--stack", "-s", help="Read Pulumi.<STACK>.yaml instead of FILE.")]
ProjectDir = Annotated[Path, typer.Option("--project-dir", help="Where the Pulumi.*.yaml files are.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]


def resolve_spec(file: Path | None, stack: str | None, project_dir: Path) -> ClusterSpec:
    if file is not None and stack is not None:
        raise CacheClusterError("give either FILE or --stack, not both")
    if file is None:
        file = stack_file(stack or "dev", project_dir)
    return load_spec_file(file)


def plan_as_json(deployment: DeploymentPlan) -> dict[str, Any]:
    spec = deployment.spec
    return {
        "name": spec.name,
        "environment": spec.environment,
        "target": spec.target,
        "nodes": [
            {
                "name": node.name,
                "role": node.role,
                "port": node.port,
                "bus_port": node.bus_port,
                "shard": node.shard,
                "master": node.master,
                "slots": [str(slot_range) for slot_range in node.slots],
            }
            for node in deployment.nodes
        ],
        "services": [
            {
                "name": service.name,
                "role": service.role,
                "image": service.image,
                "ports": [f"{port.host_ip}:{port.host_port}->{port.container_port}" for port in service.ports],
                "volumes": [f"{mount.volume}:{mount.path}" for mount in service.volumes],
            }
            for service in deployment.services
        ],
        "env": {**deployment.contract.public, **dict.fromkeys(deployment.contract.secret, "<secret>")},
        "exporter_targets": list(deployment.exporter_targets),
    }


def _plan_table(deployment: DeploymentPlan) -> Table:
    spec = deployment.spec
    table = Table(title=f"{spec.name} ({spec.environment}, target {spec.target})")
    for column in ("service", "role", "port", "shard / slots", "follows", "image"):
        table.add_column(column)
    nodes = {node.name: node for node in deployment.nodes}
    for service in deployment.services:
        node = nodes.get(service.name)
        role = node.role if node is not None else service.role
        slots = ""
        if node is not None:
            slots = (
                f"{node.shard}: " + ",".join(str(slot_range) for slot_range in node.slots)
                if node.slots
                else str(node.shard)
            )
        ports = ",".join(f"{port.host_ip}:{port.host_port}" for port in service.ports)
        table.add_row(service.name, role, ports, slots, node.master if node and node.master else "", service.image)
    return table


@app.command("check-config")
def check_config(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Validate a cluster spec and print the plan: nodes, roles, slots, ports, images."""
    deployment = plan(resolve_spec(file, stack, project_dir))
    if as_json:
        out.print_json(json.dumps(plan_as_json(deployment)))
        return
    out.print(_plan_table(deployment))
    out.print("[green]valid[/green]: the spec passed every check")


@app.command("env")
def env(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print the password (read from the environment).")
    ] = False,
) -> None:
    """Print the applications' env contract as .env lines; the password is hidden unless --show-secrets."""
    deployment = plan(resolve_spec(file, stack, project_dir))
    secrets = None
    if show_secrets:
        password = password_from_env()
        assert password is not None
        secrets = {"password": password}
    sys.stdout.write(deployment.contract.render_dotenv(secrets))


def _register_extensions() -> None:
    from . import cli_hook, cli_render

    cli_hook.register(app)
    cli_render.register(app)


def main() -> None:
    _register_extensions()
    try:
        app()
    except CacheClusterError as error:
        err.print(error.render(), markup=False, highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

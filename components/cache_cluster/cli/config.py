"""`cache-cluster check-config | env`: the spec, its plan and the applications' env contract."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import JsonOption, ProjectDir, SpecFile, StackOption, out, resolve_spec

if TYPE_CHECKING:
    from rich.table import Table

    from ..plan import DeploymentPlan


def plan_as_json(deployment: DeploymentPlan) -> dict[str, Any]:
    from ..target_support import target_notes

    spec = deployment.spec
    reached = reached_at(deployment)
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
                "address": reached[service.name],
                "volumes": [f"{mount.volume}:{mount.path}" for mount in service.volumes],
            }
            for service in deployment.services
        ],
        "env": {**deployment.contract.public, **dict.fromkeys(deployment.contract.secret, "<secret>")},
        "exporter_targets": list(deployment.exporter_targets),
        "notes": target_notes(spec),
    }


def reached_at(deployment: DeploymentPlan) -> dict[str, str]:
    """Service name -> where it is reached: its published host ports on Docker, its DNS name and port inside
    the cluster on Kubernetes (nothing is published on a host there)."""
    from .. import addresses

    spec = deployment.spec
    if spec.target != "kubernetes":
        return {
            service.name: ",".join(f"{port.host_ip}:{port.host_port}" for port in service.ports)
            for service in deployment.services
        }
    found = addresses.servers(spec)
    if spec.exporter.enabled:
        found.append(addresses.exporter(spec))
    return {address.name: str(address) for address in found}


def _plan_table(deployment: DeploymentPlan) -> Table:
    from rich.table import Table

    spec = deployment.spec
    table = Table(title=f"{spec.name} ({spec.environment}, target {spec.target})")
    where = "address in the cluster" if spec.target == "kubernetes" else "published"
    reached = reached_at(deployment)
    for column in ("service", "role", where, "shard / slots", "follows", "image"):
        # Names and addresses whole (the image may be shortened instead): they are what people copy.
        whole = {"service": [service.name for service in deployment.services], where: list(reached.values())}
        widest = max(map(len, whole[column]), default=0) if column in whole else None
        table.add_column(column, no_wrap=True, min_width=widest)
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
        follows = node.master if node and node.master else ""
        table.add_row(service.name, role, reached.get(service.name, ""), slots, follows, service.image)
    return table


def check_config(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Validate a cluster spec and print the plan: nodes, roles, slots, ports, images."""
    from ..plan import plan
    from ..target_support import target_notes

    deployment = plan(resolve_spec(file, stack, project_dir))
    if as_json:
        out().print_json(json.dumps(plan_as_json(deployment)))
        return
    out().print(_plan_table(deployment))
    for note in target_notes(deployment.spec):
        out().print(f"[yellow]note[/yellow]: {note}", markup=True, highlight=False)
    out().print("[green]valid[/green]: the spec passed every check")


def env(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print the password (read from the environment).")
    ] = False,
) -> None:
    """Print the applications' env contract as .env lines; the password is hidden unless --show-secrets."""
    from ..loader import password_from_env
    from ..plan import plan

    deployment = plan(resolve_spec(file, stack, project_dir))
    secrets = None
    if show_secrets:
        password = password_from_env()
        assert password is not None
        secrets = {"password": password}
    sys.stdout.write(deployment.contract.render_dotenv(secrets))

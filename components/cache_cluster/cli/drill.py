"""`cache-cluster drill NAME`: run one failure drill against a running Docker/Compose stack of the spec.

The drill hurts one node (docker kill / stop / restart / network disconnect) of the spec's Compose project while
a writer sends `WAIT 1`-confirmed writes to every master, then reports its checks and measurements. Exit codes:
0 every check passed, 1 a check failed or the drill could not finish, 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..drills.names import TITLES
from ..errors import CacheClusterError
from .common import ProjectDir, SpecFile, StackOption, note, out
from .hook import AddressMapOption, HookOptions, PasswordFile, ReportJson, Via, ViaOption
from .startup import import_redis_without_telemetry

DrillName = Annotated[
    str,
    typer.Argument(
        help="The drill: " + "; ".join(f"{name}: {title}" for name, title in TITLES.items()), show_default=False
    ),
]
WaitTimeout = Annotated[
    float, typer.Option("--timeout", min=1.0, help="Deadline in seconds for each wait inside the drill.")
]


def drill(
    name: DrillName,
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    password_file: PasswordFile = None,
    via: ViaOption = Via.published,
    address_map: AddressMapOption = None,
    timeout: WaitTimeout = 60.0,
    as_json: ReportJson = False,
) -> None:
    """Run one failure drill against the spec's running Docker/Compose stack (it hurts a node, then heals it).

    Exit codes: 0 every check passed, 1 a check failed or the drill could not finish, 2 bad input.
    """
    if name not in TITLES:
        raise CacheClusterError(f"no drill named {name!r}; fix: use one of {', '.join(TITLES)}")
    import_redis_without_telemetry()
    from ..drills.catalog import run_drill
    from ..drills.cluster import Cluster
    from ..drills.faults import DockerFaults

    options = HookOptions(
        file=file, stack=stack, project_dir=project_dir, password_file=password_file, via=via, address_map=address_map
    )
    targets = options.targets()
    password = options.password()
    spec = targets.spec
    assert spec is not None  # targets from a spec always carry it
    faults = DockerFaults(spec.name, spec.network.name, password)

    def log(line: str) -> None:
        note(f"[drill {name}] {line}", style="dim")

    result = run_drill(
        name,
        Cluster(targets, password),
        faults,
        node_timeout_s=spec.topology.node_timeout_ms / 1000,
        timeout=timeout,
        log=log,
    )
    if as_json:
        sys.stdout.write(result.to_json(password) + "\n")
    else:
        from .display import print_drill

        print_drill(result, out(), password)
    raise typer.Exit(result.exit_code)

"""`cache-cluster init | validate | status`: the post-deploy hook's commands.

Exit codes: 0 healthy, 1 unhealthy / validation failed, 2 user error, 3 refused (unsafe to act),
4 timeout waiting. The report goes to stdout (a table, or JSON with --json); progress goes to stderr.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .cli import resolve_spec
from .errors import CacheClusterError
from .hook.endpoints import AddressMap, Targets, parse_node_list, targets_from_nodes, targets_from_spec
from .hook.report import Report, print_report
from .hook.run import run_init, run_status, run_validate
from .hook.wait import Readiness
from .loader import password_from_env
from .spec import PASSWORD_ENV, ClusterSpec


class Via(str, Enum):
    direct = "direct"
    published = "published"


SpecFile = Annotated[
    Path | None, typer.Argument(help="Cluster file (YAML) or Pulumi stack file (Pulumi.<stack>.yaml).")
]
StackOption = Annotated[str | None, typer.Option("--stack", "-s", help="Read Pulumi.<STACK>.yaml instead of FILE.")]
ProjectDir = Annotated[Path, typer.Option("--project-dir", help="Where the Pulumi.*.yaml files are.")]
NodesOption = Annotated[
    str | None,
    typer.Option(
        "--nodes",
        help="Comma-separated host:port (or host:port/failure-domain) of the cluster nodes, instead of the "
        "spec's. The fallback tier, sentinels and exporter are checked only when a spec (FILE / --stack) is "
        "given as well.",
    ),
]
MastersOption = Annotated[int | None, typer.Option("--masters", help="With --nodes: masters (default: the spec's).")]
ReplicasOption = Annotated[
    int | None, typer.Option("--replicas", help="With --nodes: replicas per master (default: the spec's).")
]
PasswordFile = Annotated[
    Path | None, typer.Option("--password-file", help=f"Read the password from this file instead of {PASSWORD_ENV}.")
]
ViaOption = Annotated[
    Via,
    typer.Option(
        "--via",
        help="direct: dial the announced name:port (inside the Docker network / Kubernetes); published: dial "
        "127.0.0.1:port, the Docker-published ports on this host.",
    ),
]
AddressMapOption = Annotated[
    str | None,
    typer.Option("--address-map", help="name:port=host:port,... to dial instead of the announced addresses."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", min=0.1, help="Deadline in seconds for the whole run.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON (docs/hook-report.md).")]

out = Console(width=160) if not sys.stdout.isatty() else Console()
err = Console(stderr=True, soft_wrap=True)


def _password(password_file: Path | None) -> str:
    if password_file is None:
        password = password_from_env()
        assert password is not None
        return password
    try:
        text = password_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise CacheClusterError(f"cannot read --password-file {password_file}: {error.strerror}") from None
    password = password_from_env({PASSWORD_ENV: text})
    if password is None:
        raise CacheClusterError(f"--password-file {password_file} is empty; fix: write the password into it")
    return password


def _targets(
    file: Path | None,
    stack: str | None,
    project_dir: Path,
    nodes: str | None,
    masters: int | None,
    replicas: int | None,
    via: Via,
    address_map: str | None,
) -> Targets:
    explicit = AddressMap.parse(address_map) if address_map else None
    if nodes is None:
        if masters is not None or replicas is not None:
            raise CacheClusterError("--masters / --replicas go with --nodes; fix: change the spec's topology instead")
        return targets_from_spec(resolve_spec(file, stack, project_dir), via=via.value, address_map=explicit)
    spec = resolve_spec(file, stack, project_dir) if file is not None or stack is not None else None
    topology = (spec or ClusterSpec()).topology
    mapping = explicit
    if mapping is None and via is Via.published:
        # Without a spec there are no service names to map: published ports are the ones given.
        mapping = AddressMap()
    return targets_from_nodes(
        parse_node_list(nodes),
        masters=topology.masters if masters is None else masters,
        replicas_per_master=topology.replicas_per_master if replicas is None else replicas,
        address_map=mapping,
        spec=spec,
    )


class WaitDisplay:
    """Progress of the wait step on stderr: a live bar on a terminal, a plain line per change otherwise."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.plain = not console.is_terminal
        self.last = ""
        self.last_time = 0.0
        self.progress = Progress(
            TextColumn("[bold]waiting for servers"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("", total=total)

    def __enter__(self) -> WaitDisplay:
        if not self.plain:
            self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if not self.plain:
            self.progress.stop()

    def __call__(self, statuses: Sequence[Readiness]) -> None:
        ready = sum(status.ready for status in statuses)
        waiting = [f"{s.endpoint.address} ({s.reason})" for s in statuses if not s.ready]
        line = f"{ready}/{len(statuses)} ready" + (f"; waiting for {', '.join(waiting[:4])}" if waiting else "")
        if len(waiting) > 4:
            line += f" and {len(waiting) - 4} more"
        if self.plain:
            now = time.monotonic()
            if line != self.last or now - self.last_time > 10:
                self.console.print(line, markup=False, highlight=False)
                self.last, self.last_time = line, now
            return
        self.progress.update(self.task, completed=ready, description=", ".join(waiting[:3]))


def _emit(report: Report, as_json: bool, password: str) -> None:
    if as_json:
        sys.stdout.write(report.to_json(password) + "\n")
        sys.stdout.flush()
    else:
        print_report(report, out, password)
    raise typer.Exit(report.exit_code)


def _run_waiting(runner: Callable[..., Report], targets: Targets, password: str, timeout: float, as_json: bool) -> None:
    """Run a command that waits for the servers (init, validate) with the progress display, then report."""
    with WaitDisplay(err, len(targets.servers)) as display:
        report = runner(targets, password, timeout=timeout, on_progress=display)
    _emit(report, as_json, password)


def _log(line: str) -> None:
    err.print(line, markup=False, highlight=False, style="dim")


def register(app: typer.Typer) -> None:
    """Add the hook's commands to the CLI."""

    @app.command("init")
    def init(
        file: SpecFile = None,
        stack: StackOption = None,
        project_dir: ProjectDir = Path("."),
        nodes: NodesOption = None,
        masters: MastersOption = None,
        replicas: ReplicasOption = None,
        password_file: PasswordFile = None,
        via: ViaOption = Via.direct,
        address_map: AddressMapOption = None,
        timeout: TimeoutOption = 120.0,
        as_json: JsonOption = False,
    ) -> None:
        """Wait for every server, create or heal the cluster when that is safe, wait until fully ready, validate.

        Exit codes: 0 healthy, 1 unhealthy, 2 user error, 3 refused (unsafe to act), 4 timeout.
        """
        targets = _targets(file, stack, project_dir, nodes, masters, replicas, via, address_map)
        _run_waiting(functools.partial(run_init, log=_log), targets, _password(password_file), timeout, as_json)

    @app.command("validate")
    def validate(
        file: SpecFile = None,
        stack: StackOption = None,
        project_dir: ProjectDir = Path("."),
        nodes: NodesOption = None,
        masters: MastersOption = None,
        replicas: ReplicasOption = None,
        password_file: PasswordFile = None,
        via: ViaOption = Via.direct,
        address_map: AddressMapOption = None,
        timeout: TimeoutOption = 120.0,
        as_json: JsonOption = False,
    ) -> None:
        """Wait for every server, then check the deployment against the spec (writes only probe keys it deletes).

        Exit codes: 0 healthy, 1 validation failed, 2 user error, 4 timeout.
        """
        targets = _targets(file, stack, project_dir, nodes, masters, replicas, via, address_map)
        _run_waiting(run_validate, targets, _password(password_file), timeout, as_json)

    @app.command("status")
    def status(
        file: SpecFile = None,
        stack: StackOption = None,
        project_dir: ProjectDir = Path("."),
        nodes: NodesOption = None,
        masters: MastersOption = None,
        replicas: ReplicasOption = None,
        password_file: PasswordFile = None,
        via: ViaOption = Via.direct,
        address_map: AddressMapOption = None,
        timeout: Annotated[
            float, typer.Option("--timeout", min=0.1, help="Connection timeout in seconds (status never waits).")
        ] = 5.0,
        as_json: JsonOption = False,
    ) -> None:
        """Show the cluster's state and the read-only checks. Changes nothing, writes nothing.

        Exit codes: 0 healthy, 1 unhealthy, 2 user error.
        """
        targets = _targets(file, stack, project_dir, nodes, masters, replicas, via, address_map)
        password = _password(password_file)
        report = run_status(targets, password, timeout=timeout)
        _emit(report, as_json, password)

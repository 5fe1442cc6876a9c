"""How the CLI draws the hook's data for people: the report (and a drill's result) as rich tables.

The hook returns data and draws nothing; this and `waiting` (the wait's progress) are where its results meet rich.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..drills.result import DrillResult
from ..hook.connect import scrub
from ..hook.inspect import NodeState
from ..hook.report import Report, node_dict
from ..hook.validate import Check

_STATUS_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim"}
_OUTCOME_STYLE = {
    "healthy": "bold green",
    "unhealthy": "bold red",
    "user-error": "bold red",
    "refused": "bold yellow",
    "timeout": "bold red",
}


def render(report: Report) -> RenderableType:
    parts: list[RenderableType] = []
    missing = [status for status in report.servers if not status.ready]
    if missing:
        table = Table(title="servers not ready", title_justify="left")
        for column in ("server", "dialled", "why"):
            table.add_column(column)
        for status in missing:
            table.add_row(status.endpoint.address, str(status.endpoint.connect), status.reason)
        parts.append(table)
    if report.states:
        parts.append(_nodes_table(report.states))
    if report.decision is not None:
        decision = report.decision
        text = Text.assemble(("decision: ", "bold"), f"{decision.kind} - {decision.summary}")
        for finding in decision.findings:
            text.append(f"\n  - {finding.what}")
            if finding.fix:
                text.append(f"\n    fix: {finding.fix}", style="cyan")
        parts.append(text)
    if report.actions:
        parts.append(Text("actions:\n" + "\n".join(f"  - {action}" for action in report.actions)))
    if report.problems:
        parts.append(Text("problems:\n" + "\n".join(f"  - {problem}" for problem in report.problems), style="red"))
    if report.checks:
        parts.append(_checks_table("validation", report.checks))
    timing = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in report.timings.items())
    parts.append(
        Text.assemble(
            (f"{report.outcome} (exit {report.exit_code})", _OUTCOME_STYLE[report.outcome]),
            f": {report.summary}" if report.summary else "",
            (f"\n{timing}", "dim") if timing else "",
        )
    )
    return Group(*parts)


def _nodes_table(states: Sequence[NodeState]) -> Table:
    by_id = {state.node_id: state.endpoint.address for state in states}
    table = Table(title="cluster nodes", title_justify="left")
    for column in ("node", "id", "role", "follows", "slots", "keys", "state", "epoch", "link"):
        table.add_column(column)
    for state in states:
        node = node_dict(state, by_id)
        table.add_row(
            node["address"],
            state.node_id[:8],
            node["role"],
            node["master"] or "",
            ",".join(node["slots"]),
            str(node["keys"]),
            Text(str(node["cluster_state"]), style="green" if node["cluster_state"] == "ok" else "red"),
            str(node["config_epoch"]),
            node["master_link_status"] or "",
        )
    return table


def _checks_table(title: str, checks: Sequence[Check]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("check", "status", "detail"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.name, Text(check.status, style=_STATUS_STYLE[check.status]), check.detail)
    return table


def print_report(report: Report, console: Console, password: str | None = None) -> None:
    _print_scrubbed(render(report), console, password)


def render_drill(result: DrillResult) -> RenderableType:
    measures = Table(title="measured", title_justify="left")
    for column in ("what", "value"):
        measures.add_column(column)
    for name, value in result.measures.items():
        measures.add_row(name, "n/a" if value is None else str(value))
    verdict = "passed" if result.passed else "FAILED"
    return Group(
        Text(f"drill {result.drill}: {result.title}", style="bold"),
        Text("\n".join(result.timeline), style="dim"),
        _checks_table("checks", result.checks),
        measures,
        Text.assemble(
            (f"{verdict} (exit {result.exit_code})", "bold green" if result.passed else "bold red"),
            f": {result.error}" if result.error else "",
        ),
    )


def print_drill(result: DrillResult, console: Console, password: str | None = None) -> None:
    _print_scrubbed(render_drill(result), console, password)


def _print_scrubbed(renderable: RenderableType, console: Console, password: str | None) -> None:
    """Rendered to text first so the password scrub covers every character printed."""
    with console.capture() as captured:
        console.print(renderable)
    console.file.write(scrub(captured.get(), password))
    console.file.flush()

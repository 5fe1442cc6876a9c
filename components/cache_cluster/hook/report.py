"""Step 7: the report. One data structure, two renderings: rich tables for people, JSON for machines.

The JSON schema is documented in docs/hook-report.md; bump SCHEMA_VERSION on any incompatible change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .connect import scrub
from .decide import Decision
from .inspect import NodeState
from .validate import Check
from .wait import Readiness

SCHEMA_VERSION = 1
Outcome = Literal["healthy", "unhealthy", "user-error", "refused", "timeout"]
EXIT_CODES: dict[Outcome, int] = {"healthy": 0, "unhealthy": 1, "user-error": 2, "refused": 3, "timeout": 4}
_STATUS_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim"}
_OUTCOME_STYLE = {"healthy": "bold green", "unhealthy": "bold red", "user-error": "bold red", "refused": "bold yellow",
                  "timeout": "bold red"}


@dataclass
class Report:
    command: Literal["init", "validate", "status"]
    outcome: Outcome = "healthy"
    summary: str = ""
    servers: list[Readiness] = field(default_factory=list)
    states: list[NodeState] = field(default_factory=list)
    decision: Decision | None = None
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def to_dict(self) -> dict[str, Any]:
        by_id = {state.node_id: state.endpoint.address for state in self.states}
        return {
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "healthy": self.outcome == "healthy",
            "summary": self.summary,
            "changed": self.changed,
            "decision": None
            if self.decision is None
            else {
                "kind": self.decision.kind,
                "summary": self.decision.summary,
                "findings": [{"what": f.what, "fix": f.fix} for f in self.decision.findings],
                "colocated_replicas": list(self.decision.colocated),
            },
            "actions": list(self.actions),
            "problems": list(self.problems),
            "servers": [
                {
                    "address": status.endpoint.address,
                    "kind": status.endpoint.kind,
                    "connect": str(status.endpoint.connect),
                    "ready": status.ready,
                    "reason": status.reason or None,
                }
                for status in self.servers
            ],
            "nodes": [_node_dict(state, by_id) for state in self.states],
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
            "timings_ms": {name: round(seconds * 1000, 1) for name, seconds in self.timings.items()},
        }

    def to_json(self, password: str | None = None) -> str:
        return scrub(json.dumps(self.to_dict(), indent=2), password)


def _node_dict(state: NodeState, by_id: dict[str, str]) -> dict[str, Any]:
    myself = state.myself
    role = "master" if myself.is_master else "replica" if myself.is_replica else "unknown"
    master = by_id.get(myself.master_id, myself.master_id) if myself.master_id else None
    return {
        "address": state.endpoint.address,
        "node_id": state.node_id,
        "role": role,
        "master": master,
        "slots": [str(slot_range) for slot_range in myself.slots],
        "keys": state.dbsize,
        "cluster_state": state.cluster_info.get("cluster_state"),
        "known_nodes": int(state.cluster_info.get("cluster_known_nodes", "0") or 0),
        "config_epoch": myself.config_epoch,
        "master_link_status": state.replication.get("master_link_status") if role == "replica" else None,
        "failure_domain": state.endpoint.failure_domain,
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
        table = Table(title="validation", title_justify="left")
        for column in ("check", "status", "detail"):
            table.add_column(column)
        for check in report.checks:
            table.add_row(check.name, Text(check.status, style=_STATUS_STYLE[check.status]), check.detail)
        parts.append(table)
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
        node = _node_dict(state, by_id)
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


def print_report(report: Report, console: Console, password: str | None = None) -> None:
    """Rendered to text first so the password scrub covers every character printed."""
    with console.capture() as captured:
        console.print(render(report))
    console.file.write(scrub(captured.get(), password))
    console.file.flush()

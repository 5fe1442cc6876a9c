"""Step 7: the report: one data structure, and its JSON for machines (the CLI draws it for people).

The JSON schema is documented in docs/hook-report.md; bump SCHEMA_VERSION on any incompatible change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .connect import scrub
from .decide import Decision
from .inspect import NodeState
from .validate import Check
from .wait import Readiness

SCHEMA_VERSION = 1
Outcome = Literal["healthy", "unhealthy", "user-error", "refused", "timeout"]
EXIT_CODES: dict[Outcome, int] = {"healthy": 0, "unhealthy": 1, "user-error": 2, "refused": 3, "timeout": 4}


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
            "nodes": [node_dict(state, by_id) for state in self.states],
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
            "timings_ms": {name: round(seconds * 1000, 1) for name, seconds in self.timings.items()},
        }

    def to_json(self, password: str | None = None) -> str:
        return scrub(json.dumps(self.to_dict(), indent=2), password)


def node_dict(state: NodeState, by_id: dict[str, str]) -> dict[str, Any]:
    """One node as the report shows it; `by_id` names masters by address instead of node ID."""
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

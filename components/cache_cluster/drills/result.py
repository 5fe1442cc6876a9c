"""What a drill reports: its checks (pass / fail, with why), its measurements, and a timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..hook.connect import scrub
from ..hook.validate import Check

Measure = float | int | str | None


@dataclass
class DrillResult:
    drill: str
    title: str
    checks: list[Check] = field(default_factory=list)
    measures: dict[str, Measure] = field(default_factory=dict)
    timeline: list[str] = field(default_factory=list)
    # Set when the drill could not finish (a wait passed its deadline, docker failed): the drill failed.
    error: str = ""

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, "pass" if ok else "fail", detail))
        return ok

    @property
    def passed(self) -> bool:
        return not self.error and all(not check.failed for check in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "drill": self.drill,
            "title": self.title,
            "passed": self.passed,
            "error": self.error,
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
            "measures": self.measures,
            "timeline": self.timeline,
        }

    def to_json(self, password: str) -> str:
        return scrub(json.dumps(self.to_dict(), indent=2), password)

"""The PR workflow's online job passes the stack's policy config, as `make policy` does offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "policy.yml").read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = workflow["jobs"]["preview"]["steps"]
    return steps


def test_the_preview_passes_the_stacks_policy_config_when_there_is_one() -> None:
    steps = _steps()
    preview = next(step for step in steps if str(step.get("uses", "")).startswith("pulumi/actions@"))
    assert preview["with"]["policyPacks"] == "policies"
    assert preview["with"]["policyPackConfigs"] == "${{ steps.policy_config.outputs.file }}"
    finder = next(step for step in steps if step.get("id") == "policy_config")
    assert steps.index(finder) < steps.index(preview)
    assert 'file="Pulumi.${PULUMI_STACK}.policy.json"' in finder["run"]
    # The one policy config the repository has today, for the stack the workflow may preview.
    assert sorted(path.name for path in ROOT.glob("Pulumi.*.policy.json")) == ["Pulumi.prod.policy.json"]

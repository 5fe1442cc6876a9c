"""`cache-cluster policy-check`: the policy pack's verdicts on a stack, offline (no Pulumi credentials or CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import CacheClusterError
from .common import JsonOption, ProjectDir, err, out

PackOption = Annotated[Path, typer.Option("--pack", help="The policy pack's directory (PulumiPolicy.yaml).")]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Policy config (JSON), as for `pulumi preview --policy-pack-config`."),
]


def _policy_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CacheClusterError(f"--config {path}: not readable JSON ({error}); fix: give a JSON object") from None
    if not isinstance(data, dict):
        raise CacheClusterError(f"--config {path}: not a JSON object; fix: map policy names to settings")
    return data


def policy_check(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Check Pulumi.<STACK>.yaml's program.")] = "dev",
    project_dir: ProjectDir = Path("."),
    pack: PackOption = Path("policies"),
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the policy pack on the stack program's resources, as `pulumi preview --policy-pack` does.

    Exit 0 when no mandatory policy is violated (advisories are printed), 1 otherwise, 2 on bad input.
    """
    from ..policy.offline import check_stack

    found = check_stack(stack, project_dir, pack, _policy_config(config))
    mandatory = [violation for violation in found if violation.level == "mandatory"]
    if as_json:
        out().print_json(json.dumps([violation.__dict__ for violation in found]))
    else:
        for violation in found:
            word = "error" if violation.level == "mandatory" else "warning"
            err().print(
                f"{word}: [{violation.policy}] {violation.resource}: {violation.message.splitlines()[-1]}",
                markup=False,
                highlight=False,
            )
        if not mandatory:
            out().print(f"stack {stack!r}: no mandatory policy violated ({len(found)} advisory)", highlight=False)
    if mandatory:
        if not as_json:
            err().print(
                f"error: stack {stack!r} has {len(mandatory)} mandatory policy violation"
                f"{'' if len(mandatory) == 1 else 's'}",
                markup=False,
                highlight=False,
            )
        raise typer.Exit(1)

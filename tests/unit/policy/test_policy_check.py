"""`cache-cluster policy-check`: every checked-in stack passes; a violating stack fails with the CLI's error lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.clirun import PROJECT_DIR, run_cli

# Every checked-in stack: this project's, and those of the Pulumi projects under examples/ (an application's).
STACKS = sorted(
    (str(path.parent.relative_to(PROJECT_DIR)), path.name.split(".")[1])
    for path in [*PROJECT_DIR.glob("Pulumi.*.yaml"), *PROJECT_DIR.glob("examples/*/Pulumi.*.yaml")]
)

PIN_FIX = (
    "fix: pin every image (the spec's images.*) as name:tag@sha256:<digest> "
    "(a tag alone is accepted on dev)"
)


def test_the_stacks_are_found() -> None:
    assert (".", "dev") in STACKS
    assert ("examples/app-stack", "dev") in STACKS


def config_option(project: str, stack: str) -> list[str]:
    """`--config Pulumi.<stack>.policy.json` when the stack has its own policy config (as `make policy` does)."""
    config = Path(project) / f"Pulumi.{stack}.policy.json"
    return ["--config", str(config)] if (PROJECT_DIR / config).is_file() else []


@pytest.mark.parametrize(("project", "stack"), STACKS)
def test_every_checked_in_stack_passes_the_pack(project: str, stack: str) -> None:
    done = run_cli(
        "policy-check", "--stack", stack, "--project-dir", project, *config_option(project, stack), cwd=PROJECT_DIR
    )
    assert done.returncode == 0, done.stderr
    assert f"stack {stack!r}: no mandatory policy violated" in done.stdout
    assert "Traceback" not in done.stderr


def _project(tmp_path: Path, cluster: dict[str, object]) -> Path:
    """A Pulumi project in tmp_path running this repository's stack program, with one stack file."""
    (tmp_path / "Pulumi.yaml").write_text(
        yaml.safe_dump({"name": "cache-cluster", "runtime": "python", "main": str(PROJECT_DIR / "infra")})
    )
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": {"cache-cluster:cluster": cluster}}))
    return tmp_path


def test_a_violating_stack_exits_1_with_one_error_line_per_violation(tmp_path: Path) -> None:
    project = _project(tmp_path, {"environment": "prod", "sentinels": {"count": 3, "quorum": 2}})
    done = run_cli(
        "policy-check", "--stack", "prod", "--project-dir", str(project), "--pack", str(PROJECT_DIR / "policies")
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "error: [images-pinned] cache-cluster-redis-image: image 'redis:7.2.5' has no digest in environment 'prod'; "
        + PIN_FIX,
        "error: [images-pinned] cache-cluster-exporter-image: image 'oliver006/redis_exporter:v1.62.0' has no digest "
        "in environment 'prod'; " + PIN_FIX,
        "error: stack 'prod' has 2 mandatory policy violations",
    ]


def test_json_lists_every_violation_for_machines(tmp_path: Path) -> None:
    digest = "@sha256:" + "0" * 64
    project = _project(
        tmp_path,
        {
            "environment": "prod",
            "images": {"redis": f"redis:7.2.5{digest}", "exporter": f"oliver006/redis_exporter:v1.62.0{digest}"},
        },
    )
    done = run_cli(
        "policy-check",
        "--stack",
        "prod",
        "--project-dir",
        str(project),
        "--pack",
        str(PROJECT_DIR / "policies"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_policy_config_tunes_a_threshold(tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"sentinel-quorum": {"min_sentinels": 5}}))
    done = run_cli("policy-check", "--stack", "dev", "--config", str(config), cwd=PROJECT_DIR)
    assert done.returncode == 1
    assert (
        "error: [sentinel-quorum] <stack>: 3 sentinels; failover needs an odd number, at least 5; fix: set "
        "sentinels.count to 3 (or 5) and sentinels.quorum to count // 2 + 1"
    ) in done.stderr.splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "nosuch"], "error: no stack file Pulumi.nosuch.yaml in ."),
        (
            ["--pack", "infra"],
            "error: infra holds no PulumiPolicy.yaml; fix: pass --pack with the policy pack's directory",
        ),
    ],
)
def test_bad_input_is_a_clean_error_with_exit_2(args: list[str], message: str) -> None:
    done = run_cli("policy-check", *args, cwd=PROJECT_DIR)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and "Traceback" not in done.stderr


def test_a_spec_the_program_refuses_is_a_clean_error(tmp_path: Path) -> None:
    project = _project(tmp_path, {"topology": {"masters": 2}})
    done = run_cli(
        "policy-check", "--stack", "prod", "--project-dir", str(project), "--pack", str(PROJECT_DIR / "policies")
    )
    assert done.returncode == 2
    assert "topology.masters" in done.stderr and "Traceback" not in done.stderr

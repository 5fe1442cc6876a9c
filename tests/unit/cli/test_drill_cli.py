"""`cache-cluster drill` and `init --prefer-spec-masters` as a person meets them: help, bad input, no traceback."""

from __future__ import annotations

import subprocess

import pytest

from tests.unit.clirun import PROJECT_DIR, Invocation, run_cli_many

SPEC = str(PROJECT_DIR / "tests" / "e2e" / "drill-stack.yaml")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    # Run from a directory without a `make up` in it: its .cache-cluster/secrets would stand in for the variables.
    elsewhere = tmp_path_factory.mktemp("no-make-up")
    return run_cli_many(
        {
            "help": Invocation(["drill", "--help"]),
            "unknown": Invocation(["drill", "kill-everything", SPEC], env={"REDIS_ADMIN_PASSWORD": "x" * 20}),
            "no-password": Invocation(["drill", "kill-master", SPEC], cwd=elsewhere),
            "init-help": Invocation(["init", "--help"]),
            "validate-help": Invocation(["validate", "--help"]),
        }
    )


def test_help_lists_every_drill(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = runs["help"]
    assert done.returncode == 0
    text = "".join(done.stdout.split())  # rich wraps the help anywhere, also inside a name
    for name in ("kill-master", "kill-replica", "restart-node", "partition-master", "kill-fallback-primary",
                 "stop-two-masters", "init-repeat", "restore-masters"):
        assert f"{name}:" in text


def test_an_unknown_drill_is_a_user_error(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = runs["unknown"]
    assert done.returncode == 2
    assert "no drill named 'kill-everything'; fix: use one of kill-master, kill-replica," in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_password_is_a_user_error(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = runs["no-password"]
    assert done.returncode == 2
    assert "REDIS_ADMIN_PASSWORD is not set" in done.stderr and "Traceback" not in done.stderr


def test_prefer_spec_masters_is_an_init_option_only(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "--prefer-spec-masters" in runs["init-help"].stdout
    assert "--prefer-spec-masters" not in runs["validate-help"].stdout

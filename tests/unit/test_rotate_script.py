"""scripts/rotate-password.sh refuses bad input before it touches the engine or a server (exit 2, the reason)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = "tests/e2e/security-stack.yaml"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    return subprocess.run(["bash", "scripts/rotate-password.sh", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False, env=clean | env)


def test_an_unknown_secret_is_refused_with_the_deployments_secrets() -> None:
    result = _run(SPEC, "bus")
    assert result.returncode == 2
    assert ("unknown secret 'bus'; fix: one of password admin exporter replication sentinel all"
            in result.stderr), result.stderr


def test_a_password_kept_in_the_environment_is_not_rotated_in_the_files() -> None:
    result = _run(SPEC, "replication", REDIS_REPLICATION_PASSWORD="Kept-by-the-user.0123456789")
    assert result.returncode == 2
    assert "REDIS_REPLICATION_PASSWORD is set in the environment" in result.stderr
    assert "Kept-by-the-user" not in result.stdout + result.stderr

"""`cache-cluster render secrets`: one 0600 file per password (generated when missing, a variable set in the
environment wins), the exporter's map derived from its password, and `export` lines that name files only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.unit.clirun import PROJECT_DIR, run_cli

SPEC = str(PROJECT_DIR / "Pulumi.dev.yaml")
GIVEN = "Given-admin-password.0123456789"


def _exports(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_generates_missing_files_and_prints_only_where_they_are(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    lines = _exports(run_cli("render", "secrets", SPEC, "--dir", str(directory)))
    assert lines == [
        f'export REDIS_PASSWORD="$(cat {directory}/redis-password)"',
        f'export REDIS_ADMIN_PASSWORD="$(cat {directory}/redis-admin-password)"',
        f'export REDIS_EXPORTER_PASSWORD="$(cat {directory}/redis-exporter-password)"',
        f'export REDIS_REPLICATION_PASSWORD="$(cat {directory}/redis-replication-password)"',
        f'export REDIS_SENTINEL_PASSWORD="$(cat {directory}/redis-sentinel-password)"',
        f'export REDIS_EXPORTER_PASSWORD_MAP="$(cat {directory}/redis-exporter-password-map)"',
    ]
    assert oct(directory.stat().st_mode & 0o777) == oct(0o700)
    files = {path.name: path for path in directory.iterdir()}
    assert all(oct(path.stat().st_mode & 0o777) == oct(0o600) for path in files.values())
    passwords = {name: path.read_text() for name, path in files.items() if name != "redis-exporter-password-map"}
    assert len(set(passwords.values())) == 5 and all(len(value) == 32 for value in passwords.values())
    password_map = json.loads(files["redis-exporter-password-map"].read_text())
    assert set(password_map.values()) == {passwords["redis-exporter-password"]}
    assert len(password_map) == 11 and "redis://redis-sentinel-3:26381" in password_map
    again = run_cli("render", "secrets", SPEC, "--dir", str(directory))
    assert _exports(again) == lines and "0 generated" in again.stderr
    assert {name: path.read_text() for name, path in files.items() if name in passwords} == passwords


def test_a_variable_in_the_environment_wins_and_is_checked(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    result = run_cli("render", "secrets", SPEC, "--dir", str(directory), env={"REDIS_ADMIN_PASSWORD": GIVEN})
    lines = _exports(result)
    assert not any("REDIS_ADMIN_PASSWORD" in line for line in lines)
    assert (directory / "redis-admin-password").read_text() == GIVEN  # the directory is complete
    assert (directory / "redis-admin-password").stat().st_mode & 0o777 == 0o600
    assert GIVEN not in result.stdout + result.stderr
    weak = run_cli("render", "secrets", SPEC, "--dir", str(directory), env={"REDIS_ADMIN_PASSWORD": "short"})
    assert weak.returncode == 2
    assert "REDIS_ADMIN_PASSWORD: password has 5 characters, fewer than 16" in weak.stderr
    assert "short" not in weak.stdout

"""`cache-cluster rotate-password`: bad input is refused before any server is contacted (exit 2, no traceback,
no password echoed). The rotation itself runs on real servers in tests/integration/test_rotate.py."""

from __future__ import annotations

from pathlib import Path

from tests.unit.clirun import PROJECT_DIR, run_cli

SPEC = str(PROJECT_DIR / "Pulumi.dev.yaml")
ADMIN = {"REDIS_ADMIN_PASSWORD": "Admin-password.0123456789"}


def test_only_the_deployments_secrets() -> None:
    unknown = run_cli("rotate-password", SPEC, "--secret", "bus", env=ADMIN)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "unknown secret 'bus'; fix: rotate one of ['password', 'admin', 'exporter', 'replication', " \
        "'sentinel', 'acl:<user>']" in unknown.stderr
    undeclared = run_cli("rotate-password", SPEC, "--secret", "acl:reports", env=ADMIN)
    assert undeclared.returncode == 2
    assert "no ACL user 'reports' to rotate" in undeclared.stderr


def test_the_new_password_must_be_given_and_acceptable() -> None:
    missing = run_cli("rotate-password", SPEC, env=ADMIN)
    assert missing.returncode == 2
    assert "REDIS_NEW_PASSWORD is not set" in missing.stderr and "Traceback" not in missing.stderr
    weak = run_cli("rotate-password", SPEC, env=ADMIN | {"REDIS_NEW_PASSWORD": "weak pass"})
    assert weak.returncode == 2
    assert "REDIS_NEW_PASSWORD: password has 9 characters, fewer than 16" in weak.stderr
    assert "weak pass" not in weak.stdout + weak.stderr


def test_the_admin_password_is_required(tmp_path: Path) -> None:
    # Run where no `make up` left .cache-cluster/secrets/redis-admin-password (it stands in for the variable).
    result = run_cli("rotate-password", SPEC, env={"REDIS_NEW_PASSWORD": "New-password.0123456789"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "REDIS_ADMIN_PASSWORD is not set" in result.stderr

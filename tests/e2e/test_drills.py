"""The failure drills (`cache-cluster drill NAME`) on the real Docker engine, each against the same running stack.

The stack is tests/e2e/drill-stack.yaml: Compose project, network and volumes `cctest-drills*`, nodes 21001-21006
(bus 31001-31006), sentinels 21379-21381, fallback 21383/21384, exporter 21121, node timeout 2000 ms and sentinel
down-after 2000 ms, so a failover takes seconds. Leftovers of an interrupted run are removed first; the module's
fixture ends with `make destroy`. The drills run in file order: each starts from whatever roles the one before
left (every drill waits for a fully ready cluster first), and the last one restores the spec's masters.

Each drill hurts one node while a writer sends WAIT-1-confirmed writes to every master; the test reads its JSON
report and asserts the promises: the checks passed, 0 confirmed writes lost, no failed write where none may fail.
Figures are logged, not asserted (speed is measured by bench/failover.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cache_cluster.loader import load_spec_file
from cache_cluster.spec import service_ports
from tests.conftest import require
from tests.e2e.test_compose_stack import _compose_binary, _docker_available, _port_is_free
from tests.e2e.waiting import log

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SPEC = "tests/e2e/drill-stack.yaml"
# The drills act as the hook's admin user (make up keeps every password in .cache-cluster/secrets).
PASSWORD_FILE = ROOT / ".cache-cluster" / "secrets" / "redis-admin-password"
CLI = Path(sys.executable).with_name("cache-cluster")
DRILL_TIMEOUT = 180


def make(target: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    log(f"make {target} SPEC={SPEC}")
    return subprocess.run(
        ["make", "--no-print-directory", target, f"SPEC={SPEC}"],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False,
    )


@pytest.fixture(scope="module")
def password() -> Iterator[str]:
    available, why = _docker_available()
    require(available, why)
    spec = load_spec_file(ROOT / SPEC)
    log(f"removing leftovers of Compose project {spec.name}")
    subprocess.run([_compose_binary(), "-p", spec.name, "down", "--volumes", "--timeout", "5"],
                   capture_output=True, timeout=120, cwd=ROOT, check=False)
    held = [owned for owned in service_ports(spec) if not _port_is_free(owned.port)]
    if held:
        pytest.fail("ports the drill stack needs are held: " + ", ".join(f"{o.port} ({o.owner})" for o in held))
    try:
        up = make("up", timeout=600)
        if up.returncode != 0:
            pytest.fail(f"make up SPEC={SPEC} failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}", pytrace=False)
        yield PASSWORD_FILE.read_text(encoding="utf-8").strip()
    finally:
        destroyed = make("destroy", timeout=180)
        assert destroyed.returncode == 0, f"make destroy failed:\n{destroyed.stdout}\n{destroyed.stderr}"


def drill(name: str, password: str) -> dict[str, Any]:
    """`cache-cluster drill NAME SPEC --json`; the report, after logging its timeline and figures."""
    started = time.monotonic()
    done = subprocess.run(
        [str(CLI), "drill", name, SPEC, "--json", "--timeout", "60"],
        capture_output=True, text=True, timeout=DRILL_TIMEOUT, cwd=ROOT, check=False,
        env={**os.environ, "REDIS_ADMIN_PASSWORD": password},
    )
    assert done.stdout.strip(), f"drill {name} printed no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(done.stdout)
    log(f"drill {name}: exit {done.returncode} after {time.monotonic() - started:.1f}s; {report['measures']}")
    for line in report["timeline"]:
        log(f"  {line}")
    failed = [check for check in report["checks"] if check["status"] != "pass"]
    assert report["passed"] and done.returncode == 0 and not failed, json.dumps(report, indent=2)
    assert password not in done.stdout + done.stderr
    return report


def test_kill_master(password: str) -> None:
    report = drill("kill-master", password)
    measures = report["measures"]
    assert measures["confirmed_lost"] == 0
    assert measures["failed_on_healthy_masters"] == 0
    assert measures["recover_s"] > 0  # the killed master's writes did fail, then came back
    assert [check["name"] for check in report["checks"]] == [
        "replica-took-over", "writes-recovered", "healthy-masters-kept-writing", "old-master-returns-as-replica",
        "no-confirmed-write-lost",
    ]


def test_kill_replica(password: str) -> None:
    measures = drill("kill-replica", password)["measures"]
    assert measures["failed"] == 0
    assert measures["confirmed_lost"] == 0


def test_restart_node(password: str) -> None:
    report = drill("restart-node", password)
    assert report["measures"]["failed"] == 0
    assert {check["name"] for check in report["checks"]} >= {"same-node-id", "rejoined-from-nodes-conf"}


def test_partition_master(password: str) -> None:
    measures = drill("partition-master", password)["measures"]
    assert measures["confirmed_lost"] == 0
    assert measures["isolated_writes_confirmed"] == 0
    assert measures["isolated_refusal"].startswith("CLUSTERDOWN")
    assert measures["isolated_refuses_writes_after_s"] < measures["promoted_after_s"]


def test_kill_fallback_primary(password: str) -> None:
    report = drill("kill-fallback-primary", password)
    assert [check["status"] for check in report["checks"]] == ["pass", "pass", "pass"]


def test_stop_two_masters(password: str) -> None:
    measures = drill("stop-two-masters", password)["measures"]
    assert "not ready" in measures["validate_says"] and "connection refused" in measures["validate_says"]
    assert measures["confirmed_lost"] == 0


def test_init_twenty_times_while_serving(password: str) -> None:
    measures = drill("init-repeat", password)["measures"]
    assert measures["failed"] == 0


def test_init_restores_the_spec_masters(password: str) -> None:
    report = drill("restore-masters", password)
    assert report["measures"]["failed"] == 0
    masters = next(check for check in report["checks"] if check["name"] == "spec-masters-are-masters")
    assert masters["detail"] == "masters now: ['redis-node-1:21001', 'redis-node-2:21002', 'redis-node-3:21003']"

"""The rules and the configuration through the real `promtool` (Debian's prometheus package): syntax and
semantics (`check config`, `check rules`), and the hand-written unit tests in monitoring/tests (series in,
alerts out) for every alert, firing and not firing. Also: those tests fail when the rules stop working.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cache_cluster.monitoring import monitoring_files, render_rules
from cache_cluster.spec import ClusterSpec
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "monitoring"
RULES = MONITORING / "cache-cluster.rules.yml"
RULE_TESTS = MONITORING / "tests" / "cache-cluster.rules.test.yml"
DEV_ALERTS = {
    "RedisClusterStateNotOk",
    "RedisClusterSlotsFailing",
    "RedisClusterSlotsUnassigned",
    "RedisClusterNodeNotJoined",
    "RedisClusterMasterWithoutReplica",
    "RedisReplicaLinkDown",
    "RedisMemoryNearMaxmemory",
    "RedisEvictingKeys",
    "RedisRejectingConnections",
    "RedisFallbackPrimaryDown",
    "RedisSentinelQuorumLost",
    "RedisSentinelsDisagree",
    "RedisExporterDown",
    "RedisTargetDown",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    require(found is not None, "promtool not installed; fix: scripts/install-system.sh (Debian package prometheus)")
    assert found is not None
    return found


def run(promtool: str, *args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def test_checked_in_config_and_its_rules_pass_check_config(promtool: str) -> None:
    result = run(promtool, "check", "config", MONITORING / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert "SUCCESS: 14 rules found" in result.stdout


def test_checked_in_rules_pass_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 14 rules found" in result.stdout


def test_the_rule_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _cases() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    return [case for test in tests for case in test.get("alert_rule_test", [])]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert alerts == DEV_ALERTS
    firing = {case["alertname"] for case in _cases() if case.get("exp_alerts")}
    silent = {case["alertname"] for case in _cases() if not case.get("exp_alerts")}
    assert firing == DEV_ALERTS
    assert silent == DEV_ALERTS


def test_the_rule_unit_tests_fail_when_no_rule_can_fire(promtool: str, tmp_path: Path) -> None:
    """The tests bite: with every expression replaced by one that never fires, every alert's firing case fails."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = "vector(0) > 1"
    (tmp_path / "tests").mkdir()
    (tmp_path / RULES.name).write_text(yaml.safe_dump(rules), encoding="utf-8")
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    result = run(promtool, "test", "rules", Path("tests") / RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = set(re.findall(r"alertname: (\w+), time:", result.stdout + result.stderr))
    assert failed == DEV_ALERTS


def test_a_changed_threshold_fails_its_unit_test(promtool: str, tmp_path: Path) -> None:
    """The quorum in the sentinels' alerts comes from the spec; rendered with quorum 3 the tests (quorum 2) fail."""
    spec = ClusterSpec.model_validate({"sentinels": {"count": 5, "quorum": 3}})
    (tmp_path / "tests").mkdir()
    (tmp_path / RULES.name).write_text(yaml.safe_dump(render_rules(spec)), encoding="utf-8")
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    result = run(promtool, "test", "rules", Path("tests") / RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode == 1
    failed = set(re.findall(r"alertname: (\w+), time:", result.stdout + result.stderr))
    assert failed == {"RedisFallbackPrimaryDown", "RedisSentinelQuorumLost"}


OTHER_SPECS = {
    "kubernetes target": {"target": "kubernetes", "environment": "prod"},
    "no fallback tier": {"fallback": {"enabled": False}},
    "no replicas (dev)": {"topology": {"replicas_per_master": 0}},
    "nine nodes, five sentinels": {
        "name": "big-cache",
        "topology": {"masters": 3, "replicas_per_master": 2},
        "sentinels": {"count": 5, "quorum": 3},
    },
    "test timing": {"monitoring": {"scrape_interval_s": 2, "alert_for_override_s": 4}},
}


@pytest.mark.parametrize("fields", OTHER_SPECS.values(), ids=OTHER_SPECS.keys())
def test_rendered_files_of_other_specs_pass_check_config(promtool: str, tmp_path: Path, fields: dict[str, Any]) -> None:
    spec = ClusterSpec.model_validate(fields)
    for name, text in monitoring_files(spec).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = run(promtool, "check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: \d+ rules found", result.stdout), result.stdout

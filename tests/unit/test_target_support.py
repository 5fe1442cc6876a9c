"""Settings a Docker target cannot apply are said out loud (check-config), and cpu_limit is applied as --cpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cache_cluster.plan import plan
from cache_cluster.spec import ClusterSpec
from cache_cluster.target_support import docker_cpus, docker_notes, target_notes
from cache_cluster.targets.compose import render_compose
from tests.unit.clirun import run_cli

IGNORED_ON_DOCKER = {
    "memory": {"cpu_request": "250m", "cpu_limit": "1.5"},
    "persistence": {"volume_size": "20Gi"},
    "kubernetes": {"namespace": "shop", "storage_class": "fast-ssd"},
}


@pytest.mark.parametrize(("quantity", "cpus"), [("500m", "0.5"), ("1500m", "1.5"), ("2", "2"), ("0.25", "0.25")])
def test_docker_cpus(quantity: str, cpus: str) -> None:
    assert docker_cpus(quantity) == cpus


def test_the_defaults_need_no_note() -> None:
    assert docker_notes(ClusterSpec()) == []


def test_every_ignored_setting_gets_a_note_naming_it() -> None:
    notes = docker_notes(ClusterSpec.model_validate(IGNORED_ON_DOCKER))
    assert len(notes) == 3
    assert notes[0].startswith("memory.cpu_request '250m' has no effect on Docker")
    assert notes[1].startswith("persistence.volume_size '20Gi' has no effect on Docker")
    assert notes[2].startswith("kubernetes.namespace, kubernetes.storage_class have no effect on Docker")
    # The Kubernetes target applies all of them: nothing to say there.
    assert target_notes(ClusterSpec.model_validate({**IGNORED_ON_DOCKER, "target": "kubernetes"})) == []


def test_cpu_limit_is_applied_not_noted_and_compose_renders_it_too() -> None:
    spec = ClusterSpec.model_validate({"memory": {"cpu_limit": "1.5"}})
    assert docker_notes(spec) == []
    services = render_compose(plan(spec))["services"]
    assert services["redis-node-1"]["cpus"] == "1.5" and services["redis-fallback"]["cpus"] == "1.5"
    assert "cpus" not in services["redis-sentinel-1"] and "cpus" not in services["redis-exporter"]


def test_check_config_prints_the_notes(tmp_path: Path) -> None:
    spec_file = tmp_path / "cluster.yaml"
    spec_file.write_text(yaml.safe_dump(IGNORED_ON_DOCKER))
    table = run_cli("check-config", str(spec_file))
    assert table.returncode == 0, table.stderr
    assert "note: persistence.volume_size '20Gi' has no effect on Docker" in table.stdout
    as_json = run_cli("check-config", "--json", str(spec_file))
    assert len(json.loads(as_json.stdout)["notes"]) == 3

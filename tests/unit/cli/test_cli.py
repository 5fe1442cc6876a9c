"""The `cache-cluster` command as people and pipelines run it: check-config and env, as subprocesses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cache_cluster.loader import load_spec_file
from cache_cluster.plan import plan
from tests.unit.clirun import PROJECT_DIR, Invocation, run_cli_many

EXAMPLES = sorted((PROJECT_DIR / "examples").glob("*.yaml"))
PASSWORD = "cli-test-password-0123456789"
GENERATED_PASSWORD = "generated0by0make0up0AbCdEfGhIjKl"
BRIEF_NODES = (
    "redis-node-1:7001,redis-node-2:7002,redis-node-3:7003,redis-node-4:7004,redis-node-5:7005,redis-node-6:7006"
)

Results = dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Every invocation this module asserts on, started together (each costs an interpreter start)."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    # A directory where `make up` ran (it wrote .cache-cluster/secrets/redis-password), and a command run from a
    # subdirectory.
    made_up = tmp_path_factory.mktemp("made-up")
    (made_up / ".cache-cluster" / "secrets").mkdir(mode=0o700, parents=True)
    (made_up / ".cache-cluster" / "secrets" / "redis-password").write_text(GENERATED_PASSWORD + "\n", encoding="utf-8")
    (made_up / "app").mkdir()
    invocations = {
        "help": Invocation(("--help",)),
        "check-dev-file": Invocation(("check-config", "Pulumi.dev.yaml"), cwd=PROJECT_DIR),
        "check-dev-json": Invocation(("check-config", "--json", str(PROJECT_DIR / "Pulumi.dev.yaml"))),
        "check-stack": Invocation(("check-config", "--stack", "dev", "--project-dir", str(PROJECT_DIR)), cwd=elsewhere),
        "check-prod-json": Invocation(("check-config", "--json", str(PROJECT_DIR / "Pulumi.prod.yaml"))),
        "check-prod": Invocation(("check-config", "Pulumi.prod.yaml"), cwd=PROJECT_DIR, env={"COLUMNS": "200"}),
        "env-with-password-set": Invocation(
            ("env", "--stack", "dev", "--project-dir", str(PROJECT_DIR)), env={"REDIS_PASSWORD": PASSWORD}
        ),
        "env-show": Invocation(
            ("env", "--show-secrets", "--stack", "dev", "--project-dir", str(PROJECT_DIR)),
            env={"REDIS_PASSWORD": PASSWORD},
        ),
        # Elsewhere: no .cache-cluster/secrets of a `make up` in this checkout is found there.
        "env-show-unset": Invocation(
            ("env", "--show-secrets", "--stack", "dev", "--project-dir", str(PROJECT_DIR)), cwd=elsewhere
        ),
        "env-show-generated": Invocation(
            ("env", "--show-secrets", "--stack", "dev", "--project-dir", str(PROJECT_DIR)), cwd=made_up / "app"
        ),
        "env-show-bad": Invocation(
            ("env", "--show-secrets", "--stack", "dev", "--project-dir", str(PROJECT_DIR)),
            env={"REDIS_PASSWORD": "short-secret-1"},
        ),
    }
    for example in EXAMPLES:
        invocations[f"example:{example.name}"] = Invocation(("check-config", str(example)))
    return run_cli_many(invocations)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def _table_rows(stdout: str) -> dict[str, list[str]]:
    """The plan table's body rows, by service name."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


def test_help(runs: Results) -> None:
    stdout = _ok(runs["help"])
    assert "check-config" in stdout
    assert "env" in stdout


def test_check_config_on_the_dev_stack_file(runs: Results) -> None:
    stdout = _ok(runs["check-dev-file"])
    assert "valid" in stdout
    rows = _table_rows(stdout)
    assert list(rows) == [
        *(f"redis-node-{index}" for index in range(1, 7)),
        "redis-fallback",
        "redis-fallback-replica",
        "redis-sentinel-1",
        "redis-sentinel-2",
        "redis-sentinel-3",
        "redis-exporter",
        "prometheus",
    ]
    assert rows["redis-node-1"][1:4] == ["master", "127.0.0.1:7001", "0: 0-5460"]
    assert rows["redis-node-3"][3] == "2: 10922-16383"
    assert rows["redis-node-4"][1:5] == ["replica", "127.0.0.1:7004", "0", "redis-node-1"]
    assert rows["redis-node-6"][4] == "redis-node-3"
    assert rows["redis-exporter"][2] == "127.0.0.1:9121"
    assert rows["prometheus"][2] == "127.0.0.1:9090"
    assert "(dev, target docker)" in stdout


def test_check_config_json(runs: Results) -> None:
    document = json.loads(_ok(runs["check-dev-json"]))
    assert document["environment"] == "dev"
    nodes = document["nodes"]
    assert len(nodes) == 6
    assert [node["name"] for node in nodes] == [f"redis-node-{index}" for index in range(1, 7)]
    assert [node["port"] for node in nodes] == list(range(7001, 7007))
    assert [node["bus_port"] for node in nodes] == list(range(17001, 17007))
    assert [node["role"] for node in nodes] == ["master"] * 3 + ["replica"] * 3
    assert [node["master"] for node in nodes[3:]] == ["redis-node-1", "redis-node-2", "redis-node-3"]
    assert [node["slots"] for node in nodes[:3]] == [["0-5460"], ["5461-10921"], ["10922-16383"]]
    assert document["env"]["REDIS_CLUSTER_NODES"] == BRIEF_NODES
    assert document["env"]["REDIS_PASSWORD"] == "<secret>"
    assert all(port.startswith("127.0.0.1:") for service in document["services"] for port in service["ports"])
    assert document["services"][0]["address"] == "127.0.0.1:7001"
    assert len(document["exporter_targets"]) == 6 + 2 + 3


def test_check_config_shows_where_kubernetes_servers_are_reached_in_the_cluster(runs: Results) -> None:
    services = {service["name"]: service for service in json.loads(_ok(runs["check-prod-json"]))["services"]}
    assert services["redis-node-6"]["address"] == "redis-node-6.redis-node-headless.cache.svc.cluster.local:7001"
    assert services["redis-sentinel-2"]["address"] == (
        "redis-sentinel-2.redis-sentinel-headless.cache.svc.cluster.local:26379"
    )
    assert services["redis-fallback-replica"]["address"] == "redis-fallback-replica.cache.svc.cluster.local:6381"
    assert services["redis-exporter"]["address"] == "redis-exporter.cache.svc.cluster.local:9121"
    stdout = _ok(runs["check-prod"])
    assert "address in the cluster" in stdout and "127.0.0.1" not in stdout
    assert "redis-fallback.cache.svc.cluster.local:6380" in stdout


def test_check_config_by_stack_name_from_another_directory(runs: Results) -> None:
    assert _table_rows(_ok(runs["check-stack"])) == _table_rows(_ok(runs["check-dev-file"]))


def test_there_are_examples() -> None:
    assert {example.name for example in EXAMPLES} >= {"minimal.yaml", "production.yaml", "nine-nodes.yaml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_check_config_on_every_example(example: Path, runs: Results) -> None:
    stdout = _ok(runs[f"example:{example.name}"])
    assert "valid" in stdout
    deployment = plan(load_spec_file(example))
    rows = _table_rows(stdout)
    assert list(rows) == [service.name for service in deployment.services]
    assert sum(1 for row in rows.values() if row[1] in {"master", "replica"}) == len(deployment.nodes)
    assert example.read_text(encoding="utf-8").startswith("#"), "each example says what it shows"


def test_example_shapes() -> None:
    by_name = {example.name: load_spec_file(example) for example in EXAMPLES}
    minimal = by_name["minimal.yaml"]
    assert minimal.topology.node_count == 6
    production = by_name["production.yaml"]
    assert production.environment == "prod"
    assert production.topology.replicas_per_master == 2
    assert (production.sentinels.count, production.sentinels.quorum) == (5, 3)
    assert (production.memory.container_memory_mb, production.memory.maxmemory_mb) == (2048, 1536)
    assert production.kubernetes.storage_class and production.kubernetes.topology_key
    assert [user.name for user in production.auth.acl_users] == ["reports"]
    assert production.auth.default_user == "disabled"
    assert production.auth.password is None, "no secret in an example"
    nine = by_name["nine-nodes.yaml"]
    assert (nine.topology.masters, nine.topology.replicas_per_master, nine.topology.node_count) == (3, 2, 9)


def test_env_prints_the_contract_and_hides_the_password(runs: Results) -> None:
    # REDIS_PASSWORD is set in this run's environment: without --show-secrets it still stays hidden.
    result = runs["env-with-password-set"]
    lines = _ok(result).splitlines()
    assert "REDIS_CLUSTER_ENABLED=true" in lines
    assert f"REDIS_CLUSTER_NODES={BRIEF_NODES}" in lines
    assert "REDIS_PASSWORD=********" in lines
    assert PASSWORD not in result.stdout + result.stderr


def test_env_show_secrets_prints_the_password(runs: Results) -> None:
    stdout = _ok(runs["env-show"])
    lines = stdout.splitlines()
    assert f"REDIS_PASSWORD={PASSWORD}" in lines
    assert f"REDIS_CLUSTER_NODES={BRIEF_NODES}" in lines
    assert "REDIS_PASSWORD=********" not in lines


def test_env_show_secrets_without_the_password_fails_clearly(runs: Results) -> None:
    result = runs["env-show-unset"]
    assert result.returncode == 2
    assert result.stdout == ""
    assert "REDIS_PASSWORD is not set; fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_show_secrets_finds_the_password_make_up_generated(runs: Results) -> None:
    """REDIS_PASSWORD unset: .cache-cluster/secrets/redis-password of the directory (or a parent) of `make up`."""
    stdout = _ok(runs["env-show-generated"])
    assert f"REDIS_PASSWORD={GENERATED_PASSWORD}" in stdout.splitlines()


def test_env_show_secrets_rejects_a_weak_password_without_printing_it(runs: Results) -> None:
    result = runs["env-show-bad"]
    assert result.returncode == 2
    assert result.stdout == ""
    assert "REDIS_PASSWORD" in result.stderr and "fix:" in result.stderr
    assert "short-secret-1" not in result.stderr
    assert "Traceback" not in result.stderr

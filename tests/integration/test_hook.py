"""The post-deploy hook against real redis-server processes: create, re-run, heal, refuse, wait, scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from cache_cluster.hook import Report, run_init, run_status, run_validate
from cache_cluster.hook.endpoints import AddressMap, HostPort, targets_from_nodes

from .conftest import Clusters, wait_until
from .harness import Deployment

pytestmark = pytest.mark.integration

CLI = Path(sys.executable).with_name("cache-cluster")


def node_table(deployment: Deployment) -> dict[str, tuple[str, int, str]]:
    """name -> (node id, config epoch, role), read straight from the servers."""
    table = {}
    for name in deployment.nodes:
        with deployment.client(name) as client:
            table[name] = _myself(client)
    return table


def _myself(client: redis.Redis) -> tuple[str, int, str]:
    raw = client.execute_command("CLUSTER MYID")
    info = client.info("replication")
    epoch = int(client.execute_command("CLUSTER INFO")["cluster_my_epoch"])
    return str(raw), epoch, str(info["role"])


def assert_healthy(report: Report) -> None:
    failed = [f"{c.name}: {c.detail}" for c in report.checks if c.status not in ("pass", "skip")]
    assert report.outcome == "healthy", (report.summary, report.problems, failed)
    assert not failed, failed



def write_spec(deployment: Deployment, path: Path) -> Path:
    path.write_text(yaml.safe_dump(deployment.spec.model_dump(mode="json", exclude_none=True)))
    return path


def run_cli(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_ADMIN_PASSWORD": password}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=90, check=False)


# ------------------------------------------------------------------------------------------------ create / re-run
@pytest.fixture(scope="module")
def formed(module_clusters: Clusters) -> tuple[Deployment, Report]:
    deployment = module_clusters.make()
    report = run_init(deployment.targets(), module_clusters.password, timeout=60)
    return deployment, report


def test_create_from_scratch_then_validate(formed: tuple[Deployment, Report], password: str) -> None:
    deployment, report = formed
    assert report.decision is not None and report.decision.kind == "create"
    assert_healthy(report)
    assert {check.name for check in report.checks} >= {
        "cluster-state", "slot-coverage", "shards", "env-contract", "cluster-write-read", "sentinels-agree",
        "fallback-writable", "fallback-replication", "sentinel-quorum", "server-config", "exporter",
    }
    roles = [role for _, _, role in node_table(deployment).values()]
    assert roles.count("master") == 3 and roles.count("slave") == 3
    # Settings lowered while forming are back to the rendered values.
    with deployment.client("redis-node-1") as client:
        assert client.config_get("cluster-node-timeout")["cluster-node-timeout"] == "1000"
        assert client.config_get("repl-diskless-sync-delay")["repl-diskless-sync-delay"] == "5"
    assert_healthy(run_validate(deployment.targets(), password, timeout=30))


def test_rerun_on_healthy_cluster_changes_nothing(formed: tuple[Deployment, Report], password: str) -> None:
    deployment, _ = formed
    before = node_table(deployment)
    started = time.monotonic()
    report = run_init(deployment.targets(), password, timeout=30)
    elapsed = time.monotonic() - started
    assert report.decision is not None and report.decision.kind == "nothing"
    assert report.actions == [] and not report.changed
    assert_healthy(report)
    assert node_table(deployment) == before
    print(f"\nre-run on a healthy cluster (with fallback tier and exporter checks): {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0


def test_status_reads_only(formed: tuple[Deployment, Report], password: str) -> None:
    deployment, _ = formed
    with deployment.client("redis-node-1") as client:
        commands_before = int(client.info("stats")["total_commands_processed"])
    report = run_status(deployment.targets(), password)
    assert report.outcome == "healthy", report.summary
    assert "cluster-write-read" not in {check.name for check in report.checks}
    assert "fallback-writable" not in {check.name for check in report.checks}
    assert report.to_dict()["nodes"][0]["role"] == "master"
    with deployment.client("redis-node-1") as client:
        assert int(client.info("stats")["total_commands_processed"]) > commands_before
        assert client.dbsize() == 0


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_init_json_and_no_password_anywhere(
    formed: tuple[Deployment, Report], password: str, tmp_path: Path
) -> None:
    deployment, _ = formed
    # The exporter's targets are Docker names the host cannot resolve; the library test covers the exporter.
    spec_file = tmp_path / "cluster.yaml"
    data = deployment.spec.model_dump(mode="json", exclude_none=True)
    data["exporter"]["enabled"] = False
    spec_file.write_text(yaml.safe_dump(data))
    runs = {
        "init-json": run_cli("init", str(spec_file), "--via", "published", "--json", password=password),
        "init-table": run_cli("init", str(spec_file), "--address-map", deployment.address_map_arg(),
                              password=password),
        "validate-json": run_cli("validate", str(spec_file), "--via", "published", "--json", password=password),
        "status-table": run_cli("status", str(spec_file), "--via", "published", password=password),
    }
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stdout[-3000:], run.stderr[-3000:])
        assert password not in run.stdout + run.stderr, name
    report = json.loads(runs["init-json"].stdout)
    assert report["schema_version"] == 1
    assert report["outcome"] == "healthy" and report["exit_code"] == 0
    assert report["decision"]["kind"] == "nothing"
    assert {node["address"] for node in report["nodes"]} == {
        f"{name}:{server.port}" for name, server in deployment.nodes.items()
    }
    assert all(check["status"] in ("pass", "skip") for check in report["checks"])
    assert "cluster nodes" in runs["init-table"].stdout and "validation" in runs["init-table"].stdout

    wrong_password = "wrong-password-0123456789"
    wrong = run_cli("init", str(spec_file), "--via", "published", "--timeout", "10", password=wrong_password)
    assert wrong.returncode == 2, (wrong.stdout, wrong.stderr)
    for name in deployment.nodes:
        assert name in wrong.stdout and "auth failed" in wrong.stdout
    assert wrong_password not in wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_wrong_password_names_each_node(formed: tuple[Deployment, Report]) -> None:
    deployment, _ = formed
    started = time.monotonic()
    report = run_init(deployment.targets(), "not-the-password-0123456789", timeout=20)
    assert report.outcome == "user-error" and report.exit_code == 2
    assert time.monotonic() - started < 10, "an auth failure must not wait for the deadline"
    reasons = {status.endpoint.address: status.reason for status in report.servers if not status.ready}
    assert {f"{name}:{server.port}" for name, server in deployment.nodes.items()} <= set(reasons)
    assert all(reason.startswith("auth failed") for reason in reasons.values())
    assert "not-the-password" not in report.to_json()


# ------------------------------------------------------------------------------------------------ heal
def _formed(clusters: Clusters, **kwargs: int) -> Deployment:
    deployment = clusters.make(**kwargs)
    assert_healthy(run_init(deployment.targets(), clusters.password, timeout=60))
    return deployment


def test_heal_after_replica_replaced(clusters: Clusters) -> None:
    deployment = _formed(clusters)
    table = node_table(deployment)
    replica = next(name for name, (_, _, role) in table.items() if role == "slave")
    old_id = table[replica][0]
    deployment.replace_node(replica)
    report = run_init(deployment.targets(), clusters.password, timeout=60)
    assert report.decision is not None and report.decision.kind == "heal", report.decision
    assert_healthy(report)
    assert any("forgot node " + old_id in action and "not a reset" in action for action in report.actions)
    for name in deployment.nodes:
        with deployment.client(name) as client:
            assert old_id not in client.execute_command("CLUSTER NODES")
    assert node_table(deployment)[replica][2] == "slave"


def test_heal_after_master_replaced(clusters: Clusters) -> None:
    deployment = _formed(clusters)
    table = node_table(deployment)
    master = "redis-node-1"
    old_id = table[master][0]
    server = deployment.nodes[master]
    server.stop()

    def promoted() -> bool:
        roles = [role for name, (_, _, role) in node_table_alive(deployment, skip=master).items()]
        return roles.count("master") == 3

    # Redis promotes the replica once the master is seen failing (node timeout 1 s in the test spec).
    wait_until(promoted, 30, "the replica of redis-node-1 to be promoted")
    deployment.replace_node(master)
    report = run_init(deployment.targets(), clusters.password, timeout=60)
    assert report.decision is not None and report.decision.kind == "heal", report.decision
    assert_healthy(report)
    assert any(old_id in action for action in report.actions)
    assert node_table(deployment)[master][2] == "slave"


def node_table_alive(deployment: Deployment, *, skip: str) -> dict[str, tuple[str, int, str]]:
    table = {}
    for name in deployment.nodes:
        if name != skip:
            with deployment.client(name) as client:
                table[name] = _myself(client)
    return table


# ------------------------------------------------------------------------------------------------ refuse
def test_refuse_lone_node_with_keys(clusters: Clusters, password: str) -> None:
    deployment = clusters.make(fallback=False)
    stray = "redis-node-5"
    with deployment.client(stray) as client:
        # Keys on a lone node that owns no slot: claim every slot, write, give the slots up again.
        client.execute_command("CLUSTER ADDSLOTSRANGE", 0, 16383)
        wait_until(lambda: client.execute_command("CLUSTER INFO")["cluster_state"] == "ok", 15, "slots served")
        client.set("precious", "data")
        client.execute_command("CLUSTER DELSLOTSRANGE", 0, 16383)
    report = run_init(deployment.targets(), password, timeout=30)
    assert report.outcome == "refused" and report.exit_code == 3
    assert report.decision is not None and stray in report.decision.findings[0].what
    assert report.decision.findings[0].fix
    assert not report.actions
    with deployment.client(stray) as client:
        assert client.dbsize() == 1
    for name in deployment.nodes:
        with deployment.client(name) as client:
            assert len(client.execute_command("CLUSTER NODES")) == 1, "refusal must change nothing"


def test_refuse_two_clusters(clusters: Clusters, password: str) -> None:
    first = clusters.make(replicas=0, fallback=False)
    second = clusters.make(replicas=0, fallback=False)
    for deployment in (first, second):
        assert_healthy(run_init(deployment.targets(), password, timeout=60))
    before = {**node_table(first), **{f"b-{k}": v for k, v in node_table(second).items()}}
    nodes = [(HostPort(name, server.port), None) for d in (first, second) for name, server in d.nodes.items()]
    mapping = AddressMap({**first.address_map, **second.address_map})
    targets = targets_from_nodes(nodes, masters=3, replicas_per_master=1, address_map=mapping)
    report = run_init(targets, password, timeout=30)
    assert report.outcome == "refused" and report.exit_code == 3
    assert report.decision is not None and "2 different clusters" in report.decision.summary
    after = {**node_table(first), **{f"b-{k}": v for k, v in node_table(second).items()}}
    assert after == before


# ------------------------------------------------------------------------------------------------ waiting
def test_node_that_never_comes_up(clusters: Clusters, password: str) -> None:
    deployment = clusters.make(fallback=False, start=False)
    missing = "redis-node-6"
    for name, server in deployment.nodes.items():
        if name != missing:
            server.start()
            deployment.wait(server)
    started = time.monotonic()
    report = run_init(deployment.targets(), password, timeout=1.5)
    assert time.monotonic() - started < 5
    assert report.outcome == "timeout" and report.exit_code == 4
    assert f"{missing}:{deployment.nodes[missing].port}" in report.summary
    assert "connection refused" in report.summary
    ready = [status for status in report.servers if status.ready]
    assert len(ready) == 5


# ------------------------------------------------------------------------------------------------ scale
@pytest.mark.parametrize(("masters", "replicas"), [(3, 2), (4, 2)], ids=["9-nodes", "12-nodes"])
def test_larger_topologies(clusters: Clusters, masters: int, replicas: int) -> None:
    deployment = clusters.make(masters=masters, replicas=replicas)
    report = run_init(deployment.targets(), clusters.password, timeout=60)
    assert report.decision is not None and report.decision.kind == "create"
    assert_healthy(report)
    nodes = report.to_dict()["nodes"]
    masters_seen = [node for node in nodes if node["role"] == "master"]
    assert len(masters_seen) == masters
    for master in masters_seen:
        assert sum(node["master"] == master["address"] for node in nodes) == replicas

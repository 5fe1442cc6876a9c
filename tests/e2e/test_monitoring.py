# mypy: disable-error-code="no-untyped-call"
"""End to end: the stack's Prometheus watching a running cluster through the exporter.

`make up` of tests/e2e/monitoring-stack.yaml (Compose project, network and volumes `cctest-mon`, ports 23001-23006,
bus 33001-33006, fallback 23380/23381, sentinels 24379-24381, exporter 23121, Prometheus 23090), then:
Prometheus reports every instance `redis_up 1`; every query of the rendered dashboard returns data from it; and
a drill: a stopped replica fires the replica-link alert (the spec sets every `for:` to 4 s and scrapes every
2 s), which clears once the replica is back. The module removes its leftovers first and ends with `make destroy`.
Every wait has a deadline and says what it waits for. Outside CI the tests skip without Docker.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from redis.cluster import RedisCluster

from cache_cluster.loader import load_spec_file
from cache_cluster.monitoring import dashboard_queries
from cache_cluster.plan import DeploymentPlan, plan
from cache_cluster.targets.compose_binary import compose_binary
from tests.conftest import require

from .waiting import log, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SPEC = "tests/e2e/monitoring-stack.yaml"
PASSWORD_FILE = ROOT / ".cache-cluster" / "secrets" / "redis-password"  # the application user's
MAKE_TIMEOUT = 600  # the first `make up` on a machine may install packages and build images
PROMETHEUS = "http://127.0.0.1:23090"
# Grafana's variables, as Grafana would fill them for this stack (2 s scrapes: 30 s holds many samples).
GRAFANA_VARIABLES = {"$cluster": "cctest-mon", "$__rate_interval": "30s", "$__range": "5m"}
INSTANCES = {
    "redis-node-1": "cluster-node",
    "redis-node-2": "cluster-node",
    "redis-node-3": "cluster-node",
    "redis-node-4": "cluster-node",
    "redis-node-5": "cluster-node",
    "redis-node-6": "cluster-node",
    "redis-fallback": "fallback-primary",
    "redis-fallback-replica": "fallback-replica",
    "redis-sentinel-1": "sentinel",
    "redis-sentinel-2": "sentinel",
    "redis-sentinel-3": "sentinel",
}


def run(args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    # `make` reads the secrets from .cache-cluster/secrets, as for a person: none from this process.
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, check=False)


def make(target: str, *, timeout: float = MAKE_TIMEOUT) -> subprocess.CompletedProcess[str]:
    log(f"make {target} SPEC={SPEC} (deadline {timeout:.0f}s)")
    return run(["make", "--no-print-directory", target, f"SPEC={SPEC}"], timeout=timeout)


def docker(*args: str) -> str:
    result = run(["docker", *args], timeout=60)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


def prometheus(path: str, **params: str) -> Any:
    url = f"{PROMETHEUS}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        document = json.load(response)
    assert document["status"] == "success", document
    return document["data"]


def query(expr: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = prometheus("/api/v1/query", query=expr)["result"]
    return result


def active_alerts() -> list[tuple[str, str, str]]:
    """(alertname, instance, state) of every pending or firing alert."""
    alerts = prometheus("/api/v1/alerts")["alerts"]
    return sorted((a["labels"]["alertname"], a["labels"].get("instance", ""), a["state"]) for a in alerts)


@dataclass
class Stack:
    deployment: DeploymentPlan
    password: str
    up_output: str

    def container(self, service: str) -> str:
        project = self.deployment.spec.name
        ids = docker(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}",
            "--filter", f"label=com.docker.compose.service={service}",
        ).split()
        assert len(ids) == 1, f"expected one container for {service}, found {ids}"
        return ids[0]


def _remove_leftovers(project: str, compose: str) -> None:
    log(f"removing leftovers of Compose project {project}")
    result = run([compose, "-p", project, "down", "--volumes", "--timeout", "5"], timeout=120)
    assert result.returncode == 0, f"could not remove the leftovers of {project}: {result.stderr}"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    started = run(["bash", "scripts/start-dockerd.sh"], timeout=180)
    require(started.returncode == 0, f"no Docker engine: scripts/start-dockerd.sh failed: {started.stderr}")
    compose = compose_binary()
    require(compose is not None, "Docker Compose v2 not found (make venv installs it)")
    assert compose is not None
    deployment = plan(load_spec_file(ROOT / SPEC))
    project = deployment.spec.name
    _remove_leftovers(project, compose)
    try:
        up = make("up")
        output = f"exit {up.returncode}\n{up.stdout}\n{up.stderr}"
        assert up.returncode == 0, f"make up SPEC={SPEC} failed: {output}"
        yield Stack(deployment, PASSWORD_FILE.read_text(encoding="utf-8").strip(), output)
    finally:
        destroyed = make("destroy", timeout=180)
        left = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").split()
        assert destroyed.returncode == 0, f"make destroy failed:\n{destroyed.stdout}\n{destroyed.stderr}"
        assert not left, f"make destroy left containers {left}"


def test_make_up_prints_prometheus_and_the_dashboard(stack: Stack) -> None:
    dashboard = ".cache-cluster/cctest-mon/monitoring/dashboard.json"
    assert f"Prometheus: {PROMETHEUS}  (alerts: {PROMETHEUS}/alerts, targets: {PROMETHEUS}/targets)" in stack.up_output
    assert f"Grafana dashboard to import: {dashboard}" in stack.up_output
    assert json.loads((ROOT / dashboard).read_text(encoding="utf-8"))["uid"] == "cache-cctest-mon"


def test_prometheus_sees_every_instance_up_through_the_exporter(stack: Stack) -> None:
    def every_instance_up() -> tuple[bool, str]:
        seen = {
            sample["metric"]["instance"]: (sample["metric"]["cache_role"], sample["value"][1])
            for sample in query('redis_up{cache_cluster="cctest-mon"}')
        }
        return seen == {name: (role, "1") for name, role in INSTANCES.items()}, str(seen)

    wait_for("redis_up 1 for all 11 instances in Prometheus", every_instance_up, deadline_s=60)
    (exporter,) = query('up{job="cctest-mon-exporter"}')
    assert exporter["metric"]["instance"] == "redis-exporter" and exporter["value"][1] == "1"
    rules = [rule for group in prometheus("/api/v1/rules")["groups"] for rule in group["rules"]]
    assert len(rules) == 14
    assert {rule["health"] for rule in rules} == {"ok"}


def _traffic(stack: Stack) -> None:
    """Reads that hit and miss on every master, so the hit-ratio panel has lookups to divide."""
    spec = stack.deployment.spec

    def published(address: tuple[str, int]) -> tuple[str, int]:
        return "127.0.0.1", address[1]

    client = RedisCluster(
        host="127.0.0.1", port=spec.topology.base_port, password=stack.password, address_remap=published,
        socket_timeout=5,
    )
    try:
        for index in range(200):
            client.set(f"monitoring:{index}", index)
            client.get(f"monitoring:{index}")
            client.get(f"monitoring:missing:{index}")
    finally:
        client.close()


def test_every_dashboard_query_returns_data(stack: Stack) -> None:
    _traffic(stack)
    dashboard = json.loads((ROOT / ".cache-cluster/cctest-mon/monitoring/dashboard.json").read_text(encoding="utf-8"))
    queries = dashboard_queries(dashboard)
    assert len(queries) == 20

    def expanded(expr: str) -> str:
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        return expr

    def all_have_data() -> tuple[bool, str]:
        # A number, not only NaN (a ratio over an instance without reads): at least one sample must be finite.
        empty = [
            expr for expr in queries
            if not any(math.isfinite(float(sample["value"][1])) for sample in query(expanded(expr)))
        ]
        return not empty, f"no finite sample for: {empty}"

    wait_for(f"data for all {len(queries)} dashboard queries", all_have_data, deadline_s=60)


def test_a_stopped_replica_fires_the_replica_link_alert_which_clears_when_it_is_back(stack: Stack) -> None:
    def quiet() -> tuple[bool, str]:
        alerts = active_alerts()
        return not alerts, str(alerts)

    wait_for("no active alert on the healthy stack", quiet, deadline_s=60)
    replica = min(
        sample["metric"]["instance"]
        for sample in query('redis_instance_info{cache_cluster="cctest-mon",cache_role="cluster-node",role="slave"}')
    )
    master = master_of(stack, replica)
    container = stack.container(replica)
    log(f"stopping {replica} (replica of {master}, container {container[:12]})")
    docker("stop", "--time", "2", container)
    try:

        def link_alert_firing() -> tuple[bool, str]:
            alerts = active_alerts()
            return ("RedisReplicaLinkDown", master, "firing") in alerts, str(alerts)

        fired = wait_for(f"RedisReplicaLinkDown to fire on {master}", link_alert_firing, deadline_s=60)
    finally:
        log(f"starting {replica} again")
        docker("start", container)

    def link_alert_gone() -> tuple[bool, str]:
        alerts = active_alerts()
        return not any(name == "RedisReplicaLinkDown" for name, _, _ in alerts), str(alerts)

    cleared = wait_for("RedisReplicaLinkDown to clear", link_alert_gone, deadline_s=90)
    print(f"\nreplica-link drill: alert fired {fired:.1f}s after the stop, cleared {cleared:.1f}s after the start")
    wait_for("no active alert after the drill", quiet, deadline_s=90)


def master_of(stack: Stack, replica: str) -> str:
    """The announced hostname of `replica`'s master, from the replica's CLUSTER NODES."""
    port = dict(stack.deployment.spec.topology.node_names_and_ports())[replica]
    client = Redis(host="127.0.0.1", port=port, password=stack.password, socket_timeout=5, decode_responses=True)
    try:
        lines = [line.split() for line in str(client.execute_command("CLUSTER", "NODES")).splitlines() if line]
    finally:
        client.close()
    (myself,) = [line for line in lines if "myself" in line[2]]
    (master,) = [line for line in lines if line[0] == myself[3]]
    # Address field: ip:port@bus,hostname
    return str(master[1].split(",", 1)[1])

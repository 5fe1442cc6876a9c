"""Failure domains from the Kubernetes API documents (PodList, Node), and the choice between zones and nodes.

The documents are literal, shaped as the API returns them; `fetch` stands in for the HTTP GET only (no API
server can run here), so what is tested is everything the hook does with the answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cache_cluster.hook.kubernetes_domains import choose_domains, discover, discover_in_cluster, pod_nodes
from cache_cluster.spec import ClusterSpec
from tests.unit.clirun import run_cli

SPEC = ClusterSpec.model_validate({"target": "kubernetes", "environment": "prod", "kubernetes": {"namespace": "cache"}})
PODS_PATH = (
    "/api/v1/namespaces/cache/pods?labelSelector=app.kubernetes.io%2Finstance%3Dcache-cluster%2C"
    "app.kubernetes.io%2Fcomponent%3Dcluster-node"
)


def pod(name: str, node: str | None) -> dict[str, Any]:
    spec = {"nodeName": node} if node else {}
    return {"metadata": {"name": name, "namespace": "cache"}, "spec": spec}


def node(name: str, zone: str | None) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name} | ({"topology.kubernetes.io/zone": zone} if zone else {})
    return {"kind": "Node", "metadata": {"name": name, "labels": labels}}


def api(pods: list[dict[str, Any]], nodes: dict[str, dict[str, Any]] | None) -> Any:
    calls: list[str] = []

    def fetch(path: str) -> Any:
        calls.append(path)
        if path == PODS_PATH:
            return {"kind": "PodList", "items": pods}
        if nodes is None:
            raise OSError("HTTP Error 403: Forbidden")  # no ClusterRole on nodes
        return nodes[path.removeprefix("/api/v1/nodes/")]

    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


# Three Kubernetes nodes in three zones, two pods on each: master N and replica N+3 share a node.
PAIRED = [pod(f"redis-node-{i}", f"worker-{(i - 1) % 3 + 1}") for i in range(1, 7)]
ZONES = {f"worker-{i}": node(f"worker-{i}", f"zone-{'abc'[i - 1]}") for i in range(1, 4)}


def test_pod_nodes_skips_pods_not_scheduled_yet() -> None:
    found = pod_nodes({"items": [pod("redis-node-1", "worker-1"), pod("redis-node-2", None)]})
    assert found == {"redis-node-1": "worker-1"}


def test_zones_are_the_domains_when_every_zone_is_known() -> None:
    fetch = api(PAIRED, ZONES)
    found = discover(SPEC, fetch)
    assert found.by_pod == {
        "redis-node-1": "zone-a", "redis-node-2": "zone-b", "redis-node-3": "zone-c",
        "redis-node-4": "zone-a", "redis-node-5": "zone-b", "redis-node-6": "zone-c",
    }  # fmt: skip
    assert found.note == "failure domains: zones of 6 pods (3 zones)"
    assert fetch.calls[0] == PODS_PATH and sorted(fetch.calls[1:]) == [f"/api/v1/nodes/worker-{i}" for i in (1, 2, 3)]


def test_without_access_to_nodes_the_kubernetes_nodes_are_the_domains() -> None:
    found = discover(SPEC, api(PAIRED, None))
    assert found.by_pod["redis-node-1"] == "worker-1" and found.by_pod["redis-node-4"] == "worker-1"
    assert found.note == "failure domains: Kubernetes nodes of 6 pods (3 nodes)"


def test_one_zone_for_everything_falls_back_to_nodes() -> None:
    same_zone = {name: node(name, "zone-a") for name in ZONES}
    assert discover(SPEC, api(PAIRED, same_zone)).by_pod["redis-node-2"] == "worker-2"


def test_zones_that_cannot_separate_every_pair_fall_back_to_nodes() -> None:
    # Zone a holds four pods: some replica must share zone a with its master; nodes still separate them.
    nodes_of = {f"redis-node-{i}": f"worker-{i}" for i in range(1, 7)}
    zone_of: dict[str, str | None] = {f"worker-{i}": "zone-a" for i in range(1, 5)} | {
        "worker-5": "zone-b",
        "worker-6": "zone-b",
    }
    masters, replicas = list(nodes_of)[:3], list(nodes_of)[3:]
    by_pod, note = choose_domains(nodes_of, zone_of, masters, replicas)
    assert by_pod == nodes_of and note.startswith("Kubernetes nodes")


def test_an_unreadable_pod_list_leaves_the_domains_unknown() -> None:
    def fetch(path: str) -> Any:
        raise OSError("HTTP Error 403: Forbidden")

    found = discover(SPEC, fetch)
    assert found.by_pod == {}
    assert found.note == "failure domains unknown: listing pods failed (HTTP Error 403: Forbidden)"


def test_outside_a_pod_the_hook_goes_on_without_domains(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    found = discover_in_cluster(SPEC)
    assert found.by_pod == {}
    assert found.note == "failure domains unknown: not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset)"


def test_the_cli_refuses_failure_domains_with_a_node_list() -> None:
    nodes = ",".join(f"10.0.0.{i}:7001" for i in range(1, 7))
    done = run_cli("status", "--nodes", nodes, "--failure-domains", "kubernetes", env={"REDIS_PASSWORD": "x" * 20})
    assert done.returncode == 2
    assert "--failure-domains reads the domains of the spec's nodes" in done.stderr

# mypy: disable-error-code="no-untyped-call"
"""End to end: the pod templates `cache-cluster render kubernetes` writes, run on the real Docker engine.

tests/e2e/kube_pods.py turns each pod into a container as its docstring says (image, command, env from the
Secret and the downward API, ConfigMaps as files, a volume per PVC, the pod's DNS names as network aliases);
probes run with `docker exec`. The hook Job's container runs the same way, from the hook image
($CACHE_CLUSTER_HOOK_IMAGE, else scripts/images.env) with this checkout's package mounted over the image's
copy, so the test runs the code under test even when the image was built from another checkout.

Proven here: the Job forms the cluster; a node's readiness turns true only after formation; a replaced pod
with an empty volume is healed by the Job's re-run; after every pod is recreated with a new IP (volumes kept)
the cluster comes back by itself with all 10,000 keys. Not proven (only a real cluster shows it): scheduling
and anti-affinity, PodDisruptionBudgets, NetworkPolicy enforcement, Service virtual IPs.

Names: containers, volumes and the network start with `cctest-k8s` (subnet 10.213.77.0/24); cluster nodes
are published on 127.0.0.1:23001-23006 for the host's client. Leftovers are removed first and at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.cluster import RedisCluster

from tests.conftest import require
from tests.e2e.drill_keys import DRILL_KEYS, read_drill_values, write_drill_keys
from tests.e2e.kube_pods import Pod, PodsOnDocker, deployment_pods, docker

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
IMAGES_ENV = ROOT / "scripts" / "images.env"
PREFIX = "cctest-k8s"
NAMESPACE = "cctest-k8s"
SUBNET = "10.213.77"  # pods get .10-.29 at first, .30-.49 after the full restart: every IP changes
HOST_PORT_BASE = 23001
PASSWORD = "Kubernetes-e2e-password-0123456789"
SECRET = "cctest-k8s-auth"
HOOK_PACKAGE = "/usr/lib/python3/dist-packages/cache_cluster"
JOB_TIMEOUT = 240


def log(message: str) -> None:
    print(f"[k8s-e2e {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_for(what: str, probe: Callable[[], tuple[bool, str]], *, deadline_s: float, every_s: float = 1.0) -> float:
    """Wait until `probe` says yes; fail with its last word after `deadline_s`. Returns the seconds waited."""
    started = time.monotonic()
    log(f"waiting up to {deadline_s:.0f}s for {what}")
    detail = ""
    while time.monotonic() - started < deadline_s:
        ok, detail = probe()
        if ok:
            waited = time.monotonic() - started
            log(f"{what}: after {waited:.1f}s")
            return waited
        time.sleep(every_s)
    pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}: {detail}", pytrace=False)


def images() -> dict[str, str]:
    found = {}
    if IMAGES_ENV.exists():
        for line in IMAGES_ENV.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.startswith("CACHE_CLUSTER_") and value:
                found[key] = value
    found |= {key: value for key, value in os.environ.items() if key.startswith("CACHE_CLUSTER_") and value}
    return found


@dataclass
class Cluster:
    pods: PodsOnDocker
    nodes: list[Pod]
    others: list[Pod]
    job: Pod
    spec: dict[str, Any]

    def node(self, name: str) -> Pod:
        return next(pod for pod in self.nodes if pod.name == name)

    def client(self) -> RedisCluster:
        return RedisCluster(
            host="127.0.0.1", port=HOST_PORT_BASE, password=PASSWORD, address_remap=self.pods.remap(self.nodes),
            decode_responses=True, socket_timeout=5,
        )

    def start_all(self, first_ip: int) -> None:
        # Sentinels resolve the fallback primary's Service name at start; on Kubernetes a Service name always
        # resolves, here only once its container runs: start the fallback servers first.
        ordered = sorted(self.others, key=lambda pod: "fallback" not in pod.labels["app.kubernetes.io/component"])
        for offset, pod in enumerate([*ordered, *self.nodes]):
            self.pods.start(pod, f"{SUBNET}.{first_ip + offset}")

    def run_job(self) -> subprocess.CompletedProcess[str]:
        log("running the hook Job's container")
        started = time.monotonic()
        result = self.pods.run_to_completion(self.job, timeout=JOB_TIMEOUT)
        log(f"the Job exited {result.returncode} after {time.monotonic() - started:.1f}s")
        return result

    def readiness(self) -> dict[str, bool]:
        return {pod.name: self.pods.probe(pod, "readinessProbe") for pod in self.nodes}

    def all_ready(self) -> tuple[bool, str]:
        found = self.readiness()
        return all(found.values()), f"not ready: {sorted(name for name, ok in found.items() if not ok)}"

    def started(self, pods: list[Pod]) -> Callable[[], tuple[bool, str]]:
        def probe() -> tuple[bool, str]:
            waiting = [pod.name for pod in pods if not self.pods.probe(pod, "startupProbe")]
            return not waiting, f"startup probe failing on {waiting}"

        return probe


def render(tmp: Path, found_images: dict[str, str]) -> list[dict[str, Any]]:
    spec = {
        "name": "cctest-k8s",
        "environment": "dev",
        "target": "kubernetes",
        "images": {
            "redis": found_images.get("CACHE_CLUSTER_REDIS_IMAGE", "redis:7.2.5"),
            "exporter": found_images.get("CACHE_CLUSTER_EXPORTER_IMAGE", "oliver006/redis_exporter:v1.62.0"),
            "hook": found_images.get("CACHE_CLUSTER_HOOK_IMAGE", "cache-cluster/hook:0.1.0"),
        },
        "memory": {"container_memory_mb": 128, "maxmemory_mb": 64},
        "kubernetes": {"namespace": NAMESPACE},
    }
    spec_file = tmp / "cluster.yaml"
    spec_file.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp / "manifests"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cache-cluster")), "render", "kubernetes", str(spec_file),
         "--output", str(out), "--existing-secret", SECRET],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    return [yaml.safe_load((out / name).read_text()) for name in kustomization["resources"]]


def secret_files(tmp: Path) -> dict[str, str]:
    """The Secret's data as a user fills it: the files `cache-cluster render secrets` writes (the application's
    password given in the environment, the others generated), read back by file name (= the Secret's key)."""
    directory = tmp / "secrets"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cache-cluster")), "render", "secrets", str(tmp / "cluster.yaml"),
         "--dir", str(directory)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "REDIS_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    files = {path.name: path.read_text(encoding="utf-8") for path in directory.iterdir()}
    assert files["redis-password"] == PASSWORD
    return files


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    found_images = local_images()
    tmp = tmp_path_factory.mktemp("k8s")
    manifests = render(tmp, found_images)
    pods = PodsOnDocker(
        prefix=PREFIX,
        network=PREFIX,
        namespace=NAMESPACE,
        cluster_domain="cluster.local",
        manifests=manifests,
        secrets={SECRET: secret_files(tmp)},
        files_dir=tmp / "files",
    )
    nodes, others, job_pod = deployment_pods(manifests)
    pods.published = {pod.name: (7001, HOST_PORT_BASE + index) for index, pod in enumerate(nodes)}
    pods.extra_mounts = {job_pod.name: [f"{ROOT / 'components' / 'cache_cluster'}:{HOOK_PACKAGE}:ro"]}
    found = Cluster(pods, nodes, others, job_pod, {})
    pods.clean()
    docker("network", "create", "--subnet", f"{SUBNET}.0/24", PREFIX)
    try:
        found.start_all(first_ip=10)
        wait_for("every pod's startup probe", found.started(nodes + others[:-1]), deadline_s=60)
        yield found
    finally:
        log("removing the pods' containers, volumes and network")
        pods.clean()


def local_images() -> dict[str, str]:
    """The images the pods run (images()), after checking the engine answers and has each of them."""
    require(_has_docker(), "no Docker engine (scripts/start-dockerd.sh starts one)")
    found_images = images()
    for key in ("CACHE_CLUSTER_REDIS_IMAGE", "CACHE_CLUSTER_EXPORTER_IMAGE", "CACHE_CLUSTER_HOOK_IMAGE"):
        image = found_images.get(key)
        present = image is not None and docker("image", "inspect", image, check=False).returncode == 0
        require(present, f"{key} ({image}) is not a local image; run scripts/build-images.sh")
    return found_images


def _has_docker() -> bool:
    try:
        return subprocess.run(["docker", "version"], capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def node_cli(cluster: Cluster, pod: str, command: str) -> subprocess.CompletedProcess[str]:
    """redis-cli in a node's container as the admin user, its password on stdin from the pod's secret file."""
    script = f"redis-cli --no-auth-warning --user admin --askpass -p 7001 {command} < /run/secrets/redis-admin-password"
    return docker("exec", cluster.pods.container_name(pod), "sh", "-c", script)


def test_nodes_are_not_ready_before_the_cluster_is_formed(cluster: Cluster) -> None:
    assert cluster.readiness() == dict.fromkeys((pod.name for pod in cluster.nodes), False)
    # Liveness is a ping: a fresh node is alive (not restarted) while it waits for the Job.
    assert all(cluster.pods.probe(pod, "livenessProbe") for pod in cluster.nodes)
    info = node_cli(cluster, "redis-node-1", "cluster info")
    assert "cluster_state:fail" in info.stdout and "cluster_known_nodes:1" in info.stdout


def test_the_job_forms_the_cluster_and_readiness_follows(cluster: Cluster) -> None:
    result = cluster.run_job()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert PASSWORD not in result.stdout + result.stderr
    # No API server here: the Job says it goes on without failure domains (a real cluster gives them).
    assert "failure domains unknown: not in a Kubernetes pod" in result.stderr
    wait_for("every node ready", cluster.all_ready, deadline_s=30)
    nodes = node_cli(cluster, "redis-node-1", "cluster nodes")
    announced = sorted(line.split()[1].split(",")[1] for line in nodes.stdout.splitlines() if line.strip())
    assert announced == sorted(cluster.pods.fqdn(pod) for pod in cluster.nodes)


def test_no_pod_carries_a_password_in_its_environment(cluster: Cluster) -> None:
    secrets = [value for value in cluster.pods.secrets[SECRET].values() if len(value) >= 16]
    assert len(secrets) == 6  # the application's, admin, exporter, replication, sentinel, the exporter's map
    names = [cluster.pods.container_name(pod.name) for pod in [*cluster.nodes, *cluster.others]]
    inspected = docker("inspect", "--format", "{{json .Config.Env}}", *names).stdout
    assert len(inspected.splitlines()) == len(names) == 12
    assert [value for value in secrets if value in inspected] == []


def test_a_replaced_pod_with_an_empty_volume_is_healed_by_the_jobs_rerun(cluster: Cluster) -> None:
    replaced = cluster.node("redis-node-6")
    old_id = node_cli(cluster, replaced.name, "cluster myid")
    log("replacing redis-node-6 with an empty volume")
    cluster.pods.remove(replaced.name, volumes=True)
    cluster.pods.start(replaced, f"{SUBNET}.29")
    wait_for("the new pod's startup probe", cluster.started([replaced]), deadline_s=30)
    assert cluster.pods.probe(replaced, "readinessProbe") is False  # alone: not part of a cluster yet
    result = cluster.run_job()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wait_for("every node ready after the heal", cluster.all_ready, deadline_s=30)
    new_id = node_cli(cluster, replaced.name, "cluster myid")
    assert new_id.stdout.strip() != old_id.stdout.strip()
    nodes = node_cli(cluster, "redis-node-1", "cluster nodes")
    lines = [line for line in nodes.stdout.splitlines() if line.strip()]
    assert len(lines) == 6 and not any("fail" in line.split()[2] for line in lines)
    assert old_id.stdout.strip() not in nodes.stdout  # the dead node ID was forgotten


def test_a_full_restart_with_new_ips_recovers_by_itself_with_every_key(cluster: Cluster) -> None:
    client = cluster.client()
    try:
        log(f"writing {DRILL_KEYS} keys")
        write_drill_keys(client)
    finally:
        client.close()
    ips_before = {pod.name: cluster.pods.ip(pod.name) for pod in cluster.nodes}
    ids_before = {
        pod.name: node_cli(cluster, pod.name, "cluster myid").stdout.strip()
        for pod in cluster.nodes
    }  # fmt: skip
    log("deleting every pod (volumes kept), then recreating them with new IPs")
    cluster.pods.delete([*cluster.nodes, *cluster.others])
    cluster.start_all(first_ip=30)
    ips_after = {pod.name: cluster.pods.ip(pod.name) for pod in cluster.nodes}
    assert not set(ips_before.values()) & set(ips_after.values()), (ips_before, ips_after)
    wait_for("every node ready again, without the Job", cluster.all_ready, deadline_s=90)
    ids_after = {
        pod.name: node_cli(cluster, pod.name, "cluster myid").stdout.strip()
        for pod in cluster.nodes
    }  # fmt: skip
    assert ids_after == ids_before  # nodes.conf on the volume: the same nodes, not a new cluster
    client = cluster.client()
    try:
        values = read_drill_values(client)
    finally:
        client.close()
    missing = [index for index, value in enumerate(values) if value != str(index)]
    assert missing == [], f"{len(missing)} of {DRILL_KEYS} keys lost, e.g. {missing[:5]}"

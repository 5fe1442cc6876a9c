# mypy: disable-error-code="no-untyped-call"
"""End to end with tls.enabled on the Kubernetes rendering: the pod templates `cache-cluster render kubernetes`
writes for a TLS spec, run on the real Docker engine as tests/e2e/kube_pods.py does it (see
tests/e2e/test_kubernetes_pods.py). The Secret is what `cache-cluster render secrets` writes for it: the passwords
and the TLS files (redis-tls-ca, redis-tls-server-*, redis-tls-client-*) under their key names.

Proven here: every pod's startup probe passes over `redis-cli --tls`; the hook Job dials with the client files and
forms the cluster; readiness follows; a client on the host writes and reads through RedisCluster over TLS; a
plain-text client is refused. Names: containers, volumes and the network start with `cctest-k8stls` (subnet
10.213.78.0/24); cluster nodes are published on 127.0.0.1:14201-14206. Leftovers are removed first and at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis.cluster import RedisCluster

from cache_cluster.hook.connect import tls_arguments
from cache_cluster.tls import ClientFiles
from tests.e2e.kube_pods import Pod, PodsOnDocker, deployment_pods, docker
from tests.e2e.test_kubernetes_pods import HOOK_PACKAGE, JOB_TIMEOUT, local_images, log, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("cache-cluster"))
PREFIX = "cctest-k8stls"
NAMESPACE = "cctest-k8stls"
SUBNET = "10.213.78"
HOST_PORT_BASE = 14201
PASSWORD = "Kubernetes-tls-e2e-password-0123456789"
SECRET = "cctest-k8stls-auth"


@dataclass
class TlsPods:
    pods: PodsOnDocker
    nodes: list[Pod]
    others: list[Pod]
    job: Pod
    tls_dir: Path

    @property
    def files(self) -> ClientFiles:
        return ClientFiles(
            ca=str(self.tls_dir / "ca.crt"), cert=str(self.tls_dir / "client.crt"), key=str(self.tls_dir / "client.key")
        )


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def tls_pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPods]:
    found_images = local_images()
    tmp = tmp_path_factory.mktemp("k8stls")
    spec: dict[str, Any] = {
        "name": PREFIX,
        "environment": "dev",
        "target": "kubernetes",
        "images": {
            "redis": found_images["CACHE_CLUSTER_REDIS_IMAGE"],
            "exporter": found_images["CACHE_CLUSTER_EXPORTER_IMAGE"],
            "hook": found_images["CACHE_CLUSTER_HOOK_IMAGE"],
        },
        "memory": {"container_memory_mb": 128, "maxmemory_mb": 64},
        "kubernetes": {"namespace": NAMESPACE},
        "tls": {"enabled": True},
    }
    spec_file = tmp / "cluster.yaml"
    spec_file.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp / "manifests"
    _cli("render", "kubernetes", str(spec_file), "--output", str(out), "--existing-secret", SECRET)
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    manifests = [yaml.safe_load((out / name).read_text()) for name in kustomization["resources"]]
    secrets_dir, tls_dir = tmp / "secrets", tmp / "tls"
    _cli("render", "secrets", str(spec_file), "--dir", str(secrets_dir), "--tls-dir", str(tls_dir),
         env={**os.environ, "REDIS_PASSWORD": PASSWORD})
    secret = {path.name: path.read_text(encoding="utf-8") for path in secrets_dir.iterdir()}
    assert sorted(key for key in secret if key.startswith("redis-tls-")) == [
        "redis-tls-ca", "redis-tls-client-cert", "redis-tls-client-key", "redis-tls-server-cert",
        "redis-tls-server-key",
    ]
    pods = PodsOnDocker(
        prefix=PREFIX,
        network=PREFIX,
        namespace=NAMESPACE,
        cluster_domain="cluster.local",
        manifests=manifests,
        secrets={SECRET: secret},
        files_dir=tmp / "files",
    )
    nodes, others, job_pod = deployment_pods(manifests)
    pods.published = {pod.name: (7001, HOST_PORT_BASE + index) for index, pod in enumerate(nodes)}
    pods.extra_mounts = {job_pod.name: [f"{ROOT / 'components' / 'cache_cluster'}:{HOOK_PACKAGE}:ro"]}
    found = TlsPods(pods, nodes, others, job_pod, tls_dir)
    pods.clean()
    docker("network", "create", "--subnet", f"{SUBNET}.0/24", PREFIX)
    try:
        ordered = sorted(others, key=lambda pod: "fallback" not in pod.labels["app.kubernetes.io/component"])
        for offset, pod in enumerate([*ordered, *nodes]):
            pods.start(pod, f"{SUBNET}.{10 + offset}")

        def started() -> tuple[bool, str]:
            waiting = [pod.name for pod in nodes + others[:-1] if not pods.probe(pod, "startupProbe")]
            return not waiting, f"startup probe (redis-cli --tls) failing on {waiting}"

        wait_for("every pod's startup probe over TLS", started, deadline_s=60)
        yield found
    finally:
        log("removing the pods' containers, volumes and network")
        pods.clean()


def test_the_job_forms_the_cluster_over_tls_and_clients_need_tls(tls_pods: TlsPods) -> None:
    log("running the hook Job's container")
    result = tls_pods.pods.run_to_completion(tls_pods.job, timeout=JOB_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    def ready() -> tuple[bool, str]:
        found = {pod.name: tls_pods.pods.probe(pod, "readinessProbe") for pod in tls_pods.nodes}
        return all(found.values()), f"not ready: {sorted(name for name, ok in found.items() if not ok)}"

    wait_for("every node ready (cluster info over TLS)", ready, deadline_s=30)
    client = RedisCluster(
        host="127.0.0.1", port=HOST_PORT_BASE, password=PASSWORD, address_remap=tls_pods.pods.remap(tls_pods.nodes),
        decode_responses=True, socket_timeout=5, **tls_arguments(tls_pods.files),
    )  # fmt: skip
    try:
        for index in range(30):
            client.set(f"k8s-tls:{index}", str(index))
        assert [client.get(f"k8s-tls:{index}") for index in range(30)] == [str(index) for index in range(30)]
    finally:
        client.close()
    plain = redis.Redis(host="127.0.0.1", port=HOST_PORT_BASE, password=PASSWORD, socket_timeout=3)
    with pytest.raises(redis.ConnectionError):
        plain.ping()

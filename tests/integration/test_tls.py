"""tls.enabled on real servers: cluster nodes, the fallback pair, sentinels and the exporter run from the rendered
configs with certificates from `cache-cluster render tls-certs`; the hook (the real CLI) forms and validates the
cluster over TLS; the plain-text port is closed and a client without the deployment's certificate is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from cache_cluster import acl
from cache_cluster.drills.cluster import Cluster
from cache_cluster.drills.measure import summarize
from cache_cluster.drills.writer import ShardWriter, missing_keys
from cache_cluster.environment import TLS_ENV, TLS_STATE_FILES, secret_file_name
from cache_cluster.hook.connect import tls_arguments
from cache_cluster.hook.validate import scrape
from cache_cluster.tls import ClientFiles

from .harness import Deployment, TierPorts, free_block, make_spec, new_passwords

CLI = Path(sys.executable).with_name("cache-cluster")


def run_cli(*args: str, password: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_ADMIN_PASSWORD": password}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=90,
                          check=False)


@pytest.fixture(scope="module")
def tls_deployment(binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("tls")
    spec = make_spec(base_port=free_block(6, bus=True), tier=TierPorts.allocate(), tls={"enabled": True})
    spec_file = root / "cluster.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True)))
    # The CLI makes the files into its default directory (.cache-cluster/tls under the working directory).
    made = run_cli("render", "tls-certs", str(spec_file), password="", cwd=root)
    assert made.returncode == 0, made.stderr
    state = root / ".cache-cluster" / "tls"
    assert sorted(path.name for path in state.iterdir()) == [
        "ca.crt", "ca.key", "client.crt", "client.key", "server.crt", "server.key"
    ]
    assert {oct(path.stat().st_mode & 0o777) for path in state.iterdir()} == {"0o600"}
    # As the containers see them: /run/secrets/redis-tls-ca, ... (the harness points the configs here).
    mounted = root / "secrets"
    mounted.mkdir()
    for kind, name in TLS_STATE_FILES.items():
        shutil.copy(state / name, mounted / secret_file_name(TLS_ENV[kind]))
    deployment = Deployment(root / "servers", spec, new_passwords(), tls_dir=mounted)
    try:
        yield deployment.start()
    finally:
        deployment.stop()


def test_the_hook_forms_and_validates_the_cluster_over_tls(tls_deployment: Deployment) -> None:
    deployment = tls_deployment
    root = deployment.root.parent
    result = run_cli(
        "init", str(root / "cluster.yaml"), "--address-map", deployment.address_map_arg(), "--timeout", "60",
        "--json", password=deployment.password, cwd=root,  # TLS files: the spec's default directory
    )
    report = json.loads(result.stdout)
    failed = {check["name"] for check in report["checks"] if check["status"] == "fail"}
    # The exporter on this host cannot resolve the announced names the CLI gives it (checked below instead).
    assert failed == {"exporter"}, result.stdout
    passed = {check["name"] for check in report["checks"] if check["status"] == "pass"}
    # Writes through RedisCluster over TLS, replicas linked over TLS, sentinels agreeing over TLS.
    assert {"cluster-write-read", "fallback-replication", "sentinels-agree", "sentinel-quorum"} <= passed
    # The exporter scrapes every server over TLS (rediss://127.0.0.1:port, its client certificate).
    targets = deployment.targets()
    assert targets.exporter is not None
    assert {target: scrape(targets.exporter, target) for target in targets.exporter_targets} == {
        target: "1" for target in deployment.exporter_targets
    }
    assert all(target.startswith("rediss://127.0.0.1:") for target in deployment.exporter_targets)
    replica = next(node for node in deployment.deployment.nodes if node.role == "replica")
    info = deployment.client(replica.name).info("replication")
    assert info["master_link_status"] == "up"
    assert deployment.client("redis-node-1").cluster("info")["cluster_state"] == "ok"


def test_the_plain_text_port_is_closed(tls_deployment: Deployment) -> None:
    port = tls_deployment.node_port("redis-node-1")
    plain = redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        plain.ping()


def test_a_client_without_a_certificate_is_refused_when_they_are_required(tls_deployment: Deployment) -> None:
    files = tls_deployment.tls_files
    assert files is not None
    port = tls_deployment.node_port("redis-node-1")
    anonymous = redis.Redis(
        port=port,
        username=acl.ADMIN_USER,
        password=tls_deployment.password,
        socket_timeout=2,
        **tls_arguments(ClientFiles(ca=files.ca)),
    )
    with pytest.raises(redis.ConnectionError):
        anonymous.ping()
    with_cert = redis.Redis(
        port=port, username=acl.ADMIN_USER, password=tls_deployment.password, socket_timeout=2,
        **tls_arguments(files),
    )
    assert with_cert.ping() is True


def test_a_server_is_not_trusted_under_another_ca(tls_deployment: Deployment, tmp_path: Path) -> None:
    files = tls_deployment.tls_files
    assert files is not None
    other = run_cli("render", "tls-certs", str(tls_deployment.root.parent / "cluster.yaml"), "--dir",
                    str(tmp_path / "other"), password="", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    foreign = redis.Redis(
        port=tls_deployment.node_port("redis-node-1"), username=acl.ADMIN_USER, password=tls_deployment.password,
        socket_timeout=2, **tls_arguments(ClientFiles(ca=str(tmp_path / "other" / "ca.crt"), cert=files.cert,
                                                       key=files.key)),
    )
    with pytest.raises(redis.ConnectionError) as raised:
        foreign.ping()
    assert isinstance(raised.value.__context__, ssl.SSLCertVerificationError) or "certificate verify failed" in str(
        raised.value
    )


def test_the_hook_says_what_is_wrong_when_dialling_tls_servers_without_tls(tls_deployment: Deployment) -> None:
    root = tls_deployment.root.parent
    plain_spec = yaml.safe_load((root / "cluster.yaml").read_text())
    plain_spec["tls"] = {"enabled": False}
    (root / "plain.yaml").write_text(yaml.safe_dump(plain_spec))
    result = run_cli("status", str(root / "plain.yaml"), "--address-map", tls_deployment.address_map_arg(),
                     "--timeout", "2", password=tls_deployment.password, cwd=root)
    assert result.returncode != 0
    assert "TLS-only server" in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_drills_writer_writes_over_tls(tls_deployment: Deployment) -> None:
    """The failure drills' writer and reader dial the shard owners with the deployment's client files."""
    targets = tls_deployment.targets()
    cluster = Cluster(targets, tls_deployment.password)
    cluster.wait_converged(timeout=30, log=lambda _: None)
    shard = cluster.shards()[0]
    writer = ShardWriter(cluster, 0, (shard.slots[0].start, shard.slots[0].end), stop=threading.Event(),
                         max_writes=20, interval=0.0)
    writer.start()
    writer.join(timeout=30)
    summary = summarize(writer.writes, fault_at=writer.writes[0].started)
    assert (summary.writes, summary.failed) == (20, 0), summary.errors
    assert missing_keys(cluster, [write.key for write in writer.writes]) == []

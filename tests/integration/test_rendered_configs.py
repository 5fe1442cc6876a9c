"""The rendered redis.conf / sentinel.conf files, started by real servers, mean what the spec says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from .harness import Deployment, TierPorts, free_block, make_spec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def started(
    binaries: None, passwords: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    # Values that differ from every default, so a directive that is ignored cannot pass by accident.
    spec = make_spec(
        masters=3,
        replicas=0,
        base_port=free_block(3, bus=True),
        tier=TierPorts.allocate(),
        node_timeout_ms=1234,
        memory={"container_memory_mb": 300, "maxmemory_mb": 200, "maxmemory_policy": "allkeys-lfu"},
        persistence={"appendonly": True},
        sentinels={"down_after_ms": 4321, "quorum": 2},
    )
    deployment = Deployment(tmp_path_factory.mktemp("rendered"), spec, passwords)
    # The exporter is not a rendered file; only the servers are started here.
    deployment.tier.pop(spec.exporter.name)
    try:
        yield deployment.start()
    finally:
        deployment.stop()


def _config(client: redis.Redis, name: str) -> str:
    return str(client.config_get(name)[name])


def test_node_conf(started: Deployment) -> None:
    spec = started.spec
    for name, server in started.nodes.items():
        with started.client(name) as client:
            assert _config(client, "port") == str(server.port)
            assert _config(client, "cluster-enabled") == "yes"
            assert _config(client, "cluster-node-timeout") == "1234"
            assert _config(client, "cluster-announce-hostname") == name
            assert _config(client, "cluster-preferred-endpoint-type") == "hostname"
            assert _config(client, "cluster-require-full-coverage") == "no"
            assert _config(client, "maxmemory") == str(200 * 1024 * 1024)
            assert _config(client, "maxmemory-policy") == "allkeys-lfu"
            assert _config(client, "appendonly") == "yes"
            assert client.info("server")["redis_mode"] == "cluster"
    assert spec.topology.require_full_coverage is False


@pytest.mark.parametrize("role", ["primary", "replica"])
def test_fallback_conf(started: Deployment, role: str) -> None:
    fallback = started.spec.fallback
    name, port = (
        (fallback.primary_name, fallback.primary_port) if role == "primary" else (fallback.replica_name,
                                                                                  fallback.replica_port)
    )
    with started.client(name) as client:
        assert _config(client, "port") == str(port)
        assert _config(client, "cluster-enabled") == "no"
        assert _config(client, "maxmemory") == str(200 * 1024 * 1024)
        assert _config(client, "maxmemory-policy") == "allkeys-lfu"
        assert _config(client, "appendonly") == "yes"
        expected_role = "master" if role == "primary" else "slave"
        assert client.info("replication")["role"] == expected_role
        if role == "replica":
            assert _config(client, "replica-read-only") == "yes"
            assert _config(client, "masterauth") != ""  # from the auth include, never from the rendered file


def test_sentinel_conf(started: Deployment) -> None:
    sentinels = started.spec.sentinels
    for index in range(sentinels.count):
        name = f"{sentinels.name_prefix}-{index + 1}"
        with started.client(name) as client:
            master = client.execute_command("SENTINEL", "MASTER", sentinels.master_name)
            fields = dict(zip(master[::2], master[1::2], strict=True)) if isinstance(master, list) else master
            assert int(fields["quorum"]) == sentinels.quorum
            assert int(fields["down-after-milliseconds"]) == 4321
            assert int(fields["port"]) == started.spec.fallback.primary_port
            assert client.info("server")["redis_mode"] == "sentinel"


def test_rendered_files_hold_no_password(started: Deployment, password: str) -> None:
    from cache_cluster import conf

    spec = started.spec
    rendered = [
        conf.render_node_conf(spec, hostname="redis-node-1", port=spec.topology.base_port),
        conf.render_fallback_conf(spec, hostname="x", port=1, replica_of=None),
        conf.render_sentinel_conf(spec, hostname="s", port=2),
    ]
    assert all(password not in text for text in rendered)


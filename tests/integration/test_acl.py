"""Least privilege on real servers: each built-in user can do its job and cannot do what it must not.

The servers run with the users the entrypoints write (acl.auth_directives); a formed cluster and the shared
fallback tier (primary, replica, sentinels, exporter) are signed into as each user in turn.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import NoPermissionError
from redis.retry import Retry

from cache_cluster.hook.run import run_init

from .conftest import Clusters, Tier
from .harness import Deployment

pytestmark = pytest.mark.integration

APP_DENIED = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "GET", "masterauth"),
    ("CONFIG", "SET", "maxmemory", "1"),
    ("DEBUG", "SLEEP", "0"),
    ("KEYS", "*"),
    ("SHUTDOWN", "NOSAVE"),
    ("MONITOR",),
    ("CLUSTER", "RESET"),
    ("CLUSTER", "FORGET", "0" * 40),
    ("CLUSTER", "MEET", "127.0.0.1", "1"),
    ("CLUSTER", "ADDSLOTS", "1"),
    ("CLUSTER", "FAILOVER"),
    ("ACL", "LIST"),
    ("REPLICAOF", "NO", "ONE"),
]


@pytest.fixture(scope="module")
def formed(module_clusters: Clusters) -> Iterator[Deployment]:
    deployment = module_clusters.make()
    report = run_init(deployment.targets(), module_clusters.password, timeout=60)
    assert report.outcome == "healthy", report.to_json()
    yield deployment


def denied(client: redis.Redis, *command: str) -> str:
    """The error a command gets from the ACL; fails the test when the command is allowed or fails otherwise.

    DEBUG is refused before the ACL is consulted (enable-debug-command is off by default): both are refusals."""
    expected = redis.ResponseError if command[0] == "DEBUG" else NoPermissionError
    with pytest.raises(expected) as raised:
        client.execute_command(*command)
    message = str(raised.value)
    return "no permissions" if message.startswith("DEBUG command not allowed") else message


def test_unauthenticated_clients_get_noauth_everywhere(formed: Deployment, tier: Tier) -> None:
    servers = [*formed.nodes.values(), *tier.deployment.tier.values()]
    for server in servers:
        if server.name == tier.deployment.spec.exporter.name:
            continue
        # A raw connection: what any client that has not signed in gets, for any command.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as anonymous:
            for command in (b"PING\r\n", b"INFO\r\n"):
                anonymous.sendall(command)
                assert anonymous.recv(200) == b"-NOAUTH Authentication required.\r\n", (server.name, command)


def test_wrong_password_is_refused_for_every_user(formed: Deployment) -> None:
    node = next(iter(formed.nodes))
    for user in ("default", "app", "admin", "exporter", "replication"):
        with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
            formed.client_as(node, user, "not-the-password-0123").ping()


def test_app_reads_and_writes_through_the_cluster_and_nothing_more(formed: Deployment) -> None:
    first = formed.deployment.nodes[0]
    with RedisCluster(
        host="127.0.0.1",
        port=formed.node_port(first.name),
        username="app",
        password=formed.passwords["password"],
        address_remap=formed.targets().address_map.remap,
        decode_responses=True,
        socket_timeout=5,
    ) as cluster:
        for index in range(30):  # keys on every shard
            cluster.set(f"acl-test:{index}", index, ex=60)
        assert [cluster.get(f"acl-test:{index}") for index in range(30)] == [str(i) for i in range(30)]
        assert cluster.delete(*(f"acl-test:{index}" for index in range(3))) == 3
        cluster.publish("acl-test-channel", "hello")
    with formed.client_as(first.name, "app", formed.passwords["password"]) as app:
        assert app.execute_command("CLUSTER", "INFO").startswith("cluster_state:ok")
        assert "redis_version" in app.info("server")
        for command in APP_DENIED:
            assert "no permissions" in denied(app, *command), command


def test_default_user_is_the_app_user_for_password_only_clients(formed: Deployment) -> None:
    node = formed.deployment.nodes[0]
    with RedisCluster(
        host="127.0.0.1",
        port=formed.node_port(node.name),
        password=formed.passwords["password"],  # no user name: the brief's REDIS_PASSWORD alone
        address_remap=formed.targets().address_map.remap,
        decode_responses=True,
    ) as cluster:
        cluster.set("acl-legacy", "1", ex=60)
        assert cluster.get("acl-legacy") == "1"
    with redis.Redis(
        port=formed.node_port(node.name), password=formed.passwords["password"], decode_responses=True
    ) as legacy:
        assert legacy.execute_command("ACL", "WHOAMI") == "default"
        for command in APP_DENIED:
            assert "no permissions" in denied(legacy, *command), command
    with pytest.raises(redis.AuthenticationError):
        # The admin's password is not the default user's: leaving out the user name never gives more.
        redis.Redis(port=formed.node_port(node.name), password=formed.password, retry=Retry(NoBackoff(), 0)).ping()


def test_admin_forms_and_inspects_but_cannot_destroy(formed: Deployment) -> None:
    name = formed.deployment.nodes[0].name
    with formed.client(name) as admin:
        assert admin.execute_command("CLUSTER", "INFO").startswith("cluster_state:ok")
        assert admin.config_get("maxmemory")
        assert admin.execute_command("CLUSTER", "COUNTKEYSINSLOT", "0") >= 0
        destructive = [("FLUSHALL",), ("FLUSHDB",), ("CLUSTER", "RESET"), ("CLUSTER", "FLUSHSLOTS")]
        for command in [*destructive, ("SHUTDOWN", "NOSAVE"), ("DEBUG", "SLEEP", "0"), ("MONITOR",)]:
            assert "no permissions" in denied(admin, *command), command


def test_exporter_reads_metrics_only(formed: Deployment) -> None:
    name = formed.deployment.nodes[0].name
    with formed.client_as(name, "exporter", formed.passwords["exporter"]) as exporter:
        assert exporter.ping()
        assert "used_memory" in exporter.info("memory")
        assert exporter.execute_command("CLUSTER", "INFO").startswith("cluster_state:ok")
        exporter.execute_command("SLOWLOG", "LEN")
        exporter.execute_command("LATENCY", "LATEST")
        for command in (("GET", "k"), ("SET", "k", "v"), ("CONFIG", "GET", "masterauth"), ("KEYS", "*"),
                        ("CLUSTER", "NODES"), ("CLIENT", "LIST"), ("FLUSHALL",)):
            assert "no permissions" in denied(exporter, *command), command


def test_exporter_scrapes_every_instance_as_its_user(formed: Deployment, tier: Tier) -> None:
    exporter = tier.deployment.tier[tier.deployment.spec.exporter.name]
    with formed.client(formed.deployment.nodes[0].name) as admin:
        admin.acl_log_reset()
    targets = [*formed.exporter_targets[: len(formed.nodes)], *tier.deployment.exporter_targets[-5:]]
    for target in targets:
        with urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/scrape?target={target}", timeout=10) as page:
            body = page.read().decode()
        assert "\nredis_up 1" in body, target
    # Every scrape went through the exporter user; it ran nothing its rules refuse.
    with formed.client(formed.deployment.nodes[0].name) as admin:
        refused = [entry for entry in admin.acl_log() if entry.get("username") == "exporter"]
    assert refused == []


def test_replication_user_syncs_and_nothing_more(formed: Deployment, tier: Tier) -> None:
    replica = formed.deployment.nodes[-1]
    with formed.client(replica.name) as admin:
        assert admin.info("replication")["master_link_status"] == "up"
    with formed.client_as(replica.name, "replication", formed.passwords["replication"]) as replication:
        assert replication.ping()
        for command in (("GET", "k"), ("INFO",), ("CONFIG", "GET", "*"), ("FLUSHALL",)):
            assert "no permissions" in denied(replication, *command), command
    fallback = tier.deployment.spec.fallback
    with tier.deployment.client(fallback.replica_name) as admin:
        assert admin.info("replication")["master_link_status"] == "up"


def test_sentinels_monitor_with_their_user_and_apps_only_discover(tier: Tier) -> None:
    deployment = tier.deployment
    spec = deployment.spec
    name, _ = spec.sentinels.names_and_ports()[0]
    with deployment.client(name) as admin:
        # The sentinels see the primary healthy, its replica and each other: their user signs in everywhere.
        # A sentinel finds replicas in the primary's INFO (every 10 s) and peers in hellos (every 2 s): wait.
        deadline = time.monotonic() + 30
        while True:
            fields = admin.sentinel_master(spec.sentinels.master_name)
            found = (fields["num-slaves"], fields["num-other-sentinels"])
            if found == (1, spec.sentinels.count - 1) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert fields["is_master"] and not fields["is_sdown"] and not fields["is_disconnected"], fields
        assert found == (1, spec.sentinels.count - 1), fields
        assert admin.execute_command("SENTINEL", "CKQUORUM", spec.sentinels.master_name).startswith("OK")
    with deployment.client_as(name, "app", deployment.passwords["password"]) as app:
        primary = app.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.sentinels.master_name)
        assert primary[1] == str(spec.fallback.primary_port)
        for command in (("SENTINEL", "FAILOVER", spec.sentinels.master_name), ("SENTINEL", "RESET", "*"),
                        ("SENTINEL", "SET", spec.sentinels.master_name, "quorum", "1"), ("SHUTDOWN",),
                        ("ACL", "LIST")):
            assert "no permissions" in denied(app, *command), command
    with deployment.client_as(spec.fallback.primary_name, "sentinel", deployment.passwords["sentinel"]) as sentinel:
        for command in (("GET", "k"), ("SET", "k", "v"), ("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "1")):
            assert "no permissions" in denied(sentinel, *command), command

"""Password rotation without downtime on real servers, for every secret of the deployment: a client keeps writing
to the cluster and to the fallback primary through `add`, the switch and `finish` of each kind in turn,
reconnecting with whatever password is current, and no command fails. Afterwards only the new passwords sign in,
the replica links and the sentinels' links work when forced to reconnect (so they use the new ones), no sentinel
failed over or entered TILT, and the exporter (restarted with its new password map, as a target does) scrapes."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider
from redis.retry import Retry

from cache_cluster import acl
from cache_cluster.hook.rotate import rotate
from cache_cluster.hook.run import run_init

from .harness import Deployment, TierPorts, free_block, harness_ports, make_spec

pytestmark = pytest.mark.integration

NEW = "rotated-password-0123456789abcdef"
EXTRA_USER = "reports"
# In the order a person would likely go: the links first, the hook's own user and the application's last.
KINDS = ("replication", "sentinel", "exporter", f"acl:{EXTRA_USER}", "admin", "password")
USER_OF = {"password": "app", f"acl:{EXTRA_USER}": EXTRA_USER}


class Current(CredentialProvider):
    """What a client does with REDIS_PASSWORD from a file: every new connection reads the current value."""

    def __init__(self, password: str) -> None:
        self.password = password

    def get_credentials(self) -> tuple[str, str]:
        return ("app", self.password)


@pytest.fixture
def own(binaries: None, passwords: dict[str, str], tmp_path: Path) -> Iterator[Deployment]:
    """A deployment with its own fallback tier, sentinels, exporter and an extra ACL user: rotating must not touch
    the session's shared servers."""
    spec = make_spec(
        base_port=free_block(6, bus=True),
        tier=TierPorts.allocate(),
        auth={"acl_users": [{"name": EXTRA_USER, "rules": "~report:* +@read +@write -@dangerous"}]},
    )
    deployment = Deployment(tmp_path / "rotate", spec, dict(passwords) | {f"acl:{EXTRA_USER}": f"old-{NEW}-reports"})
    try:
        deployment.start()
        report = run_init(deployment.targets(), deployment.password, timeout=60)
        assert report.outcome in ("healthy", "unhealthy"), report.to_json()
        yield deployment
    finally:
        deployment.stop()


def _signs_in(deployment: Deployment, user: str, password: str, servers: list[str]) -> dict[str, bool]:
    answers = {}
    for name in servers:
        try:
            with deployment.client_as(name, user, password) as connection:
                answers[name] = bool(connection.ping())
        except redis.exceptions.NoPermissionError:
            answers[name] = True  # signed in; the user may not PING
        except redis.AuthenticationError:
            answers[name] = False
    return answers


def _restart_exporter(deployment: Deployment, password: str) -> None:
    """The target's part for the exporter: its password map rewritten, the exporter restarted (it reads the map
    only at start)."""
    server = deployment.tier[deployment.spec.exporter.name]
    password_map = server.workdir / "password-map.json"
    addresses = [f"redis://127.0.0.1:{port}" for port in harness_ports()]
    password_map.write_text(acl.exporter_password_map(addresses, password))
    server.stop()
    server.start()
    deployment.wait(server)


def _scraped_redis_up(deployment: Deployment) -> str:
    port = deployment.tier[deployment.spec.exporter.name].port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return next(line for line in text.splitlines() if line.startswith("redis_up "))


def _wait(what: str, check: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up after {seconds}s waiting for {what}"
        time.sleep(0.2)


def test_every_password_rotates_while_a_client_keeps_writing(own: Deployment) -> None:
    spec, targets = own.spec, own.targets()
    old = dict(own.passwords)
    credentials = Current(old["password"])
    cluster = RedisCluster(
        host="127.0.0.1", port=own.node_port(own.deployment.nodes[0].name), credential_provider=credentials,
        address_remap=targets.address_map.remap, decode_responses=True, socket_timeout=5,
    )
    primary_name, replica_name = spec.fallback.primary_name, spec.fallback.replica_name
    fallback = redis.Redis(port=own.tier[primary_name].port, credential_provider=credentials, socket_timeout=5,
                           retry=Retry(NoBackoff(), 0))
    sentinel = own.client(f"{spec.sentinels.name_prefix}-1")
    primary_before = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.sentinels.master_name)
    failures: list[str] = []
    writes = 0
    stop = threading.Event()
    reconnect = threading.Event()

    def write() -> None:
        nonlocal writes
        deadline = time.monotonic() + 120  # bounded whatever happens to the test
        while not stop.is_set() and time.monotonic() < deadline:
            if reconnect.is_set():
                # What a client does when its secret changes: new connections, which read the new password.
                cluster.disconnect_connection_pools()
                fallback.connection_pool.disconnect()
                reconnect.clear()
            try:
                cluster.set(f"rotate:{writes % 500}", writes, ex=120)
                fallback.set(f"rotate:{writes % 500}", writes, ex=120)
                writes += 1
            except Exception as error:  # every failure counts, whatever its kind
                failures.append(f"{type(error).__name__}: {error}")
            time.sleep(0.002)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    admin = own.password
    timings: dict[str, float] = {}
    try:
        time.sleep(0.3)
        for kind in KINDS:
            new = f"{NEW}-{kind.replace(':', '-')}"
            added = rotate(targets, admin, kind=kind, new_password=new, phase="add")
            assert added.ok, (kind, added.problems)
            again = rotate(targets, admin, kind=kind, new_password=new, phase="add")
            assert again.ok, (kind, "re-running add is safe", again.problems)
            # The switch: each kind's consumer starts using the new password.
            if kind == "password":
                credentials.password = new
                reconnect.set()
                _wait("the client to reconnect with the new password", lambda: not reconnect.is_set())
            elif kind == "exporter":
                _restart_exporter(own, new)
            elif kind == "admin":
                admin = new  # the hook signs in with the new one from now on
            finished = rotate(targets, admin, kind=kind, new_password=new, phase="finish")
            assert finished.ok, (kind, finished.problems)
            again = rotate(targets, admin, kind=kind, new_password=new, phase="finish")
            assert again.ok, (kind, "re-running finish is safe", again.problems)
            own.passwords[kind] = new
            timings[kind] = added.seconds + finished.seconds
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join(timeout=10)
        cluster.close()
        fallback.close()
    assert failures == [], failures[:5]
    assert writes > 200, f"the client wrote only {writes} times"

    every = [*own.nodes, *own.tier][: len(targets.servers)]  # nodes, fallback pair, sentinels; not the exporter
    data_servers = [*own.nodes, primary_name, replica_name]
    where = {"replication": data_servers, f"acl:{EXTRA_USER}": data_servers,
             "sentinel": [primary_name, replica_name, *(s.name for s in targets.sentinels)]}
    for kind in KINDS:
        user = USER_OF.get(kind, kind)
        servers = where.get(kind, every)
        assert _signs_in(own, user, own.passwords[kind], servers) == dict.fromkeys(servers, True), kind
        assert _signs_in(own, user, old[kind], servers) == dict.fromkeys(servers, False), (kind, "old still works")
    with redis.Redis(port=own.tier[primary_name].port, password=own.passwords["password"]) as legacy:
        assert legacy.ping(), "the default user (password-only clients) rotated with app"

    # Replica links reconnect with the new masterauth: every replica dropped its link and is linked again.
    own.password = admin
    replicas = [name for name in data_servers if own.client(name).info("replication")["role"] == "slave"]
    assert len(replicas) == 4, replicas  # 3 cluster replicas and the fallback replica
    for name in replicas:
        assert own.client(name).execute_command("CLIENT", "KILL", "TYPE", "master") == 1, f"{name}: no link to cut"
    for name in replicas:
        _wait(f"{name}'s replica link", lambda n=name: own.client(n).info("replication")["master_link_status"] == "up")

    # The sentinels reconnect with the new auth-pass: their connections to the fallback pair are cut, they come
    # back signed in as `sentinel`, and the sentinels still agree on the same primary, untilted, all seeing each
    # other.
    sentinel_names = [f"{spec.sentinels.name_prefix}-{index}" for index in range(1, spec.sentinels.count + 1)]
    for name in (primary_name, replica_name, *sentinel_names):
        cut = own.client(name).execute_command("CLIENT", "KILL", "USER", acl.SENTINEL_USER)
        # The replica is known to the sentinels only after their next INFO of the primary (every 10 s).
        assert cut >= 2 or name == replica_name, f"{name}: only {cut} sentinel connections to cut"
    time.sleep(2.5)  # beyond a ping period (1 s) and a reconnection period (1 s)
    for index in range(1, spec.sentinels.count + 1):
        client = own.client(f"{spec.sentinels.name_prefix}-{index}")
        master = client.execute_command("SENTINEL", "MASTER", spec.sentinels.master_name)
        pairs = master.items() if isinstance(master, dict) else zip(master[::2], master[1::2], strict=True)
        fields = {str(key): str(value) for key, value in pairs}
        assert fields["flags"] == "master", fields["flags"]
        assert int(fields["last-ok-ping-reply"]) < 2000, fields["last-ok-ping-reply"]
        assert fields["num-other-sentinels"] == "2"
        assert client.info("sentinel")["sentinel_tilt"] == 0
        assert client.execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.sentinels.master_name
        ) == primary_before, "no failover"
        for peer in client.execute_command("SENTINEL", "SENTINELS", spec.sentinels.master_name):
            pairs = peer.items() if isinstance(peer, dict) else zip(peer[::2], peer[1::2], strict=True)
            seen = {str(key): str(value) for key, value in pairs}
            assert seen["flags"] == "sentinel" and int(seen["last-ok-ping-reply"]) < 2000, seen
        # No failover ever started: a sentinel's epoch grows with every election.
        assert fields["config-epoch"] == "0", fields["config-epoch"]
    listed = own.client(primary_name).execute_command("CLIENT", "LIST")
    assert listed.count("user=sentinel") >= 3, "every sentinel signed in again"

    assert _scraped_redis_up(own) == "redis_up 1"
    print(f"\nrotation seconds (add + finish) by kind: {timings}; {writes} writes, 0 failed")


def test_rotation_changes_nothing_unless_every_server_is_reachable(own: Deployment) -> None:
    down = own.deployment.nodes[-1].name
    own.nodes[down].stop()
    for kind in ("password", "replication"):
        result = rotate(own.targets(), own.password, kind=kind, new_password=NEW, phase="add", timeout=1.0)
        assert not result.ok and result.changed == [] and result.links == []
        assert any(down in problem for problem in result.problems)
        assert NEW not in " ".join(result.problems) and own.password not in " ".join(result.problems)
    running = [name for name in own.nodes if name != down]
    assert not any(_signs_in(own, "app", NEW, running).values())
    assert not any(_signs_in(own, "replication", NEW, running).values())
    masterauth = own.client(running[0]).config_get("masterauth")["masterauth"]
    assert masterauth == own.passwords["replication"], "no link was switched"

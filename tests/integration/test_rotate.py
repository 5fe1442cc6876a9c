"""Password rotation without downtime on real servers: a client keeps writing through `add`, the switch and
`finish`, reconnecting with whatever password is current, and no command fails; afterwards only the new password
signs in, on every cluster node, fallback server and sentinel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider

from cache_cluster.hook.rotate import rotate, users_of
from cache_cluster.hook.run import run_init

from .harness import Deployment, TierPorts, free_block, make_spec

pytestmark = pytest.mark.integration

NEW = "rotated-password-0123456789abcdef"


class Current(CredentialProvider):
    """What a client does with REDIS_PASSWORD from a file: every new connection reads the current value."""

    def __init__(self, password: str) -> None:
        self.password = password

    def get_credentials(self) -> tuple[str, str]:
        return ("app", self.password)


@pytest.fixture
def own(binaries: None, passwords: dict[str, str], tmp_path: Path) -> Iterator[Deployment]:
    """A deployment with its own fallback tier: rotating must not touch the session's shared servers."""
    spec = make_spec(base_port=free_block(6, bus=True), tier=TierPorts.allocate())
    deployment = Deployment(tmp_path / "rotate", spec, dict(passwords))
    deployment.tier.pop(spec.exporter.name)
    try:
        deployment.start()
        report = run_init(deployment.targets(), deployment.password, timeout=60)
        assert report.outcome in ("healthy", "unhealthy"), report.to_json()  # no exporter here to validate
        yield deployment
    finally:
        deployment.stop()


def _signs_in(deployment: Deployment, user: str, password: str) -> dict[str, bool]:
    """Per running server: does `user` sign in with `password`?"""
    answers = {}
    for name, server in [*deployment.nodes.items(), *deployment.tier.items()]:
        if not server.running:
            continue
        try:
            with deployment.client_as(name, user, password) as connection:
                answers[name] = bool(connection.ping())
        except redis.AuthenticationError:
            answers[name] = False
    return answers


def test_rotation_keeps_a_writing_client_going_and_ends_with_the_new_password_alone(own: Deployment) -> None:
    old = own.passwords["password"]
    credentials = Current(old)
    first = own.deployment.nodes[0]
    cluster = RedisCluster(
        host="127.0.0.1",
        port=own.node_port(first.name),
        credential_provider=credentials,
        address_remap=own.targets().address_map.remap,
        decode_responses=True,
        socket_timeout=5,
    )
    failures: list[str] = []
    writes = 0
    stop = threading.Event()
    reconnect = threading.Event()

    def write() -> None:
        nonlocal writes
        deadline = time.monotonic() + 60  # bounded whatever happens to the test
        while not stop.is_set() and time.monotonic() < deadline:
            if reconnect.is_set():
                # What a client does when its secret changes: new connections, which read the new password.
                cluster.disconnect_connection_pools()
                reconnect.clear()
            try:
                cluster.set(f"rotate:{writes % 500}", writes, ex=120)
                writes += 1
            except Exception as error:  # every failure counts, whatever its kind
                failures.append(f"{type(error).__name__}: {error}")
            time.sleep(0.002)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    users = users_of("password", own.spec.auth.default_user)
    assert users == ("app", "default")
    try:
        time.sleep(0.3)
        added = rotate(own.targets(), own.password, users=users, new_password=NEW, phase="add")
        assert added.ok, added.problems
        assert len(added.changed) == len(own.targets().servers) == 11
        assert all(_signs_in(own, "app", old).values()) and all(_signs_in(own, "app", NEW).values())
        time.sleep(0.3)
        # The switch: the client's secret now holds the new password; its next connections use it.
        credentials.password = NEW
        reconnect.set()
        time.sleep(0.3)
        assert not reconnect.is_set(), "the client reconnected with the new password"
        finished = rotate(own.targets(), own.password, users=users, new_password=NEW, phase="finish")
        assert finished.ok, finished.problems
        time.sleep(0.3)
        again = rotate(own.targets(), own.password, users=users, new_password=NEW, phase="finish")
        assert again.ok, "re-running a phase is safe"
    finally:
        stop.set()
        writer.join(timeout=10)
        cluster.close()
    assert failures == [], failures[:5]
    assert writes > 100, f"the client wrote only {writes} times"
    assert not any(_signs_in(own, "app", old).values()), "the old password still signs in somewhere"
    assert all(_signs_in(own, "app", NEW).values())
    with redis.Redis(port=own.node_port(first.name), password=NEW) as legacy:
        assert legacy.ping(), "the default user (password-only clients) rotated with app"


def test_rotation_changes_nothing_unless_every_server_is_reachable(own: Deployment) -> None:
    down = own.deployment.nodes[-1].name
    own.nodes[down].stop()
    users = users_of("password", own.spec.auth.default_user)
    result = rotate(own.targets(), own.password, users=users, new_password=NEW, phase="add", timeout=1.0)
    assert not result.ok and result.changed == []
    assert any(down in problem for problem in result.problems)
    assert not any(_signs_in(own, "app", NEW).values())
    assert NEW not in " ".join(result.problems) and own.password not in " ".join(result.problems)


def test_other_secrets_are_refused_with_the_reason() -> None:
    from cache_cluster.errors import CacheClusterError

    with pytest.raises(CacheClusterError, match="rotating the 'replication' password is not supported"):
        users_of("replication", "app")

"""Bad input on the wire: a wrong password, a service that is not Redis on a node's port, a node that answers
slowly, one that closes the connection half-way. The hook says clearly what is wrong with which server, keeps
its deadline, and changes nothing on the real servers beside it.

The misbehaving "nodes" are small TCP servers of this test on 127.0.0.1 (threads, bounded, stopped at the end);
the other nodes are real redis-servers started from the rendered configs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cache_cluster.hook.run import run_init, run_status

from .conftest import Clusters
from .harness import Deployment

pytestmark = pytest.mark.integration

DEADLINE = 4.0
# The deadline plus one probe round's connection timeout and the report: what "kept" means here.
SLACK = 3.0

Behaviour = Callable[[socket.socket], None]


def http_server(connection: socket.socket) -> None:
    """A web server where a node should be: reads the request, answers in HTTP, closes."""
    connection.recv(4096)
    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def ssh_banner(connection: socket.socket) -> None:
    """A service that speaks first (an SSH server): a banner line, then nothing Redis understands."""
    connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    connection.recv(4096)
    time.sleep(0.5)


def silent(connection: socket.socket) -> None:
    """Accepts and reads, never answers: a node stuck (or a firewall that lets SYNs through)."""
    deadline = time.monotonic() + 30
    connection.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if not connection.recv(4096):
                return
        except TimeoutError:
            continue


def echo(connection: socket.socket) -> None:
    """Sends back what it gets: the AUTH command, password and all, returns to the hook as a "reply"."""
    connection.settimeout(0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            data = connection.recv(4096)
        except TimeoutError:
            continue
        if not data:
            return
        connection.sendall(data)


def half_close(connection: socket.socket) -> None:
    """Reads the first command, then shuts its sending side: the client reads EOF before any reply."""
    connection.recv(4096)
    connection.shutdown(socket.SHUT_WR)
    time.sleep(1)


class FakeServer:
    """One TCP port on 127.0.0.1 served by `behaviour`, a thread per connection; bounded and stopped by us."""

    def __init__(self, port: int, behaviour: Behaviour) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.behaviour = behaviour
        self.stopped = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set() and self.connections < 500:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            self.behaviour(connection)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def cluster_with_an_impostor(clusters: Clusters, request: pytest.FixtureRequest) -> Iterator[tuple[Deployment, str]]:
    """A fresh 6-node deployment whose last node's port is served by a fake instead of redis-server."""
    deployment = clusters.make(start=False, fallback=False)
    impostor = deployment.deployment.nodes[-1].name
    real = [server for name, server in deployment.nodes.items() if name != impostor]
    for server in real:
        server.start()
    for server in real:
        deployment.wait(server)
    fake = FakeServer(deployment.node_port(impostor), request.param)
    try:
        yield deployment, impostor
    finally:
        fake.stop()


def _untouched(deployment: Deployment, impostor: str) -> None:
    """Nothing changed on the real nodes: each still alone, no slots, no keys."""
    for name in deployment.nodes:
        if name == impostor:
            continue
        with deployment.client(name) as client:
            info = client.execute_command("CLUSTER", "INFO")
            assert "cluster_known_nodes:1\r\n" in info and "cluster_slots_assigned:0\r\n" in info, (name, info)
            assert client.dbsize() == 0


@pytest.mark.parametrize(
    ("cluster_with_an_impostor", "expected", "outcome"),
    [
        # Another protocol on the port does not go away by waiting: reported at once, not at the deadline.
        (http_server, "is not a Redis server: it answered b'HTTP/1.1 400 Bad Request'", "unhealthy"),
        (ssh_banner, "is not a Redis server: it answered b'SSH-2.0-OpenSSH_9.2p1", "unhealthy"),
        (silent, "timed out", "timeout"),
        (half_close, "closed the connection before answering", "timeout"),
        (echo, "is not a Redis server: it did not answer AUTH with OK", "unhealthy"),
    ],
    indirect=["cluster_with_an_impostor"],
    ids=["http", "ssh-banner", "silent", "half-close", "echo"],
)
def test_a_node_port_that_does_not_speak_redis(
    cluster_with_an_impostor: tuple[Deployment, str], expected: str, outcome: str
) -> None:
    deployment, impostor = cluster_with_an_impostor
    started = time.monotonic()
    report = run_init(deployment.targets(), deployment.password, timeout=DEADLINE)
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + SLACK, f"deadline {DEADLINE}s not kept: {elapsed:.1f}s"
    assert report.outcome == outcome, report.to_json()
    text = report.to_json()
    assert impostor in text and expected in text, text
    assert "Traceback" not in text and deployment.password not in text
    _untouched(deployment, impostor)
    # status does not wait: one look, the same reason, in well under the deadline.
    started = time.monotonic()
    status = run_status(deployment.targets(), deployment.password, timeout=2.0)
    assert time.monotonic() - started < 2.0 + SLACK
    assert expected in status.to_json(), status.to_json()
    _untouched(deployment, impostor)


def test_wrong_password_is_refused_at_once_and_changes_nothing(clusters: Clusters) -> None:
    deployment = clusters.make(fallback=False)
    started = time.monotonic()
    report = run_init(deployment.targets(), "wrong-password-0123456789", timeout=30)
    assert time.monotonic() - started < 10, "a wrong password is permanent: no waiting for the deadline"
    text = report.to_json()
    assert "auth failed" in text and "REDIS_ADMIN_PASSWORD" in text and "wrong-password" not in text
    _untouched(deployment, "")

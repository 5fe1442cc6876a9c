# mypy: disable-error-code="no-untyped-call"
"""End to end with tls.enabled: `make up SPEC=tests/e2e/tls-stack.yaml` on the real engine (Compose v2) makes the
CA and certificates (.cache-cluster/tls/), starts every server TLS-only, the init container forms the cluster over
TLS, and `make up` initializes and validates it through the published ports over TLS. Then, from the host: a write
and a read through RedisCluster over TLS as the application's user, the exporter's scrape of a rediss:// target
with redis_up 1, a plain-text connection refused, and last `scripts/rotate-password.sh` (replication and the
application's password) while a client keeps writing over TLS, with no failed command.

The stack: Compose project, network and volumes `cctest-tls`, ports 14001-14006 (bus 24001-24006), sentinels
14479-14481, fallback 14380/14381, exporter 14121. Leftovers of an interrupted run are removed first; the
fixture always ends with `make destroy`. Outside CI it skips when Docker is missing; with CI=true it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import AuthenticationError, Redis
from redis import ConnectionError as RedisConnectionError
from redis.cluster import RedisCluster

from cache_cluster.hook.connect import tls_arguments
from cache_cluster.loader import load_spec_file
from cache_cluster.plan import DeploymentPlan, plan
from cache_cluster.spec import service_ports
from cache_cluster.tls import ClientFiles
from tests.conftest import require
from tests.e2e.test_compose_stack import ROOT, _docker_available, _port_is_free, run

from .rotating_client import PasswordFile, writing
from .waiting import log

pytestmark = pytest.mark.e2e

SPEC = "tests/e2e/tls-stack.yaml"
TLS_DIR = ROOT / ".cache-cluster" / "tls"
PASSWORD_FILE = ROOT / ".cache-cluster" / "secrets" / "redis-password"
MAKE_TIMEOUT = 400


@dataclass
class TlsStack:
    deployment: DeploymentPlan
    up_output: str

    @property
    def files(self) -> ClientFiles:
        return ClientFiles(
            ca=str(TLS_DIR / "ca.crt"), cert=str(TLS_DIR / "client.crt"), key=str(TLS_DIR / "client.key")
        )


def make(target: str) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    log(f"running `make {target} SPEC={SPEC}` (deadline {MAKE_TIMEOUT}s)")
    started = time.monotonic()
    result = run(["make", "--no-print-directory", target, f"SPEC={SPEC}"], timeout=MAKE_TIMEOUT, env=env)
    log(f"`make {target}` exited {result.returncode} after {time.monotonic() - started:.1f}s")
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def tls_stack() -> Iterator[TlsStack]:
    available, why = _docker_available()
    require(available, why)
    deployment = plan(load_spec_file(ROOT / SPEC))
    log(f"removing leftovers of Compose project {deployment.spec.name}")
    code, output = make("destroy")
    assert code == 0, output
    held = [owned for owned in service_ports(deployment.spec) if not _port_is_free(owned.port)]
    if held:
        pytest.fail("ports the TLS stack needs are held: " + ", ".join(str(o.port) for o in held), pytrace=False)
    try:
        code, output = make("up")
        assert code == 0, output[-4000:]
        yield TlsStack(deployment, output)
    finally:
        code, output = make("destroy")
        assert code == 0, output[-2000:]


def test_make_up_forms_and_validates_the_cluster_over_tls(tls_stack: TlsStack) -> None:
    assert "validate: healthy" in tls_stack.up_output, tls_stack.up_output[-3000:]
    assert sorted(path.name for path in TLS_DIR.iterdir()) == [
        "ca.crt", "ca.key", "client.crt", "client.key", "server.crt", "server.key"
    ]
    report = json.loads((ROOT / ".cache-cluster" / "cctest-tls" / "validate.json").read_text())
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    # The exporter inside the network scraped every server over TLS (rediss://, its client certificate).
    assert statuses["exporter"] == "pass", report
    assert statuses["cluster-write-read"] == "pass"
    assert statuses["fallback-replication"] == "pass"
    assert statuses["sentinel-quorum"] == "pass"


def test_a_write_and_a_read_over_tls_as_the_application(tls_stack: TlsStack) -> None:
    published = tls_stack.deployment.host_address_map()

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        host, _, port = published.get(f"{address[0]}:{address[1]}", f"{address[0]}:{address[1]}").rpartition(":")
        return host, int(port)

    client = RedisCluster(
        host="127.0.0.1",
        port=14001,
        username="app",
        password=PASSWORD_FILE.read_text().strip(),
        address_remap=remap,
        decode_responses=True,
        socket_timeout=5,
        **tls_arguments(tls_stack.files),
    )
    try:
        for index in range(30):  # keys on every shard
            client.set(f"tls-e2e:{index}", f"value-{index}")
        assert [client.get(f"tls-e2e:{index}") for index in range(30)] == [f"value-{index}" for index in range(30)]
    finally:
        client.close()


def test_the_exporter_scrapes_a_tls_server(tls_stack: TlsStack) -> None:
    query = urllib.parse.urlencode({"target": "rediss://redis-node-2:14002"})
    with urllib.request.urlopen(f"http://127.0.0.1:14121/scrape?{query}", timeout=15) as response:
        body = response.read().decode()
    assert "redis_up 1" in body.splitlines()


def test_plain_text_is_refused(tls_stack: TlsStack) -> None:
    plain = Redis(host="127.0.0.1", port=14001, username="app", password=PASSWORD_FILE.read_text().strip(),
                  socket_timeout=3, socket_connect_timeout=3)
    with pytest.raises(RedisConnectionError):
        plain.ping()


def test_rotation_over_tls_while_a_client_keeps_writing(tls_stack: TlsStack, tmp_path: Path) -> None:
    """Last in this module (the stack's passwords change): `scripts/rotate-password.sh` rotates the replication
    and the application's passwords of the TLS stack while a client writes over TLS, signing in with the
    application's password file as it is at each new connection. The rotation works on a copy of the secrets
    directory, so the checkout's own .cache-cluster/secrets (a `make up` dev stack's) is left as it was."""
    secrets = tmp_path / "secrets"
    shutil.copytree(PASSWORD_FILE.parent, secrets)
    password_file = secrets / PASSWORD_FILE.name
    old_password = password_file.read_text(encoding="utf-8").strip()
    published = tls_stack.deployment.host_address_map()

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        host, _, port = published.get(f"{address[0]}:{address[1]}", f"{address[0]}:{address[1]}").rpartition(":")
        return host, int(port)

    cluster = RedisCluster(
        host="127.0.0.1", port=14001, credential_provider=PasswordFile(password_file), address_remap=remap,
        decode_responses=True, socket_timeout=5, **tls_arguments(tls_stack.files),
    )  # fmt: skip
    started = time.monotonic()
    try:
        with writing(cluster, password_file, prefix="tls-rotate", budget_s=180) as tally:
            env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
            env |= {"CACHE_CLUSTER_SECRETS_DIR": str(secrets), "CACHE_CLUSTER_ROTATE_GRACE": "2"}
            log("running scripts/rotate-password.sh on the TLS stack (replication, password) while a client writes")
            rotated = run(["bash", "scripts/rotate-password.sh", SPEC, "replication", "password"], timeout=240,
                          env=env)
            assert rotated.returncode == 0, rotated.stdout[-3000:] + rotated.stderr[-3000:]
            time.sleep(0.5)
    finally:
        cluster.close()
    writes, failures = tally.writes, tally.failures
    log(f"rotated over TLS in {time.monotonic() - started:.1f}s; {writes} writes, {len(failures)} failed")
    assert failures == [] and writes > 100, failures[:5]
    new_password = password_file.read_text(encoding="utf-8").strip()
    assert new_password != old_password
    assert PASSWORD_FILE.read_text(encoding="utf-8").strip() == old_password  # the checkout's copy untouched
    with Redis(host="127.0.0.1", port=14002, username="app", password=new_password, socket_timeout=5,
               **tls_arguments(tls_stack.files)) as client:  # fmt: skip
        assert client.ping()
    with pytest.raises(AuthenticationError):
        Redis(host="127.0.0.1", port=14002, username="app", password=old_password, socket_timeout=5,
              **tls_arguments(tls_stack.files)).ping()  # fmt: skip

"""End-to-end checks of the locally built container images (real Docker).

The session fixture starts dockerd if needed (scripts/start-dockerd.sh) and
builds the images (scripts/build-images.sh; a no-op when they are up to date).
Without Docker these tests are skipped, except under CI=true, where they fail.

Everything these tests create is named ``cctest-img-*`` and removed afterwards;
leftovers of an earlier, interrupted run are removed first.  No port is
published: the containers talk over a private user-defined Docker network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
NAME_PREFIX = "cctest-img-"


@dataclass(frozen=True)
class Images:
    redis: str
    exporter: str
    prometheus: str


def _run(args: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)


def _docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["docker", *args], timeout=timeout, check=check)


def _docker_unavailable(reason: str) -> None:
    require(False, f"Docker not available: {reason}")


def _remove_leftovers() -> None:
    """Remove containers and networks named with our prefix (from any run)."""
    containers = _docker("ps", "-aq", "--filter", f"name=^{NAME_PREFIX}").stdout.split()
    if containers:
        _docker("rm", "-f", *containers, check=False)
    networks = _docker("network", "ls", "-q", "--filter", f"name=^{NAME_PREFIX}").stdout.split()
    if networks:
        _docker("network", "rm", *networks, check=False)


def _parse_tags(output: str) -> dict[str, str]:
    tags = {}
    for line in output.splitlines():
        m = re.fullmatch(r"(CACHE_CLUSTER_[A-Z_]+_IMAGE)=(\S+)", line.strip())
        if m:
            tags[m.group(1)] = m.group(2)
    return tags


@pytest.fixture(scope="session")
def images() -> Iterator[Images]:
    for tool in ("docker", "dockerd"):
        if shutil.which(tool) is None:
            _docker_unavailable(f"'{tool}' is not installed (scripts/install-system.sh installs it)")
    try:
        subprocess.run(
            ["bash", str(SCRIPTS / "start-dockerd.sh")],
            capture_output=True, text=True, timeout=180, check=True,
        )
    except subprocess.CalledProcessError as exc:
        _docker_unavailable(f"scripts/start-dockerd.sh failed:\n{exc.stdout}\n{exc.stderr}")
    except subprocess.TimeoutExpired:
        _docker_unavailable("scripts/start-dockerd.sh did not finish within 180 s")

    # A failing build is a real failure, never a skip.
    build = subprocess.run(
        ["bash", str(SCRIPTS / "build-images.sh")],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert build.returncode == 0, f"build-images.sh failed:\n{build.stdout}\n{build.stderr}"
    tags = _parse_tags(build.stdout)
    wanted = {"CACHE_CLUSTER_REDIS_IMAGE", "CACHE_CLUSTER_EXPORTER_IMAGE", "CACHE_CLUSTER_PROMETHEUS_IMAGE"}
    assert set(tags) >= wanted, build.stdout

    _remove_leftovers()
    yield Images(
        redis=tags["CACHE_CLUSTER_REDIS_IMAGE"],
        exporter=tags["CACHE_CLUSTER_EXPORTER_IMAGE"],
        prometheus=tags["CACHE_CLUSTER_PROMETHEUS_IMAGE"],
    )
    _remove_leftovers()


@pytest.fixture
def network(images: Images) -> Iterator[str]:
    """A user-defined Docker network (embedded DNS), removed afterwards."""
    name = f"{NAME_PREFIX}{uuid.uuid4().hex[:10]}"
    _docker("network", "create", name)
    try:
        yield name
    finally:
        containers = _docker("ps", "-aq", "--filter", f"network={name}").stdout.split()
        if containers:
            _docker("rm", "-f", *containers, check=False)
        _docker("network", "rm", name, check=False)


def _start_redis(image: str, network: str, alias: str, *server_args: str) -> str:
    """Start a detached redis-server container; return its name."""
    name = f"{network}-{alias}"
    _docker(
        "run", "-d", "--rm", "--name", name, "--network", network, "--network-alias", alias,
        image, "redis-server", *server_args,
    )
    return name


def _poll(args: list[str], want: str, deadline_s: float, what: str) -> str:
    """Run docker ARGS until its stdout contains WANT or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    last = None
    while True:
        last = _docker(*args, check=False, timeout=30)
        if last.returncode == 0 and want in last.stdout:
            return last.stdout
        if time.monotonic() >= deadline:
            pytest.fail(
                f"timed out after {deadline_s:.0f}s waiting for {what}; last try: "
                f"rc={last.returncode} stdout={last.stdout!r} stderr={last.stderr!r}"
            )
        time.sleep(0.5)


def test_redis_image_reports_redis_7(images: Images) -> None:
    out = _docker("run", "--rm", images.redis, "redis-server", "--version").stdout
    assert re.search(r"Redis server v=7\.\d+\.\d+", out), out
    assert images.redis.startswith("cache-cluster/redis:7."), images.redis


def test_redis_cli_reaches_server_by_network_alias(images: Images, network: str) -> None:
    """Docker's embedded DNS resolves the alias (nsswitch + glibc) and all libs load."""
    _start_redis(images.redis, network, "redis-node-1", "--port", "7001", "--requirepass", "x")
    out = _poll(
        ["run", "--rm", "--network", network, images.redis,
         "redis-cli", "-h", "redis-node-1", "-p", "7001", "-a", "x", "--no-auth-warning", "ping"],
        want="PONG", deadline_s=30, what="redis-node-1:7001 to answer PING",
    )
    assert out.strip() == "PONG"


def test_sh_and_entrypoint_tools(images: Images) -> None:
    script = "cat /etc/passwd >/dev/null; sleep 0; mkdir -p /tmp/x; cp /etc/passwd /tmp/x/; echo ok"
    out = _docker("run", "--rm", images.redis, "sh", "-c", script).stdout
    assert out.strip() == "ok"


def test_redis_image_users_and_dirs(images: Images) -> None:
    script = "id -u redis; id -u nobody; touch /data/f /tmp/f /etc/cache-cluster/f && echo writable"
    out = _docker("run", "--rm", "--user", "redis", images.redis, "sh", "-c", script).stdout.split()
    assert out == ["999", "65534", "writable"]


def test_redis_sentinel_mode(images: Images) -> None:
    script = (
        "printf 'port 26379\\nsentinel monitor m 127.0.0.1 6379 1\\n' >/tmp/s.conf;"
        " redis-sentinel /tmp/s.conf --daemonize yes --logfile /tmp/s.log;"
        " i=0; until redis-cli -p 26379 ping >/dev/null 2>&1; do"
        "  i=$((i+1)); [ $i -gt 100 ] && echo 'sentinel did not start within 10s' && exit 1; sleep 0.1; done;"
        " redis-cli -p 26379 info server | grep redis_mode"
    )
    out = _docker("run", "--rm", images.redis, "sh", "-c", script).stdout
    assert "redis_mode:sentinel" in out, out


def test_exporter_image_version(images: Images) -> None:
    res = _docker("run", "--rm", images.exporter, "--version")
    assert "Redis Metrics Exporter" in res.stdout + res.stderr


def test_exporter_upstream_binary_path(images: Images) -> None:
    """/redis_exporter works as in the upstream oliver006/redis_exporter image."""
    res = _docker("run", "--rm", "--entrypoint", "/redis_exporter", images.exporter, "--version")
    assert "Redis Metrics Exporter" in res.stdout + res.stderr


def test_exporter_scrapes_redis_by_network_alias(images: Images, network: str) -> None:
    _start_redis(images.redis, network, "redis-node-1", "--port", "7001", "--requirepass", "x")
    exporter = f"{network}-exporter"
    _docker(
        "run", "-d", "--rm", "--name", exporter, "--network", network, images.exporter,
        "--redis.addr=redis://redis-node-1:7001", "--redis.password=x",
    )
    out = _poll(
        ["run", "--rm", "--network", network, images.redis,
         "wget", "-qO-", f"http://{exporter}:9121/metrics"],
        want="redis_up 1", deadline_s=30, what="the exporter to report redis_up 1",
    )
    assert 'redis_version="7.' in out


def test_prometheus_image_matches_the_upstream_layout(images: Images) -> None:
    """/bin/prometheus and /bin/promtool, user nobody owning /prometheus, busybox wget for the health check."""
    version = _docker("run", "--rm", images.prometheus, "--version")
    assert re.search(r"prometheus, version 2\.\d+\.\d+", version.stdout + version.stderr), version
    script = "id -u; touch /prometheus/f && echo writable; wget --help 2>&1 | head -n1; promtool --version | head -n1"
    out = _docker("run", "--rm", "--entrypoint", "sh", images.prometheus, "-c", script).stdout.splitlines()
    assert out[:2] == ["65534", "writable"], out
    assert out[2].startswith("BusyBox"), out
    assert out[3].startswith("promtool, version 2."), out


def test_prometheus_image_serves_its_web_ui(images: Images, network: str) -> None:
    """Debian's Prometheus serves the UI from /usr/share/prometheus/web, copied into the image."""
    name = f"{network}-prometheus"
    _docker("run", "-d", "--rm", "--name", name, "--network", network, "--network-alias", "prometheus",
            images.prometheus, "--config.file=/dev/null", "--storage.tsdb.path=/prometheus")
    page = _poll(
        ["run", "--rm", "--network", network, "--entrypoint", "wget", images.prometheus,
         "-q", "-O", "-", "http://prometheus:9090/graph"],
        want="<title>Prometheus", deadline_s=30, what="Prometheus to serve /graph",
    )
    assert "static/js/graph/index.js" in page

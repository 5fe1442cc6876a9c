# mypy: disable-error-code="no-untyped-call"
"""End to end: `make up` on the real Docker engine with Compose v2, clients on the host and in the network, a
second `make up`, the exporter, and a full restart in which every container gets a new address.

The stack is tests/e2e/e2e-stack.yaml: Compose project, network and volume names `cctest-e2e*`, ports 17001-17006
(bus 27001-27006), sentinels 27379-27381, fallback 16380/16381, exporter 19121, so it never touches a user's
`make up` of the dev stack. Leftovers of an interrupted run are removed first (`down -v` of the project); the
module's fixture always ends with `make destroy`, which removes containers, network and volumes.

The tests run in file order and share one stack; each says what it waits for, and every wait has a deadline.
Outside CI they skip when Docker is missing; with CI=true they fail instead.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from redis.cluster import RedisCluster

from cache_cluster.loader import load_spec_file
from cache_cluster.plan import DeploymentPlan, plan
from cache_cluster.spec import service_ports
from cache_cluster.targets.compose import all_services
from cache_cluster.targets.compose_binary import compose_binary
from tests.conftest import require

from .drill_keys import DRILL_KEYS, read_drill_values, write_drill_keys
from .waiting import log, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SPEC = "tests/e2e/e2e-stack.yaml"
SECRETS_DIR = ROOT / ".cache-cluster" / "secrets"
PASSWORD_FILE = SECRETS_DIR / "redis-password"  # the application user's
IMAGES_ENV = ROOT / "scripts" / "images.env"
THROWAWAY = "cctest-e2e-ipshift"
MAKE_TIMEOUT = 600  # the first `make up` may install packages and build the images


def _compose_binary() -> str:
    """The real Compose v2 binary (the venv's `docker-compose` script always exits 0; see compose_binary.py)."""
    found = compose_binary()
    require(found is not None, "Docker Compose v2 not found (make venv installs it)")
    assert found is not None
    return found


@dataclass
class Stack:
    deployment: DeploymentPlan
    password: str  # the application user's; clients send it alone and sign in as `default` (the same rules)
    redis_image: str
    compose_file: Path
    first_up_output: str = ""

    @property
    def name(self) -> str:
        return self.deployment.spec.name

    @property
    def network(self) -> str:
        return self.deployment.spec.network.name

    def remap(self, address: tuple[str, int]) -> tuple[str, int]:
        """name:port as the cluster announces it -> where the host reaches it (127.0.0.1:port)."""
        published = self.deployment.host_address_map().get(f"{address[0]}:{address[1]}")
        if published is None:
            return address
        host, port = published.rsplit(":", 1)
        return host, int(port)

    def node(self, port: int) -> Redis:
        return Redis(host="127.0.0.1", port=port, password=self.password, socket_timeout=5, decode_responses=True)

    def cluster(self) -> RedisCluster:
        first = self.deployment.nodes[0]
        return RedisCluster(
            host="127.0.0.1", port=first.port, password=self.password, address_remap=self.remap,
            decode_responses=True, socket_timeout=5,
        )

    def compose_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(_image_env())
        env.update(secret_variables())
        return env


def secret_variables() -> dict[str, str]:
    """What `make up` exports for Compose: each file of .cache-cluster/secrets as the variable it is named after."""
    return {
        path.name.upper().replace("-", "_"): path.read_text(encoding="utf-8").strip()
        for path in SECRETS_DIR.iterdir()
        if path.is_file() and not path.name.startswith(".")
    }


def run(
    args: list[str], *, timeout: float, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], timeout=timeout, check=check)


def make(target: str, *, timeout: float = MAKE_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`make TARGET SPEC=...` as a person runs it; the secrets come from .cache-cluster/secrets."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    log(f"running `make {target} SPEC={SPEC}` (deadline {timeout:.0f}s)")
    started = time.monotonic()
    result = run(["make", "--no-print-directory", target, f"SPEC={SPEC}"], timeout=timeout, env=env)
    log(f"`make {target}` exited {result.returncode} after {time.monotonic() - started:.1f}s")
    return result


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    if IMAGES_ENV.exists():
        for line in IMAGES_ENV.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.startswith("CACHE_CLUSTER_") and value:
                env[key] = os.environ.get(key) or value
    return env


def compose(stack: Stack, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run(
        [_compose_binary(), "-p", stack.name, "-f", str(stack.compose_file), *args],
        timeout=timeout, env=stack.compose_env(), check=True,
    )


def read_drill_keys(stack: Stack) -> tuple[int, list[Any]]:
    """(keys held by the masters, the values of drill:0..DRILL_KEYS-1), read through a host cluster client."""
    client = stack.cluster()
    try:
        total = int(client.dbsize(target_nodes=RedisCluster.PRIMARIES))  # summed over the masters
        return total, read_drill_values(client)
    finally:
        client.close()


def _remove_leftovers(name: str) -> None:
    docker("rm", "-f", THROWAWAY, check=False)
    result = run([_compose_binary(), "-p", name, "down", "--volumes", "--timeout", "5"], timeout=120)
    if result.returncode != 0:
        pytest.fail(f"could not remove the leftovers of project {name}:\n{result.stderr}", pytrace=False)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _docker_available() -> tuple[bool, str]:
    for tool in ("docker", "make"):
        if shutil.which(tool) is None:
            return False, f"'{tool}' is not installed (make system installs docker)"
    started = run(["bash", "scripts/start-dockerd.sh"], timeout=180)
    if started.returncode != 0:
        return False, f"no Docker engine: scripts/start-dockerd.sh failed:\n{started.stdout}{started.stderr}"
    return True, ""


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    available, why = _docker_available()
    require(available, why)
    deployment = plan(load_spec_file(ROOT / SPEC))
    name = deployment.spec.name
    log(f"removing leftovers of Compose project {name} (containers, network, volumes)")
    _remove_leftovers(name)
    held = [owned for owned in service_ports(deployment.spec) if not _port_is_free(owned.port)]
    if held:
        pytest.fail(
            "ports the e2e stack needs are held by something else: "
            + ", ".join(f"{owned.port} ({owned.owner})" for owned in held),
            pytrace=False,
        )
    try:
        first = make("up")
        assert PASSWORD_FILE.exists(), f"make up did not leave {PASSWORD_FILE}\n{first.stdout}\n{first.stderr}"
        stack = Stack(
            deployment=deployment,
            password=PASSWORD_FILE.read_text(encoding="utf-8").strip(),
            redis_image=_image_env().get("CACHE_CLUSTER_REDIS_IMAGE", deployment.spec.images.redis),
            compose_file=ROOT / ".cache-cluster" / name / "docker-compose.yml",
        )
        stack.first_up_output = f"exit {first.returncode}\n{first.stdout}\n{first.stderr}"
        if first.returncode != 0:
            pytest.fail(f"make up SPEC={SPEC} failed: {stack.first_up_output}", pytrace=False)
        yield stack
    finally:
        docker("rm", "-f", THROWAWAY, check=False)
        destroyed = make("destroy", timeout=180)
        leftovers = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
        volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
        assert destroyed.returncode == 0, f"make destroy failed:\n{destroyed.stdout}\n{destroyed.stderr}"
        assert not leftovers and not volumes, f"make destroy left containers {leftovers} and volumes {volumes}"


# Helpers on a running stack


def container_ids(stack: Stack) -> dict[str, str]:
    out = docker(
        "ps", "-a", "--no-trunc", "--filter", f"label=com.docker.compose.project={stack.name}",
        "--format", '{{.Label "com.docker.compose.service"}} {{.ID}}',
    ).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def node_ips(stack: Stack) -> dict[str, str]:
    ips = {}
    for node in stack.deployment.nodes:
        out = docker(
            "ps", "-q", "--filter", f"label=com.docker.compose.project={stack.name}",
            "--filter", f"label=com.docker.compose.service={node.name}",
        ).stdout.split()
        assert len(out) == 1, f"expected one container for {node.name}, found {out}"
        ips[node.name] = docker(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", out[0]
        ).stdout.strip()
    return ips


def node_ids(stack: Stack) -> dict[str, str]:
    return {node.name: str(stack.node(node.port).execute_command("CLUSTER", "MYID")) for node in stack.deployment.nodes}


def keys_on_every_master(client: RedisCluster, prefix: str) -> dict[str, str]:
    """One key per master: master `host:port` -> a key whose slot it serves."""
    masters = {f"{node.host}:{node.port}" for node in client.get_primaries()}
    chosen: dict[str, str] = {}
    index = 0
    while set(chosen) != masters:
        key = f"{prefix}:{index}"
        owner = client.get_node_from_key(key)
        chosen.setdefault(f"{owner.host}:{owner.port}", key)
        index += 1
        assert index < 10_000, f"no key found for every master {masters}"
    return chosen


def cluster_converged(stack: Stack) -> tuple[bool, str]:
    """Every node says cluster_state:ok and sees every other node connected, with no fail flag."""
    problems = []
    for node in stack.deployment.nodes:
        try:
            client = stack.node(node.port)
            info = str(client.execute_command("CLUSTER", "INFO"))
            nodes = str(client.execute_command("CLUSTER", "NODES"))
        except Exception as error:
            problems.append(f"{node.name}: {type(error).__name__}: {error}")
            continue
        if "cluster_state:ok" not in info:
            problems.append(f"{node.name}: cluster_state not ok")
        lines = [line.split() for line in nodes.splitlines() if line.strip()]
        bad = [line[1] for line in lines if "fail" in line[2] or "noaddr" in line[2] or line[7] != "connected"]
        if len(lines) != len(stack.deployment.nodes) or bad:
            problems.append(f"{node.name}: sees {len(lines)} nodes, not connected/failing: {bad}")
    return not problems, "; ".join(problems)


def scrape(stack: Stack, target: str) -> str:
    url = f"http://127.0.0.1:{stack.deployment.spec.exporter.port}/scrape?target=redis://{target}"
    with urllib.request.urlopen(url, timeout=15) as response:
        body: bytes = response.read()
    return body.decode()


# The tests, in order


def test_make_up_from_nothing_gives_a_validated_cluster(stack: Stack) -> None:
    output = stack.first_up_output
    assert "is up, initialized and validated" in output, output
    # What up.sh prints for people: the env contract without the password, the address map, the exporter.
    assert "REDIS_CLUSTER_NODES=redis-node-1:17001," in output
    assert "REDIS_PASSWORD=********" in output
    assert "redis-node-1:17001" in output and "-> 127.0.0.1:17001" in output
    assert "http://127.0.0.1:19121/metrics" in output
    assert stack.password not in output, "make up printed the password"
    assert oct(PASSWORD_FILE.stat().st_mode & 0o777) == oct(0o600)
    assert oct(SECRETS_DIR.stat().st_mode & 0o777) == oct(0o700)
    assert all(value not in output for value in secret_variables().values()), "make up printed a secret"
    ok, problems = cluster_converged(stack)
    assert ok, problems


def test_clients_on_the_host_and_in_the_network_reach_every_master(stack: Stack) -> None:
    client = stack.cluster()
    try:
        keys = keys_on_every_master(client, "e2e:clients")
        assert len(keys) == stack.deployment.spec.topology.masters
        # On the host: redis-py follows MOVED to redis-node-N:port, remapped to 127.0.0.1:port.
        for master, key in keys.items():
            assert client.set(key, f"host:{master}")
        assert {master: client.get(key) for master, key in keys.items()} == {m: f"host:{m}" for m in keys}
    finally:
        client.close()
    # In the Compose network: redis-cli -c starting at redis-node-1 follows MOVED by the announced hostnames.
    first = stack.deployment.nodes[0]
    # As the application's user, the password on redis-cli's stdin from a mounted file: in no argv or env.
    cli = f"redis-cli -c -h {first.name} -p {first.port} --no-auth-warning --user app --askpass"
    script = (
        'for key in "$@"; do '
        f'{cli} get "$key" < /run/secrets/pw; '
        f'{cli} set "$key" "net:$key" < /run/secrets/pw >/dev/null; '
        f'{cli} get "$key" < /run/secrets/pw; '
        "done"
    )
    log("running redis-cli -c in a one-off container on the stack's network")
    result = run(
        ["docker", "run", "--rm", "--network", stack.network, "-v", f"{PASSWORD_FILE}:/run/secrets/pw:ro",
         stack.redis_image, "sh", "-c", script, "sh", *keys.values()],
        timeout=60, check=True,
    )
    expected = []
    for master, key in keys.items():
        expected += [f"host:{master}", f"net:{key}"]
    assert result.stdout.split() == expected, result.stdout + result.stderr
    client = stack.cluster()
    try:
        assert [client.get(key) for key in keys.values()] == [f"net:{key}" for key in keys.values()]
    finally:
        client.close()


def test_make_up_again_changes_nothing(stack: Stack) -> None:
    containers, ids = container_ids(stack), node_ids(stack)
    assert len(containers) == len(all_services(stack.deployment)), "a container per server and the init service"
    again = make("up", timeout=300)
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    assert "is up, initialized and validated" in again.stdout
    assert container_ids(stack) == containers, "a second make up replaced containers"
    assert node_ids(stack) == ids, "a second make up changed the cluster's node IDs"


def test_exporter_reports_every_instance_up(stack: Stack) -> None:
    spec = stack.deployment.spec
    targets = [node.address for node in stack.deployment.nodes]
    targets += [f"{spec.fallback.primary_name}:{spec.fallback.primary_port}",
                f"{spec.fallback.replica_name}:{spec.fallback.replica_port}"]
    down: dict[str, Any] = {}

    def all_up() -> tuple[bool, str]:
        down.clear()
        for target in targets:
            try:
                metrics = scrape(stack, target)
            except OSError as error:
                down[target] = repr(error)
                continue
            if "\nredis_up 1\n" not in metrics:
                down[target] = [line for line in metrics.splitlines() if line.startswith("redis_up")]
        return not down, str(down)

    wait_for(f"the exporter to report redis_up 1 for {len(targets)} instances", all_up, deadline_s=60)


def test_full_restart_with_new_addresses_comes_back_by_itself_with_every_key(stack: Stack) -> None:
    client = stack.cluster()
    try:
        log(f"writing {DRILL_KEYS} keys (pipelined)")
        write_drill_keys(client)
    finally:
        client.close()
    ips_before, ids_before = node_ips(stack), node_ids(stack)
    # Redis writes the AOF every second (appendfsync everysec): give the last second time to reach the disk.
    time.sleep(1.5)

    down = make("down", timeout=180)
    assert down.returncode == 0, f"{down.stdout}\n{down.stderr}"
    volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={stack.name}").stdout.split()
    assert len(volumes) == len(stack.deployment.volumes), f"make down must keep the data volumes: {volumes}"

    # New addresses: create the network and containers, let a throwaway container take the first free address,
    # then start everything. No `cache-cluster init`: the nodes must find each other by themselves.
    compose(stack, "up", "--no-start")
    docker("run", "-d", "--rm", "--name", THROWAWAY, "--network", stack.network, "--entrypoint", "sleep",
           stack.redis_image, "300")
    log("starting the containers again (compose up -d --wait, in the background), without init")
    started = time.monotonic()
    up = subprocess.Popen(
        [_compose_binary(), "-p", stack.name, "-f", str(stack.compose_file), "up", "-d", "--wait",
         "--wait-timeout", "180"],
        cwd=ROOT, env=stack.compose_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for(
            "every node to report cluster_state:ok with every peer connected", lambda: cluster_converged(stack),
            deadline_s=150,
        )
        back_after = time.monotonic() - started
        output, _ = up.communicate(timeout=240)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        docker("rm", "-f", THROWAWAY, check=False)  # also on failure: the next drill starts one of that name
    if up.returncode != 0:
        init_log = run([_compose_binary(), "-p", stack.name, "-f", str(stack.compose_file), "logs", "--no-color",
                        "cache-cluster-init"], timeout=60, env=stack.compose_env(), check=False)
        pytest.fail(f"compose up --wait failed:\n{output}\ninit service log:\n{init_log.stdout[-4000:]}",
                    pytrace=False)
    log(f"DRILL: the cluster was back {back_after:.1f}s after `compose up` started; "
        f"every health check passed after {time.monotonic() - started:.1f}s")
    ips_after = node_ips(stack)
    unchanged = {name: ip for name, ip in ips_after.items() if ips_before[name] == ip}
    assert not unchanged, f"the drill must give every node a new address; unchanged: {unchanged}"
    log(f"addresses changed: {ips_before} -> {ips_after}")
    assert node_ids(stack) == ids_before, "the same cluster must come back, not a new one"

    total, values = read_drill_keys(stack)
    missing = [index for index, value in enumerate(values) if value != str(index)]
    assert not missing, f"{len(missing)} of {DRILL_KEYS} keys are missing or wrong, e.g. {missing[:5]}"
    assert total >= DRILL_KEYS

    # The fallback replica resyncs from its restarted primary; every check must pass soon, without init.
    def validated() -> tuple[bool, str]:
        result = run(
            [str(Path(sys.executable).with_name("cache-cluster")), "validate", SPEC, "--via", "published", "--json"],
            timeout=60, env=stack.compose_env(),
        )
        return result.returncode == 0, result.stdout[-2000:] + result.stderr[-500:]

    wait_for("`cache-cluster validate` to pass after the drill", validated, deadline_s=60, every_s=1)


def test_nodes_restarted_in_reverse_order_take_each_others_addresses_and_rejoin(stack: Stack) -> None:
    """The harder variant: same network, so a node's old address may now belong to another node."""
    ips_before, ids_before = node_ips(stack), node_ids(stack)
    containers = container_ids(stack)
    nodes = [node.name for node in stack.deployment.nodes]
    log("stopping the six cluster nodes (the rest keeps running)")
    docker("stop", "--time", "10", *(containers[name] for name in nodes), timeout=120)
    docker("run", "-d", "--rm", "--name", THROWAWAY, "--network", stack.network, "--entrypoint", "sleep",
           stack.redis_image, "300")
    started = time.monotonic()
    for name in reversed(nodes):
        docker("start", containers[name])
    docker("rm", "-f", THROWAWAY, check=False)
    ips_after = node_ips(stack)
    log(f"addresses: {ips_before} -> {ips_after}")
    reused = {name: ip for name, ip in ips_after.items() if ip in ips_before.values() and ips_before[name] != ip}
    assert reused, f"no node took another node's old address: {ips_before} -> {ips_after}"
    wait_for(
        "every node to report cluster_state:ok with every peer connected", lambda: cluster_converged(stack),
        deadline_s=120,
    )
    log(f"DRILL (same network, addresses reused by {sorted(reused)}): cluster back "
        f"{time.monotonic() - started:.1f}s after the first node was started")
    assert node_ids(stack) == ids_before
    _, values = read_drill_keys(stack)
    assert values == [str(index) for index in range(DRILL_KEYS)]

"""The brief's own command to a formed cluster, against `make up`'s path, measured in the same run.

    brief    in a temporary directory holding a minimal application `docker-compose.yml` (one service that
             waits for cache-cluster-init with service_completed_successfully) and the rendered Compose file:
             `docker-compose -f docker-compose.yml -f docker-compose.cache-cluster.yml up -d`, which returns
             once the init service formed the cluster; then one CLUSTER INFO from inside the network confirms
             `cluster_state:ok` (not timed)
    make up  `make up SPEC=...` as a person runs it (the anchor: compose up --wait, init, validate, report)

Each run starts from nothing (`down --volumes` of the project first, not timed); images present. Both use
tests/e2e/init-stack.yaml (ports 25001+, network cctest-init-net), one after the other. Prints the median of each
over --runs runs (default 3) and the ratio brief / make up. Target: ratio <= 1.

Usage: python -m bench.compose_up [--runs N]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.up import ROOT, compose_binary, environment, log, run
from cache_cluster.loader import load_spec_file
from cache_cluster.plan import plan
from cache_cluster.spec import service_ports
from cache_cluster.targets.compose import compose_yaml
from tests.e2e.brief_app import app_compose

SPEC = "tests/e2e/init-stack.yaml"
APP_PROJECT = "cctest-init-bench"
PASSWORD = "bench-compose-up-password-0123456789"
APP_COMPOSE = app_compose(APP_PROJECT, load_spec_file(ROOT / SPEC).network.name)


def image_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / "scripts" / "images.env").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.startswith("CACHE_CLUSTER_") and value:
            values[key] = value
    return values


def wait_until_ports_are_free(deadline_s: float = 30) -> None:
    """The engine releases published ports a moment after `down` returns; a start before that fails to bind."""
    ports = [owned.port for owned in service_ports(load_spec_file(ROOT / SPEC))]
    deadline = time.monotonic() + deadline_s
    while True:
        held = [port for port in ports if not port_is_free(port)]
        if not held:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"ports {held} still held {deadline_s:.0f}s after down")
        time.sleep(0.2)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def brief_run(directory: Path, compose: str, env: dict[str, str]) -> float:
    files = ["-f", "docker-compose.yml", "-f", "docker-compose.cache-cluster.yml"]
    run([compose, "-p", APP_PROJECT, "down", "--volumes", "--timeout", "5"], env, 120, "down --volumes")
    wait_until_ports_are_free()
    started = time.monotonic()
    result = subprocess.run(
        [compose, *files, "up", "-d"], cwd=directory, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"the brief's command failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    deployment = plan(load_spec_file(ROOT / SPEC))
    first = deployment.nodes[0]
    info = subprocess.run(
        ["docker", "run", "--rm", "--network", deployment.spec.network.name, "-e", "REDISCLI_AUTH",
         env["CACHE_CLUSTER_REDIS_IMAGE"], "redis-cli", "-h", first.name, "-p", str(first.port), "cluster", "info"],
        env={**env, "REDISCLI_AUTH": PASSWORD}, capture_output=True, text=True, timeout=60, check=False,
    )
    if "cluster_state:ok" not in info.stdout:
        raise SystemExit(f"up -d returned but the cluster is not formed:\n{info.stdout}\n{info.stderr}")
    run([compose, "-p", APP_PROJECT, "down", "--volumes", "--timeout", "5"], env, 120, "down --volumes")
    return elapsed


def make_up_run(compose: str, env: dict[str, str]) -> float:
    name = load_spec_file(ROOT / SPEC).name
    run([compose, "-p", name, "down", "--volumes", "--timeout", "5"], env, 120, "down --volumes")
    wait_until_ports_are_free()
    elapsed = run(["make", "--no-print-directory", "up", f"SPEC={SPEC}"], env, 300, "make up")
    run([compose, "-p", name, "down", "--volumes", "--timeout", "5"], env, 120, "down --volumes")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    compose = compose_binary()
    env = {**environment(), **image_env(), "REDIS_PASSWORD": PASSWORD}
    brief: list[float] = []
    anchor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cache-cluster-brief.") as temporary:
        directory = Path(temporary)
        (directory / "docker-compose.yml").write_text(APP_COMPOSE, encoding="utf-8")
        (directory / "docker-compose.cache-cluster.yml").write_text(
            compose_yaml(plan(load_spec_file(ROOT / SPEC))), encoding="utf-8"
        )
        for index in range(options.runs):
            log(f"run {index + 1} of {options.runs}: make up SPEC={SPEC}")
            anchor.append(make_up_run(compose, env))
            log(f"  make up {anchor[-1]:.2f}s; the brief's merged command")
            brief.append(brief_run(directory, compose, env))
            log(f"  brief {brief[-1]:.2f}s")
    ratio = statistics.median(brief) / statistics.median(anchor)
    print(f"From nothing (images present) to a formed cluster, median of {options.runs} runs, {SPEC}:")
    for label, values in (("make up (anchor)", anchor), ("brief's merged up -d", brief)):
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {label:<22}  {statistics.median(values):6.2f} s   (runs: {runs})")
    print(f"  ratio brief / make up   {ratio:6.2f}   target <= 1: {'met' if ratio <= 1 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

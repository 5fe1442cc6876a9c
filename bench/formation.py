"""Cluster formation speed: the hook's `init` against `redis-cli --cluster create`, on real local servers.

Each round starts six fresh redis-server processes from the project's own rendered node config (default spec,
free ports on 127.0.0.1, fresh directories) for each contender, alternating which goes first:

  (a) the hook's init as a library call, then a re-run on the now healthy cluster;
  (a') the hook's init as the `cache-cluster` CLI in a subprocess (interpreter start-up included);
  (b) `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`, then the hook's own fully-ready wait.

"Fully ready" is the same function for both: every node cluster_state:ok and knowing every other node, every
replica linked, one slot map. Timing starts once every node has been up for SETTLE seconds: a Redis master
refuses cluster_state:ok for its first 2 s (CLUSTER_WRITABLE_DELAY) whoever forms the cluster, and a
deployment's hook runs after its containers are up and healthy. `--no-settle` measures from start instead.

Run from the repository root: .venv/bin/python -m bench.formation [--rounds 5].
Bounded: every wait has a deadline, the run a budget.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cache_cluster.hook import run_init
from cache_cluster.hook.connect import client, close
from cache_cluster.hook.converge import wait_fully_ready
from cache_cluster.spec import ClusterSpec
from tests.integration.harness import Deployment, binaries_present, free_block, make_spec, new_passwords

SETTLE = 2.1
STEP_TIMEOUT = 60.0
CLI = Path(sys.executable).with_name("cache-cluster")


def fresh(root: Path, label: str, password: str) -> Deployment:
    """A deployment of fresh nodes whose admin user (the hook's, and redis-cli's here) has `password`."""
    default = ClusterSpec().topology
    spec = make_spec(
        masters=default.masters,
        replicas=default.replicas_per_master,
        base_port=free_block(default.node_count, bus=True),
        tier=None,
        node_timeout_ms=default.node_timeout_ms,
    )
    passwords = new_passwords() | {"admin": password}
    return Deployment(root / f"{label}-{time.monotonic_ns()}", spec, passwords, with_tier=False).start()


def settle(started: float, enabled: bool) -> None:
    if enabled:
        time.sleep(max(0.0, started + SETTLE - time.monotonic()))


def fully_ready(deployment: Deployment, password: str) -> float:
    targets = deployment.targets()
    clients = {node.address: client(node, password) for node in targets.nodes}
    try:
        result = wait_fully_ready(targets.nodes, clients, deadline=time.monotonic() + STEP_TIMEOUT)
    finally:
        for connection in clients.values():
            close(connection)
    if not result.ready:
        raise RuntimeError("not fully ready: " + "; ".join(result.problems[:5]))
    return result.elapsed


def run_hook(root: Path, password: str, settle_first: bool) -> tuple[float, float]:
    deployment = fresh(root, "hook", password)
    try:
        settle(time.monotonic(), settle_first)
        started = time.monotonic()
        report = run_init(deployment.targets(), password, timeout=STEP_TIMEOUT)
        elapsed = time.monotonic() - started
        if report.outcome != "healthy":
            raise RuntimeError(f"hook init: {report.outcome}: {report.summary}")
        started = time.monotonic()
        again = run_init(deployment.targets(), password, timeout=STEP_TIMEOUT)
        rerun = time.monotonic() - started
        if again.outcome != "healthy" or again.changed:
            raise RuntimeError(f"hook re-run: {again.outcome}: {again.summary}")
        return elapsed, rerun
    finally:
        deployment.stop()


def run_hook_cli(root: Path, password: str, settle_first: bool) -> float:
    deployment = fresh(root, "cli", password)
    try:
        spec_file = deployment.root / "cluster.yaml"
        spec_file.write_text(yaml.safe_dump(deployment.spec.model_dump(mode="json", exclude_none=True)))
        settle(time.monotonic(), settle_first)
        started = time.monotonic()
        done = subprocess.run(
            [str(CLI), "init", str(spec_file), "--via", "published", "--json", "--timeout", str(STEP_TIMEOUT)],
            capture_output=True,
            text=True,
            env={**os.environ, "REDIS_ADMIN_PASSWORD": password},
            timeout=STEP_TIMEOUT + 30,
            check=False,
        )
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"cache-cluster init exited {done.returncode}: {done.stderr[-500:]}")
        return elapsed
    finally:
        deployment.stop()


def run_redis_cli(root: Path, password: str, settle_first: bool) -> float:
    deployment = fresh(root, "redis-cli", password)
    try:
        settle(time.monotonic(), settle_first)
        addresses = [f"127.0.0.1:{server.port}" for server in deployment.nodes.values()]
        started = time.monotonic()
        done = subprocess.run(
            ["redis-cli", "--user", "admin", "--cluster", "create", *addresses, "--cluster-replicas", "1",
             "--cluster-yes"],
            capture_output=True,
            text=True,
            # REDISCLI_AUTH is redis-cli's -a, without the password on the command line.
            env={**os.environ, "REDISCLI_AUTH": password},
            timeout=STEP_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create exited {done.returncode}: {done.stdout[-500:]}")
        fully_ready(deployment, password)
        return time.monotonic() - started
    finally:
        deployment.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-settle", action="store_true", help="time from process start (includes Redis's 2 s)")
    parser.add_argument("--budget", type=float, default=600.0, help="stop starting rounds after this many seconds")
    args = parser.parse_args()
    if not binaries_present(("redis-server", "redis-cli")):
        return 2
    password = new_passwords()["admin"]
    root = Path(tempfile.mkdtemp(prefix="cache-cluster-bench-"))
    hook: list[float] = []
    rerun: list[float] = []
    cli: list[float] = []
    baseline: list[float] = []
    budget_end = time.monotonic() + args.budget
    settle_first = not args.no_settle
    try:
        for index in range(args.rounds):
            if time.monotonic() > budget_end:
                print(f"budget of {args.budget:.0f} s used up after {index} rounds")
                break
            order = ["hook", "cli", "redis-cli"] if index % 2 == 0 else ["redis-cli", "cli", "hook"]
            for contender in order:
                if contender == "hook":
                    elapsed, again = run_hook(root, password, settle_first)
                    hook.append(elapsed)
                    rerun.append(again)
                elif contender == "cli":
                    cli.append(run_hook_cli(root, password, settle_first))
                else:
                    baseline.append(run_redis_cli(root, password, settle_first))
            print(
                f"round {index + 1}: init {hook[-1] * 1000:.0f} ms (CLI {cli[-1] * 1000:.0f} ms), "
                f"redis-cli {baseline[-1] * 1000:.0f} ms, re-run {rerun[-1] * 1000:.0f} ms",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not hook:
        return 1
    init_median, cli_median = statistics.median(hook), statistics.median(cli)
    baseline_median, rerun_median = statistics.median(baseline), statistics.median(rerun)
    cli_ratio, library_ratio = cli_median / baseline_median, init_median / baseline_median
    print()
    print(f"six nodes, default spec (node timeout {ClusterSpec().topology.node_timeout_ms} ms), {len(hook)} rounds"
          + ("" if settle_first else ", timed from process start"))
    print(f"median init (CLI subprocess):   {cli_median * 1000:8.0f} ms")
    print(f"median redis-cli create+ready:  {baseline_median * 1000:8.0f} ms")
    print(f"ratio CLI init / redis-cli:     {cli_ratio:8.3f}   (target <= 0.2)")
    print(f"  in-process init (library):    {init_median * 1000:8.0f} ms, ratio {library_ratio:.3f}")
    print(f"median re-run, healthy cluster: {rerun_median * 1000:8.0f} ms   (target < 150 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

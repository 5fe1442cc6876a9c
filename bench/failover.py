"""Failover speed: the drills on the Docker/Compose deployment beside the same drills on plain processes.

For each drill the median of RUNS runs of (time to recover, stall on the healthy masters), measured by the same
code (cache_cluster.drills: a WAIT-1 writer per shard, one clock) on:

  (a) the deployment: a Compose stack of tests/e2e/drill-stack.yaml under its own project (ccbench-failover),
      with the node timeout given here; faults through the docker CLI (kill, restart, network disconnect);
  (b) the anchor: six plain `redis-server` processes on 127.0.0.1 (command-line config: cluster-enabled, the same
      node timeout, AOF everysec, a password) formed by `redis-cli --cluster create --cluster-replicas 1`;
      faults by pid (SIGKILL; SIGTERM + start for a restart; SIGSTOP / SIGCONT stand in for the partition,
      which cuts the node off from its peers the same way).

Time to recover: kill-master and partition-master: how long writes to the hurt shard's slots failed (first failed
to first successful write); kill-replica: from `start` until the replica is linked again; restart-node: from the
restart until the cluster is fully ready. Stall: the longest gap between successful writes on a healthy master
beyond its usual spacing. Confirmed writes lost and failed writes on healthy masters are summed over the runs.

Run from the repository root, under the Docker lock: flock /tmp/cache-cluster-docker.lock .venv/bin/python -m
bench.failover [--runs 5] [--node-timeout-ms 5000]. Bounded: every wait has a deadline, the run a budget.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cache_cluster.drills.catalog import run_drill
from cache_cluster.drills.cluster import Cluster
from cache_cluster.drills.faults import DockerFaults, Faults
from cache_cluster.drills.result import DrillResult
from cache_cluster.hook.endpoints import Endpoint, HostPort, Targets, targets_from_nodes, targets_from_spec
from cache_cluster.loader import load_spec_file
from tests.integration.harness import Server, free_block, missing_binaries, new_password, wait_redis

ROOT = Path(__file__).resolve().parents[1]
DRILL_SPEC = ROOT / "tests" / "e2e" / "drill-stack.yaml"
BENCH_NAME = "ccbench-failover"
WAIT_TIMEOUT = 90.0
RECOVERY = {
    "kill-master": "recover_s",
    "partition-master": "recover_s",
    "kill-replica": "replica_back_s",
    "restart-node": "back_and_converged_s",
}


class ProcessFaults:
    """Faults on plain redis-server processes, by pid."""

    def __init__(self, servers: dict[int, Server], password: str) -> None:
        self.servers = servers
        self.password = password

    def _server(self, node: Endpoint) -> Server:
        return self.servers[node.connect.port]

    def kill(self, node: Endpoint) -> None:
        self._server(node).stop()

    def stop(self, node: Endpoint) -> None:
        server = self._server(node)
        if server.proc is not None:
            server.proc.terminate()
            server.proc.wait(timeout=30)

    def start(self, node: Endpoint) -> None:
        server = self._server(node)
        server.start()
        wait_redis(server, self.password)

    def restart(self, node: Endpoint) -> None:
        self.stop(node)
        self.start(node)

    def partition(self, node: Endpoint) -> None:
        process = self._server(node).proc
        assert process is not None
        process.send_signal(signal.SIGSTOP)

    def heal(self, node: Endpoint) -> None:
        process = self._server(node).proc
        assert process is not None
        process.send_signal(signal.SIGCONT)

    def isolated_writes(self, node: Endpoint, key_prefix: str) -> list[str] | None:
        return None  # a stopped process has no client on its side of the "partition"


def plain_cluster(root: Path, password: str, node_timeout_ms: int) -> tuple[Targets, ProcessFaults]:
    base = free_block(6, bus=True)
    servers: dict[int, Server] = {}
    for port in range(base, base + 6):
        data = root / str(port)
        data.mkdir(parents=True)
        argv = [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--daemonize", "no",
            "--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms),
            "--cluster-require-full-coverage", "no", "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--requirepass", password, "--masterauth", password,
        ]
        servers[port] = Server(f"plain-{port}", port, argv, data)
        servers[port].start()
    for server in servers.values():
        wait_redis(server, password)
    done = subprocess.run(
        ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in servers), "--cluster-replicas", "1",
         "--cluster-yes"],
        capture_output=True, text=True, env={**os.environ, "REDISCLI_AUTH": password}, timeout=120, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-1000:]}")
    nodes = [(HostPort("127.0.0.1", port), None) for port in servers]
    # Plain servers with requirepass only (the anchor): the hook signs in with the password alone.
    targets = targets_from_nodes(nodes, masters=3, replicas_per_master=1, username=None)
    return targets, ProcessFaults(servers, password)


def compose_stack(node_timeout_ms: int, password: str) -> tuple[Targets, DockerFaults, Path]:
    data = yaml.safe_load(DRILL_SPEC.read_text(encoding="utf-8"))
    data["name"] = BENCH_NAME
    data["network"]["name"] = BENCH_NAME
    data["topology"]["node_timeout_ms"] = node_timeout_ms
    spec_file = ROOT / ".cache-cluster" / f"{BENCH_NAME}.yaml"
    spec_file.parent.mkdir(mode=0o700, exist_ok=True)
    spec_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    up = subprocess.run(
        ["scripts/up.sh", str(spec_file.relative_to(ROOT))], cwd=ROOT, capture_output=True, text=True, timeout=600,
        # The drills act as the admin user: its password is the one given (the others come from .cache-cluster).
        env={
            **os.environ,
            "REDIS_ADMIN_PASSWORD": password,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        },
        check=False,
    )
    if up.returncode != 0:
        raise RuntimeError(f"scripts/up.sh failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
    spec = load_spec_file(spec_file)
    return targets_from_spec(spec, via="published"), DockerFaults(spec.name, spec.network.name, password), spec_file


def run_many(
    label: str, drills: list[str], runs: int, targets: Targets, faults: Faults, password: str, node_timeout_s: float,
    budget_end: float,
) -> dict[str, list[DrillResult]]:
    results: dict[str, list[DrillResult]] = {name: [] for name in drills}
    cluster = Cluster(targets, password)
    for index in range(runs):
        for name in drills:
            if time.monotonic() > budget_end:
                print(f"budget used up: {label} stopped after {index} run(s) of {name}", flush=True)
                return results
            result = run_drill(name, cluster, faults, node_timeout_s=node_timeout_s, timeout=WAIT_TIMEOUT,
                               log=lambda _line: None)
            results[name].append(result)
            measures = result.measures
            print(f"{label:7} {name:16} run {index + 1}: {'ok' if result.passed else 'FAILED ' + result.error} "
                  f"recover {measures.get(RECOVERY[name])} s, stall {measures.get('stall_on_healthy_masters_s')} s, "
                  f"lost {measures.get('confirmed_lost')}", flush=True)
    return results


def median_of(results: list[DrillResult], key: str) -> float | None:
    values = [float(r.measures[key]) for r in results if isinstance(r.measures.get(key), (int, float))]
    return statistics.median(values) if values else None


def total(results: list[DrillResult], key: str) -> int:
    return sum(int(r.measures.get(key) or 0) for r in results)


def report(drills: list[str], ours: dict[str, list[DrillResult]], anchor: dict[str, list[DrillResult]],
           node_timeout_ms: int) -> None:
    def fmt(value: float | None) -> str:
        return "   n/a" if value is None else f"{value:6.2f}"

    print()
    print(f"node timeout {node_timeout_ms} ms; medians in seconds; anchor = plain redis-server + redis-cli create")
    print(f"{'drill':17} {'recover':>7} {'anchor':>7} {'ratio':>6}   {'stall':>6} {'anchor':>7}   "
          f"{'lost':>4} {'healthy fails':>13}  runs ok")
    for name in drills:
        key = RECOVERY[name]
        mine, base = median_of(ours[name], key), median_of(anchor[name], key)
        stall, base_stall = (median_of(ours[name], "stall_on_healthy_masters_s"),
                             median_of(anchor[name], "stall_on_healthy_masters_s"))
        ratio = f"{mine / base:6.2f}" if mine is not None and base else "   n/a"
        lost = total(ours[name], "confirmed_lost") + total(anchor[name], "confirmed_lost")
        fails = total(ours[name], "failed_on_healthy_masters")
        ok = f"{sum(r.passed for r in ours[name])}/{len(ours[name])} vs {sum(r.passed for r in anchor[name])}/" \
             f"{len(anchor[name])}"
        print(f"{name:17} {fmt(mine)}  {fmt(base)} {ratio}   {fmt(stall)}  {fmt(base_stall)}   {lost:4} {fails:13}  "
              f"{ok}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--node-timeout-ms", type=int, default=5000, help="both contenders (default: the spec's)")
    parser.add_argument("--drills", default=",".join(RECOVERY), help=f"comma-separated, of {', '.join(RECOVERY)}")
    parser.add_argument("--budget", type=float, default=1800.0, help="stop starting drills after this many seconds")
    args = parser.parse_args()
    drills = [name.strip() for name in args.drills.split(",") if name.strip()]
    unknown = [name for name in drills if name not in RECOVERY]
    missing = missing_binaries(("redis-server", "redis-cli", "docker"))
    if unknown or missing:
        print(f"unknown drills {unknown} (choose from {list(RECOVERY)}); missing tools {missing}", file=sys.stderr)
        return 2
    password = new_password()
    node_timeout_s = args.node_timeout_ms / 1000
    budget_end = time.monotonic() + args.budget
    root = Path(tempfile.mkdtemp(prefix="cache-cluster-failover-"))
    anchor_faults: ProcessFaults | None = None
    spec_file: Path | None = None
    try:
        targets, docker_faults, spec_file = compose_stack(args.node_timeout_ms, password)
        plain_targets, anchor_faults = plain_cluster(root, password, args.node_timeout_ms)
        half = budget_end - (budget_end - time.monotonic()) / 2
        ours = run_many("compose", drills, args.runs, targets, docker_faults, password, node_timeout_s, half)
        anchor = run_many("anchor", drills, args.runs, plain_targets, anchor_faults, password, node_timeout_s,
                          budget_end)
    finally:
        if anchor_faults is not None:
            for server in anchor_faults.servers.values():
                if server.proc is not None and server.proc.poll() is None:
                    server.proc.send_signal(signal.SIGCONT)
                server.stop()
        shutil.rmtree(root, ignore_errors=True)
        if spec_file is not None:
            subprocess.run(["scripts/down.sh", str(spec_file.relative_to(ROOT)), "--volumes"], cwd=ROOT,
                           capture_output=True, timeout=300, check=False,
                           env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    report(drills, ours, anchor, args.node_timeout_ms)
    return 0



if __name__ == "__main__":
    raise SystemExit(main())

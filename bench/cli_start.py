"""How fast the `cache-cluster` command starts: `--help`, `check-config`, and `status` on a healthy cluster.

Each command runs ROUNDS times as a subprocess (interpreter start-up included, as a person or a pipeline sees
it); the median is printed beside the anchor measured in the same run: `redis-cli` doing the comparable job
(`--version`; `CLUSTER INFO` against the same cluster). `status` runs against six real local redis-server
processes formed by the hook (default spec, free ports on 127.0.0.1), stopped at the end.

Run from the repository root: .venv/bin/python -m bench.cli_start [--rounds 20].
Targets: `--help` <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from bench.formation import fresh
from cache_cluster.hook import run_init
from tests.integration.harness import Deployment, binaries_present, new_passwords

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("cache-cluster")
HELP_TARGET_MS = 150.0
RUN_TIMEOUT = 60.0


def median_ms(command: Sequence[str], rounds: int, env: dict[str, str]) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env, timeout=RUN_TIMEOUT, check=False)
        timings.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-400:]}")
    return statistics.median(timings) * 1000


def formed_cluster(root: Path, password: str) -> Deployment:
    deployment = fresh(root, "status", password)
    report = run_init(deployment.targets(), password, timeout=RUN_TIMEOUT)
    if report.outcome != "healthy":
        deployment.stop()
        raise RuntimeError(f"init: {report.outcome}: {report.summary}")
    return deployment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if not binaries_present(("redis-server", "redis-cli")):
        return 2
    password = new_passwords()["admin"]
    env = {**os.environ, "REDIS_ADMIN_PASSWORD": password}
    rows: list[tuple[str, float, str, float]] = []
    rows.append(("cache-cluster --help", median_ms([str(CLI), "--help"], args.rounds, env),
                 "redis-cli --version", median_ms(["redis-cli", "--version"], args.rounds, env)))
    check = [str(CLI), "check-config", str(ROOT / "Pulumi.dev.yaml")]
    rows.append(("cache-cluster check-config Pulumi.dev.yaml", median_ms(check, args.rounds, env),
                 "redis-cli --version", rows[0][3]))
    with tempfile.TemporaryDirectory(prefix="cache-cluster-bench-cli-") as directory:
        deployment = formed_cluster(Path(directory), password)
        try:
            spec_file = Path(directory) / "cluster.yaml"
            spec_file.write_text(yaml.safe_dump(deployment.spec.model_dump(mode="json", exclude_none=True)))
            status = [str(CLI), "status", str(spec_file), "--via", "published", "--json"]
            first_port = deployment.node_port(next(iter(deployment.nodes)))
            info = ["redis-cli", "-p", str(first_port), "cluster", "info"]
            rows.append(("cache-cluster status (6 nodes)", median_ms(status, args.rounds, env),
                         "redis-cli cluster info (1 node)", median_ms(info, args.rounds, env)))
        finally:
            deployment.stop()
    floor = median_ms([sys.executable, "-c", "pass"], args.rounds, env)
    print(f"median of {args.rounds} runs each, interpreter start-up included ({floor:.0f} ms for python -c pass)")
    for name, ours, anchor_name, anchor in rows:
        print(f"{name:45s} {ours:7.0f} ms   {anchor_name:32s} {anchor:6.0f} ms   ratio {ours / anchor:6.1f}")
    help_ms = rows[0][1]
    verdict = "met" if help_ms <= HELP_TARGET_MS else "MISSED"
    print(f"--help target <= {HELP_TARGET_MS:.0f} ms: {verdict} ({help_ms:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How long `make up` takes from "images present, nothing running" to a validated cluster.

Each run starts from nothing (`down --volumes` of the bench's project first, not timed), then runs
`make up SPEC=...` exactly as a person does, times it as a whole, and reads the time of each step from the
marks scripts/up.sh writes (CACHE_CLUSTER_TIMINGS):

  prereqs   make's `venv system images`: packages installed, dockerd answering (scripts/start-dockerd.sh),
            images up to date: all no-op checks here
  engine    up.sh's engine check: `docker info` answers, Compose v2 found
  prepare   image tags from scripts/images.env, the secret files, the password check
  render    cache-cluster render compose SPEC --output .cache-cluster/<name>/docker-compose.yml
  compose   docker compose up -d --wait: every container started and every health check passing
  init      cache-cluster init SPEC --via published: cluster formed, converged and validated
  validate  cache-cluster validate SPEC --via published
  report    printing the env contract and how to connect

and prints the median of each step and of the total over --runs runs (default 3). Target: total < 20 s.
It uses the e2e stack (tests/e2e/e2e-stack.yaml, project cctest-e2e, ports 17001+), so a `make up` of the dev
stack is never disturbed, and it removes its stack (volumes included) when it is done.

Usage: python bench/up.py [--runs N] [--spec FILE] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cache_cluster.loader import load_spec_file
from cache_cluster.targets.compose_binary import compose_binary as cache_cluster_compose_binary

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEFAULT_SPEC = "tests/e2e/e2e-stack.yaml"
STEPS = ("prereqs", "engine", "prepare", "render", "compose", "init", "validate", "report")
# up.sh writes a mark when each step ends; "prereqs" ends at its first mark, "start".
MARKS = ("start", "engine", "prepared", "render", "compose", "init", "validate", "end")
TARGET_S = 20.0


def log(message: str) -> None:
    print(f"[bench/up {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def compose_binary() -> str:
    found = cache_cluster_compose_binary()
    if found is None:
        raise SystemExit("Compose v2 not found; run `make venv`")
    return found


def environment() -> dict[str, str]:
    """The user's environment without the secrets' variables: `make up` reads or creates .cache-cluster/secrets."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(args: list[str], env: dict[str, str], timeout: float, what: str) -> float:
    """Run ARGS; return the seconds it took. Exit with its output when it fails or passes the deadline."""
    started = time.monotonic()
    try:
        result = subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{what}: no result within {timeout:.0f}s ({' '.join(args)})") from None
    if result.returncode != 0:
        raise SystemExit(f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - started


def project_name(spec: str) -> str:
    return load_spec_file(ROOT / spec).name


def one_run(spec: str, name: str, compose: str, env: dict[str, str]) -> dict[str, float]:
    log(f"removing {name} (down --volumes; not timed)")
    run([compose, "-p", name, "down", "--volumes", "--timeout", "5"], env, 120, "down --volumes")
    with tempfile.NamedTemporaryFile("r", prefix="cache-cluster-timings.", suffix=".txt") as marks_file:
        log(f"make up SPEC={spec} (deadline 300s)")
        started = time.time()
        total = run(
            ["make", "--no-print-directory", "up", f"SPEC={spec}"],
            {**env, "CACHE_CLUSTER_TIMINGS": marks_file.name}, 300, "make up",
        )
        marks = dict(line.split() for line in marks_file.read().splitlines() if line.strip())
    missing = [mark for mark in MARKS if mark not in marks]
    if missing:
        raise SystemExit(f"scripts/up.sh wrote no timing marks {missing}; is it the current version?")
    times: dict[str, float] = {}
    previous = started
    for step, mark in zip(STEPS, MARKS, strict=True):
        times[step] = float(marks[mark]) - previous
        previous = float(marks[mark])
    times["total"] = total
    log("  ".join(f"{step} {seconds:.2f}s" for step, seconds in times.items()))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--keep", action="store_true", help="leave the last run's stack running")
    options = parser.parse_args()
    env = environment()
    compose = compose_binary()
    name = project_name(options.spec)
    results: list[dict[str, float]] = []
    try:
        for index in range(options.runs):
            log(f"run {index + 1} of {options.runs}: {options.spec} (project {name}) from nothing")
            results.append(one_run(options.spec, name, compose, env))
    finally:
        if not options.keep:
            log(f"removing {name} (down --volumes)")
            subprocess.run([compose, "-p", name, "down", "--volumes", "--timeout", "5"], cwd=ROOT, env=env,
                           capture_output=True, timeout=120, check=False)
    print(f"make up SPEC={options.spec}, from nothing to a validated cluster: median of {len(results)} runs")
    for step in (*STEPS, "total"):
        values = [result[step] for result in results]
        print(f"  {step:<9} {statistics.median(values):6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in values)})")
    total = statistics.median(result["total"] for result in results)
    verdict = "within" if total < TARGET_S else "ABOVE"
    print(f"  target   < {TARGET_S:.0f} s: {verdict} target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

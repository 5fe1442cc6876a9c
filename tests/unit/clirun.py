"""Run the installed `cache-cluster` command as a subprocess, many invocations at once.

Each invocation costs ~0.3 s of interpreter start-up, so test modules start all of theirs together in a fixture
and assert on the results one test at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CLI = Path(sys.executable).with_name("cache-cluster")
PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Invocation:
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without the secrets' variables (so "unset" is real), plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    env.update(extra or {})
    return env


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, env=clean_env(env), cwd=cwd, timeout=60, check=False
    )


def run_cli_many(invocations: Mapping[str, Invocation]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every invocation concurrently; results by the same keys."""
    workers = max(2, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            key: pool.submit(run_cli, *invocation.args, env=invocation.env, cwd=invocation.cwd)
            for key, invocation in invocations.items()
        }
        return {key: future.result() for key, future in futures.items()}

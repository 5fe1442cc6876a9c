"""What the CLI does to start fast keeps behaviour: redis-py imported without OpenTelemetry works as before and
leaves OpenTelemetry importable; progress lines written without rich are the bytes rich would have written.

Which modules a command leaves out is held in tests/unit/test_layout.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from cache_cluster.cli.common import note, stderr_is_plain


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_plain_import_of_redis_loads_opentelemetry_which_is_why_the_cli_guards_it() -> None:
    # If this turns False (a redis-py that no longer imports OpenTelemetry eagerly), the guard can go.
    probe = "import sys, redis; print('opentelemetry.sdk.metrics' in sys.modules)"
    assert run_python(probe) == "True"


def test_redis_imported_without_telemetry_leaves_opentelemetry_importable() -> None:
    probe = (
        "import sys\n"
        "from cache_cluster.cli.startup import import_redis_without_telemetry\n"
        "import_redis_without_telemetry()\n"
        "import redis.observability.metrics as metrics\n"
        "from redis.observability import get_observability_instance\n"
        "print('redis' in sys.modules, 'opentelemetry' in sys.modules, metrics.OTEL_AVAILABLE,\n"
        "      get_observability_instance().is_enabled())\n"
        "import opentelemetry.sdk.metrics\n"
        "print(sys.modules['opentelemetry'] is not None)\n"
    )
    # redis-py loaded, OpenTelemetry not, redis-py's metrics off (as on an install without it), and afterwards
    # OpenTelemetry imports as usual (Pulumi needs it).
    assert run_python(probe).splitlines() == ["True False False False", "True"]


def test_the_guard_leaves_an_earlier_opentelemetry_alone() -> None:
    probe = (
        "import sys, opentelemetry.sdk.metrics\n"
        "from cache_cluster.cli.startup import import_redis_without_telemetry\n"
        "import_redis_without_telemetry()\n"
        "import redis.observability.metrics as metrics\n"
        "print(metrics.OTEL_AVAILABLE)\n"
    )
    assert run_python(probe) == "True"


@contextmanager
def plain_stderr(environ: Mapping[str, str] | None = None) -> Iterator[io.StringIO]:
    """sys.stderr as a pipe would be (no terminal), with only `environ` of rich's terminal variables set."""
    saved = {name: os.environ.pop(name, None) for name in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    os.environ.update(environ or {})
    stream, real = io.StringIO(), sys.stderr
    sys.stderr = stream
    try:
        yield stream
    finally:
        sys.stderr = real
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def printed_by_rich(line: str, style: str | None) -> str:
    with plain_stderr() as stream:
        Console(stderr=True, soft_wrap=True).print(line, markup=False, highlight=False, style=style)
    return stream.getvalue()


def printed_by_note(line: str, style: str | None) -> str:
    with plain_stderr() as stream:
        note(line, style=style)
    return stream.getvalue()


REAL_LINES = [
    "0/6 ready; waiting for redis-node-1:7001 (connection refused at 127.0.0.1:7001), redis-node-2:7002 "
    "(connection refused at 127.0.0.1:7002) and 4 more",
    "6/6 ready",
    "decision: create: create a cluster of 3 masters and 3 replicas",
    "fully ready: True after 0.49 s (15 polls)",
    "waiting: a node is still loading: redis-node-4:7004: loading its dataset",
    "[drill kill-master] killed redis-node-1 (SIGKILL); waiting for its replica",
    "ipv6 [::1]:7001 refused",
    "tab\tand bell\a and carriage return\r",
    "an emoji code :smile: and :ok:",
    "x" * 300,
    "",
    "  trailing and leading spaces  ",
    "unicode: ünïcödé ✓ 漢字",
]


@pytest.mark.parametrize("line", REAL_LINES)
@pytest.mark.parametrize("style", [None, "dim"])
def test_note_prints_exactly_what_rich_prints(line: str, style: str | None) -> None:
    assert printed_by_note(line, style) == printed_by_rich(line, style)


@settings(max_examples=300, deadline=None)
@given(line=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",))), dim=st.booleans())
def test_note_prints_what_rich_prints_for_any_text(line: str, dim: bool) -> None:
    style = "dim" if dim else None
    assert printed_by_note(line, style) == printed_by_rich(line, style)


@pytest.mark.parametrize(
    "environ",
    [{}, {"FORCE_COLOR": ""}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "0"}, {"TTY_COMPATIBLE": "1"},
     {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "2", "FORCE_COLOR": "1"}],
)
def test_stderr_is_plain_only_where_rich_sees_no_terminal(environ: dict[str, str]) -> None:
    with plain_stderr(environ):
        plain = stderr_is_plain()
        rich_terminal = Console(stderr=True).is_terminal
    assert not (plain and rich_terminal)
    # The common case, a pipe with no variables, is the fast one.
    if environ == {}:
        assert plain

"""What keeps a command's start and exit short: redis-py without OpenTelemetry, and no collection at exit.

`cache-cluster init` is a short process whose start-up counts (the formation benchmark times it end to end).
Two costs there are not the command's work: redis-py loading OpenTelemetry, and the interpreter's final garbage
collection walking every object the imports created.
"""

from __future__ import annotations

import gc
import sys

TELEMETRY_PACKAGE = "opentelemetry"


def import_redis_without_telemetry() -> None:
    """Import redis-py as it is imported where OpenTelemetry is not installed.

    redis-py 8 tries to import the OpenTelemetry SDK when it is imported (redis/observability/providers.py,
    metrics.py) and records metrics only after the application calls
    `redis.observability.get_observability_instance().init(...)`, which this CLI never does. OpenTelemetry is
    installed here only because Pulumi depends on it, and loading it costs ~50 ms of each command's start.
    A `None` entry in sys.modules makes an import fail with ImportError, so for the length of this import
    redis-py takes its "OpenTelemetry not installed" branch, which it supports (OpenTelemetry is its optional
    extra). The entry is removed afterwards: Pulumi, or anything else in this process, imports OpenTelemetry as
    usual. Does nothing when redis-py or OpenTelemetry is already loaded.
    """
    if "redis" in sys.modules or TELEMETRY_PACKAGE in sys.modules:
        return
    sys.modules[TELEMETRY_PACKAGE] = None  # type: ignore[assignment]
    try:
        import redis  # noqa: F401
    finally:
        if TELEMETRY_PACKAGE in sys.modules and sys.modules[TELEMETRY_PACKAGE] is None:
            del sys.modules[TELEMETRY_PACKAGE]


def skip_collection_at_exit() -> None:
    """Call when the command is done and the process only exits: the exit then takes milliseconds, not ~0.1 s.

    At exit the interpreter runs a full garbage collection over every object the imports made (pydantic,
    redis-py, rich, typer: tens of thousands of them); `gc.freeze()` moves them all to the permanent
    generation, which collections skip. Module teardown still frees what reference counting frees, and
    sys.stdout / sys.stderr are flushed as always; only objects in reference cycles are left to the OS.
    """
    gc.freeze()

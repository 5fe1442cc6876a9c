"""The wait step's progress on stderr: a live rich bar on a terminal, a plain line per change otherwise.

rich is imported only for the bar: in a pipeline or a log (the hook's usual place) the lines need none of it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .common import err, note, stderr_is_plain

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..hook.wait import Readiness

# A plain line is printed again after this long even if nothing changed, so a log shows the wait is alive.
REPEAT_SECONDS = 10


class WaitDisplay:
    """Pass as the hook's `on_progress`; use as a context manager around the run (it starts and stops the bar)."""

    def __init__(self, total: int) -> None:
        self.plain = stderr_is_plain() or not err().is_terminal
        self.last = ""
        self.last_time = 0.0
        self.bar: tuple[Progress, TaskID] | None = None if self.plain else _bar(total)

    def __enter__(self) -> WaitDisplay:
        if self.bar is not None:
            self.bar[0].start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar[0].stop()

    def __call__(self, statuses: Sequence[Readiness]) -> None:
        ready = sum(status.ready for status in statuses)
        waiting = [f"{s.endpoint.address} ({s.reason})" for s in statuses if not s.ready]
        line = f"{ready}/{len(statuses)} ready" + (f"; waiting for {', '.join(waiting[:4])}" if waiting else "")
        if len(waiting) > 4:
            line += f" and {len(waiting) - 4} more"
        if self.bar is None:
            now = time.monotonic()
            if line != self.last or now - self.last_time > REPEAT_SECONDS:
                note(line)
                self.last, self.last_time = line, now
            return
        progress, task = self.bar
        progress.update(task, completed=ready, description=", ".join(waiting[:3]))


def _bar(total: int) -> tuple[Progress, TaskID]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]waiting for servers"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err(),
        transient=True,
    )
    return progress, progress.add_task("", total=total)

"""What every command module shares: option types, the spec from FILE or --stack, the password, the consoles.

Imports stay light at module level (typer and the standard library): a command pulls in pydantic, redis-py or
rich only when it runs, so `cache-cluster --help` starts fast.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import CacheClusterError

if TYPE_CHECKING:
    from rich.console import Console

    from ..spec import ClusterSpec

SpecFile = Annotated[
    Path | None, typer.Argument(help="Cluster file (YAML) or Pulumi stack file (Pulumi.<stack>.yaml).")
]
StackOption = Annotated[str | None, typer.Option("--stack", "-s", help="Read Pulumi.<STACK>.yaml instead of FILE.")]
ProjectDir = Annotated[Path, typer.Option("--project-dir", help="Where the Pulumi.*.yaml files are.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]


def typer_app(name: str, help: str) -> typer.Typer:
    """A Typer app as every level of this CLI builds it: plain help (rich's costs start-up), no tracebacks."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def resolve_spec(file: Path | None, stack: str | None, project_dir: Path) -> ClusterSpec:
    from ..loader import load_spec_file, stack_file

    if file is not None and stack is not None:
        raise CacheClusterError("give either FILE or --stack, not both")
    if file is None:
        file = stack_file(stack or "dev", project_dir)
    return load_spec_file(file)


def spec_source(file: Path | None, stack: str | None, project_dir: Path) -> Path:
    """The file a spec came from (FILE, or the stack's Pulumi.<stack>.yaml)."""
    from ..loader import stack_file

    return file if file is not None else stack_file(stack or "dev", project_dir)


@functools.cache
def out() -> Console:
    from rich.console import Console

    # Wide enough for tables when output goes to a pipe or a CI log; errors are never wrapped.
    return Console(width=160) if not sys.stdout.isatty() else Console()


@functools.cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


# What rich's print rewrites in a line: control characters (it strips some, expands tabs) and `:name:` emoji codes.
_REWRITTEN_BY_RICH = re.compile(r"[\x00-\x1f\x7f]|:\S*?:")


def stderr_is_plain() -> bool:
    """True when rich, too, would treat stderr as a plain file: not a terminal, and no TTY_COMPATIBLE=1 or
    FORCE_COLOR asking it to act as one (rich.console.Console.is_terminal). When False, ask `err()`."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR"):
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one: left to rich
        return False


def note(line: str, *, style: str | None = None) -> None:
    """Print a line of progress on stderr, as `err().print(line, markup=False, highlight=False, style=style)`.

    When stderr is a plain file and rich would print the line unchanged, the line is written directly: the
    hook's progress then costs no rich import (~50 ms of start-up). Anything else goes through rich.
    """
    if stderr_is_plain() and not _REWRITTEN_BY_RICH.search(line):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        return
    err().print(line, markup=False, highlight=False, style=style)


def write_private(path: Path, text: str) -> None:
    """Replace `path` whole with `text`, readable by its owner only (0600) from the moment it exists."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)

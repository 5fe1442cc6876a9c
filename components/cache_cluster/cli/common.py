"""What every command module shares: option types, the spec from FILE or --stack, the password, the consoles.

Imports stay light at module level (typer and the standard library): a command pulls in pydantic, redis-py or
rich only when it runs, so `cache-cluster --help` starts fast.
"""

from __future__ import annotations

import functools
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


def write_private(path: Path, text: str) -> None:
    """Replace `path` whole with `text`, readable by its owner only (0600) from the moment it exists."""
    import os

    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)

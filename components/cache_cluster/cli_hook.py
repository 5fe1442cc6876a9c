"""`cache-cluster init | validate | status`: the post-deploy hook's commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the hook's commands to the CLI."""

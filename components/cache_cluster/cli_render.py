"""`cache-cluster render ...`: generated files."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the render commands to the CLI."""

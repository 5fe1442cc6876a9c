"""Shared test policy: outside CI a tier whose service is missing skips and says why; in CI it fails."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, why: str) -> None:
    """Skip (outside CI) or fail (CI=true) when a service a test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing service in CI: {why}", pytrace=False)
    pytest.skip(why)

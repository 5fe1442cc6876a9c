"""Hypothesis profiles for the hook's property tests.

default: 300 examples, random (a failure is kept in .hypothesis/ and replayed first next time).
ci (CI=true): the same 300 examples every run, so CI is repeatable.
mutation (`make mutation`): 40 examples, fixed, no database: the property tests run once per mutant.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("default", max_examples=300, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=300, derandomize=True, database=None, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("mutation", max_examples=40, derandomize=True, database=None, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "default"))

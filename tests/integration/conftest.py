"""Fixtures for the integration tier: real servers on 127.0.0.1, free ports, every process killed afterwards.

One fallback tier (primary, replica, 3 sentinels, exporter) is shared by the whole session; each test that
needs a cluster gets its own nodes, whose spec points at that tier's ports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require

from .harness import Deployment, TierPorts, free_block, make_spec, missing_binaries, new_passwords


@pytest.fixture(scope="session")
def binaries() -> None:
    missing = missing_binaries()
    require(not missing, f"{', '.join(missing)} not installed; fix: scripts/install-system.sh")


@pytest.fixture(scope="session")
def passwords() -> dict[str, str]:
    """One password per built-in user (acl.py), shared by every server of the session."""
    return new_passwords()


@pytest.fixture(scope="session")
def password(passwords: dict[str, str]) -> str:
    """The admin user's password: the one the hook signs in with."""
    return passwords["admin"]


@dataclass
class Tier:
    ports: TierPorts
    deployment: Deployment


@pytest.fixture(scope="session")
def tier(binaries: None, passwords: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    ports = TierPorts.allocate()
    # The tier's own spec: only its fallback / sentinel / exporter parts are started.
    spec = make_spec(base_port=free_block(6, bus=True), tier=ports)
    deployment = Deployment(tmp_path_factory.mktemp("tier"), spec, passwords)
    try:
        deployment.start(nodes=False)
        yield Tier(ports, deployment)
    finally:
        deployment.stop()


@dataclass
class Clusters:
    root: Path
    passwords: dict[str, str]
    tier: Tier
    made: list[Deployment] = field(default_factory=list)

    def make(
        self,
        masters: int = 3,
        replicas: int = 1,
        *,
        fallback: bool = True,
        start: bool = True,
        **overrides: object,
    ) -> Deployment:
        count = masters * (1 + replicas)
        spec = make_spec(
            masters=masters,
            replicas=replicas,
            base_port=free_block(count, bus=True),
            tier=self.tier.ports if fallback else None,
            **overrides,
        )
        deployment = Deployment(self.root / f"cluster-{len(self.made)}", spec, self.passwords, with_tier=False)
        self.made.append(deployment)
        if start:
            deployment.start()
        return deployment

    @property
    def password(self) -> str:
        return self.passwords["admin"]

    def stop(self) -> None:
        for deployment in self.made:
            deployment.stop()


@pytest.fixture
def clusters(tier: Tier, passwords: dict[str, str], tmp_path: Path) -> Iterator[Clusters]:
    made = Clusters(tmp_path, passwords, tier)
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture(scope="module")
def module_clusters(
    tier: Tier, passwords: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clusters]:
    made = Clusters(tmp_path_factory.mktemp("module"), passwords, tier)
    try:
        yield made
    finally:
        made.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 50 ms until it holds; fail saying what was awaited when `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)

"""The e2e stacks publish ports that cannot collide: with each other, with `make up`'s dev stack, or with the
kernel's ephemeral range (a port there may be the local end of any outgoing connection when a stack starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cache_cluster.loader import load_spec_file
from cache_cluster.plan import plan

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted((ROOT / "tests" / "e2e").glob("*-stack.yaml"))
EPHEMERAL_FROM = 32768  # Linux's default net.ipv4.ip_local_port_range starts here


def published(path: Path) -> set[int]:
    return {mapping.host_port for service in plan(load_spec_file(path)).services for mapping in service.ports}


def test_there_are_e2e_stacks() -> None:
    assert len(STACKS) >= 4


@pytest.mark.parametrize("path", STACKS, ids=lambda path: path.name)
def test_an_e2e_stack_publishes_below_the_ephemeral_range(path: Path) -> None:
    assert sorted(port for port in published(path) if port >= EPHEMERAL_FROM) == []


def test_no_two_stacks_publish_the_same_port() -> None:
    owners: dict[int, list[str]] = {}
    for path in [ROOT / "Pulumi.dev.yaml", *STACKS]:
        for port in published(path):
            owners.setdefault(port, []).append(path.name)
    assert {port: names for port, names in owners.items() if len(names) > 1} == {}

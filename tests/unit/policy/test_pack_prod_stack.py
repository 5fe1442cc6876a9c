"""The checked-in production stack (Pulumi.prod.yaml, the Kubernetes target) captured under Pulumi's mocks and
judged by the pack over gRPC, as `pulumi preview --policy-pack policies` would: the objects the component really
registers, not hand-written ones (test_pack_kubernetes.py covers each rule with those).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from cache_cluster.policy.analyzer import running_pack
from cache_cluster.policy.capture import Captured
from tests.unit.policy.engine_shape import PACK_DIR, ROOT, capture_stack

PIN_FIX = (
    "fix: pin every image (the spec's images.*) as name:tag@sha256:<digest> "
    "(a tag alone is accepted on dev)"
)


@pytest.fixture(scope="module")
def prod() -> list[Captured]:
    return capture_stack("prod")


def mandatory(resources: list[Captured], policy_config: dict[str, Any] | None) -> set[tuple[str, str]]:
    """(policy, resource) of every mandatory violation, from a fresh pack (a configured pack keeps its config)."""
    with running_pack(PACK_DIR) as pack:
        pack.configure(stack="prod", project="cache-cluster", policy_config=policy_config)
        return {(v.policy, v.resource) for v in pack.check(resources) if v.level == "mandatory"}


def test_the_capture_holds_the_kubernetes_objects(prod: list[Captured]) -> None:
    kinds = Counter(resource.type for resource in prod if resource.type.startswith("kubernetes:"))
    assert kinds["kubernetes:apps/v1:StatefulSet"] == 4  # nodes, fallback primary and replica, sentinels
    assert kinds["kubernetes:apps/v1:Deployment"] == 1  # the exporter
    assert kinds["kubernetes:batch/v1:Job"] == 1  # the hook
    assert kinds["kubernetes:core/v1:Secret"] == 1
    assert not any(resource.type.startswith("docker:") for resource in prod)


def test_prod_passes_with_its_checked_in_policy_config(prod: list[Captured]) -> None:
    config = json.loads((ROOT / "Pulumi.prod.policy.json").read_text())
    assert mandatory(prod, config) == set()


def test_without_the_exemption_exactly_the_exporter_and_hook_images_lack_a_digest(prod: list[Captured]) -> None:
    # The redis image is pinned by digest in Pulumi.prod.yaml; the two repositories the config exempts are not.
    assert mandatory(prod, None) == {
        ("images-pinned", "cache-cluster-deployment-redis-exporter"),
        ("images-pinned", "cache-cluster-init"),
    }


def test_the_exemption_covers_only_the_named_repositories(prod: list[Captured]) -> None:
    only_hook = {"images-pinned": {"tag_only_images": ["cache-cluster/hook"]}}
    assert mandatory(prod, only_hook) == {("images-pinned", "cache-cluster-deployment-redis-exporter")}

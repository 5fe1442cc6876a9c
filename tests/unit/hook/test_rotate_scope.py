"""Which users, servers and links rotating each secret touches (pure: from the spec alone)."""

from __future__ import annotations

import pytest

from cache_cluster.errors import CacheClusterError
from cache_cluster.hook.endpoints import targets_from_spec
from cache_cluster.hook.rotate import scope_of
from cache_cluster.spec import ClusterSpec

SPEC = ClusterSpec.model_validate(
    {"environment": "dev", "auth": {"acl_users": [{"name": "reports", "rules": "~report:* +@read"}]}}
)


def _names(endpoints: tuple[object, ...]) -> list[str]:
    return [endpoint.name for endpoint in endpoints]  # type: ignore[attr-defined]


NODES = [f"redis-node-{index}" for index in range(1, 7)]
FALLBACK = ["redis-fallback", "redis-fallback-replica"]
SENTINELS = ["redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"]


def test_each_kind_touches_the_servers_defining_its_user_and_its_links() -> None:
    targets = targets_from_spec(SPEC)
    password = scope_of("password", targets)
    assert password.users == ("app", "default")
    assert _names(password.servers) == NODES + FALLBACK + SENTINELS
    assert (password.replicas, password.sentinels) == ((), ())
    for kind in ("admin", "exporter"):
        assert scope_of(kind, targets).users == (kind,)
        assert _names(scope_of(kind, targets).servers) == NODES + FALLBACK + SENTINELS
    replication = scope_of("replication", targets)
    assert replication.users == ("replication",)
    assert _names(replication.servers) == NODES + FALLBACK  # sentinels have no replication user
    assert _names(replication.replicas) == NODES + FALLBACK  # every server may be (or become) a replica
    sentinel = scope_of("sentinel", targets)
    assert _names(sentinel.servers) == FALLBACK + SENTINELS
    assert _names(sentinel.sentinels) == SENTINELS and sentinel.replicas == ()
    reports = scope_of("acl:reports", targets)
    assert reports.users == ("reports",) and _names(reports.servers) == NODES + FALLBACK


def test_default_rotates_with_app_only_when_it_stands_for_app() -> None:
    disabled = SPEC.model_copy(update={"auth": SPEC.auth.model_copy(update={"default_user": "disabled"})})
    assert scope_of("password", targets_from_spec(disabled)).users == ("app",)


def test_unknown_secrets_are_refused_with_what_exists() -> None:
    targets = targets_from_spec(SPEC)
    with pytest.raises(CacheClusterError, match=r"no ACL user 'nobody' to rotate; fix: use one of \['acl:reports'\]"):
        scope_of("acl:nobody", targets)
    with pytest.raises(CacheClusterError, match="unknown secret 'bus'"):
        scope_of("bus", targets)
    no_tier = ClusterSpec.model_validate({"environment": "dev", "fallback": {"enabled": False}})
    with pytest.raises(CacheClusterError, match="only with the fallback tier"):
        scope_of("sentinel", targets_from_spec(no_tier))

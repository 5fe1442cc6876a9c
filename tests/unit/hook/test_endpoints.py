"""Who the hook dials: the spec's endpoints, through `--via published` or an address map."""

from __future__ import annotations

from cache_cluster.hook.endpoints import HostPort, parse_host_port, targets_from_spec
from cache_cluster.spec import ClusterSpec


def test_published_map_reaches_ipv6_and_wildcard_bindings() -> None:
    """`--via published` dials the plan's host endpoints: `[::1]:7001` means host ::1, a wildcard means loopback."""
    ipv6 = targets_from_spec(ClusterSpec.model_validate({"network": {"publish_address": "::1"}}), via="published")
    assert ipv6.nodes[0].connect == HostPort("::1", 7001)
    assert str(ipv6.nodes[0].connect) == "[::1]:7001"
    public = ClusterSpec.model_validate({"network": {"publish_address": "0.0.0.0", "allow_public_publish": True}})
    assert targets_from_spec(public, via="published").nodes[0].connect == HostPort("127.0.0.1", 7001)
    assert parse_host_port("redis-node-1:7001", what="node") == HostPort("redis-node-1", 7001)

"""Who the hook talks to, and how to reach them.

Every endpoint has the address it is known by in the deployment (its announced ``name:port``, the one in
CLUSTER NODES and in REDIS_CLUSTER_NODES) and the address the hook connects to, which differs when the hook
runs on the host against Docker-published ports (``--via published``) or through an explicit address map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .. import addresses
from ..acl import ADMIN_USER
from ..errors import CacheClusterError, Problem
from ..plan import DeploymentPlan, bracketed, plan
from ..spec import ClusterSpec

Kind = Literal["cluster", "fallback-primary", "fallback-replica", "sentinel", "exporter"]
Via = Literal["direct", "published"]


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{bracketed(self.host)}:{self.port}"


def parse_host_port(text: str, *, what: str) -> HostPort:
    """`host:port`, or `[ipv6]:port` as the plan writes IPv6 addresses (the brackets are not part of the host)."""
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CacheClusterError(f"{what} {text.strip()!r} is not host:port; fix: write it like redis-node-1:7001")
    return HostPort(host, int(port))


@dataclass(frozen=True)
class Endpoint:
    """One server. `name:port` is its identity in the deployment; `connect` is where the hook dials."""

    name: str
    port: int
    kind: Kind
    connect: HostPort
    # Host / Kubernetes node / zone; None when unknown (Docker on one machine): never conflicts.
    failure_domain: str | None = None
    # The ACL user the hook signs in as (acl.py's admin); None: password only, as the `default` user.
    username: str | None = ADMIN_USER

    @property
    def address(self) -> str:
        return f"{self.name}:{self.port}"


class AddressMap:
    """`name:port -> host:port`; an address not in the map is dialled as it is."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, HostPort] = {
            key: parse_host_port(value, what="address map target") for key, value in (mapping or {}).items()
        }

    @classmethod
    def parse(cls, text: str) -> AddressMap:
        mapping: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            source, sep, target = item.partition("=")
            if not sep:
                raise CacheClusterError(
                    f"address map entry {item!r} has no '='; fix: write name:port=host:port, e.g. "
                    "redis-node-1:7001=127.0.0.1:7001"
                )
            parse_host_port(source, what="address map source")
            mapping[source.strip()] = target.strip()
        return cls(mapping)

    def resolve(self, host: str, port: int) -> HostPort:
        return self._map.get(f"{host}:{port}", HostPort(host, port))

    def remap(self, address: tuple[str, int]) -> tuple[str, int]:
        """The shape redis-py's `RedisCluster(address_remap=...)` calls."""
        resolved = self.resolve(*address)
        return resolved.host, resolved.port

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in self._map.items()}


@dataclass(frozen=True)
class Targets:
    """Everything one hook run inspects, with the topology it must have."""

    nodes: tuple[Endpoint, ...]
    masters: int
    replicas_per_master: int
    address_map: AddressMap
    # The spec, when the run has one that describes these nodes (contract and memory checks need it).
    spec: ClusterSpec | None = None
    fallback_primary: Endpoint | None = None
    fallback_replica: Endpoint | None = None
    sentinels: tuple[Endpoint, ...] = ()
    sentinel_master_name: str | None = None
    exporter: Endpoint | None = None
    # `redis://name:port` strings as the exporter resolves them (inside its own network): passed unchanged.
    exporter_targets: tuple[str, ...] = ()

    @property
    def servers(self) -> tuple[Endpoint, ...]:
        """Every endpoint the wait step waits for (the exporter is checked by validation, not waited for)."""
        fallback = tuple(e for e in (self.fallback_primary, self.fallback_replica) if e is not None)
        return (*self.nodes, *fallback, *self.sentinels)

    def node_by_address(self) -> dict[str, Endpoint]:
        return {node.address: node for node in self.nodes}


def _endpoint(
    name: str,
    port: int,
    kind: Kind,
    address_map: AddressMap,
    domain: str | None = None,
    *,
    username: str | None = ADMIN_USER,
) -> Endpoint:
    return Endpoint(
        name=name,
        port=port,
        kind=kind,
        connect=address_map.resolve(name, port),
        failure_domain=domain,
        username=username,
    )


def address_map_for(deployment: DeploymentPlan, via: Via, explicit: AddressMap | None) -> AddressMap:
    """`--address-map` wins; `--via published` maps every service to its published host port."""
    if explicit is not None:
        return explicit
    if via == "published":
        return AddressMap(deployment.host_address_map())
    return AddressMap()


def targets_from_spec(
    spec: ClusterSpec,
    *,
    via: Via = "direct",
    address_map: AddressMap | None = None,
    exporter_targets: Sequence[str] | None = None,
    failure_domains: Mapping[str, str] | None = None,
    username: str | None = ADMIN_USER,
) -> Targets:
    """The deployment the spec describes. `exporter_targets` defaults to the plan's (names inside the network)."""
    deployment = plan(spec)
    mapping = address_map_for(deployment, via, address_map)
    domains = failure_domains or {}
    nodes = tuple(
        _endpoint(node.host or node.name, node.port, "cluster", mapping, domains.get(node.name), username=username)
        for node in deployment.nodes
    )
    fallback, sentinels = spec.fallback, spec.sentinels
    primary = replica = None
    sentinel_endpoints: tuple[Endpoint, ...] = ()
    if fallback.enabled:
        first, second = addresses.fallback_primary(spec), addresses.fallback_replica(spec)
        primary = _endpoint(first.host, first.port, "fallback-primary", mapping, username=username)
        replica = _endpoint(second.host, second.port, "fallback-replica", mapping, username=username)
        sentinel_endpoints = tuple(
            _endpoint(address.host, address.port, "sentinel", mapping, username=username)
            for address in addresses.sentinels(spec)
        )
    exporter = None
    if spec.exporter.enabled:
        found = addresses.exporter(spec)
        exporter = _endpoint(found.host, found.port, "exporter", mapping)
    return Targets(
        nodes=nodes,
        masters=spec.topology.masters,
        replicas_per_master=spec.topology.replicas_per_master,
        address_map=mapping,
        spec=spec,
        fallback_primary=primary,
        fallback_replica=replica,
        sentinels=sentinel_endpoints,
        sentinel_master_name=sentinels.master_name if fallback.enabled else None,
        exporter=exporter,
        exporter_targets=tuple(deployment.exporter_targets if exporter_targets is None else exporter_targets),
    )


def parse_node_list(text: str) -> list[tuple[HostPort, str | None]]:
    """`host:port[/failure-domain],...`"""
    parsed: list[tuple[HostPort, str | None]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        address, _, domain = item.partition("/")
        parsed.append((parse_host_port(address, what="node"), domain or None))
    if not parsed:
        raise CacheClusterError("--nodes is empty; fix: list the cluster nodes as host:port,host:port,...")
    addresses = [str(address) for address, _ in parsed]
    duplicates = sorted({address for address in addresses if addresses.count(address) > 1})
    if duplicates:
        raise CacheClusterError(f"--nodes lists {duplicates} more than once; fix: list each node once")
    return parsed


def targets_from_nodes(
    nodes: Sequence[tuple[HostPort, str | None]],
    *,
    masters: int,
    replicas_per_master: int,
    address_map: AddressMap | None = None,
    spec: ClusterSpec | None = None,
    username: str | None = ADMIN_USER,
) -> Targets:
    """Only these cluster nodes; with a spec, its fallback tier, sentinels and exporter are checked as well."""
    expected = masters * (1 + replicas_per_master)
    problems = []
    if masters < 3:
        problems.append(Problem("--masters", f"{masters} masters; Redis Cluster needs at least 3"))
    if replicas_per_master < 0:
        problems.append(Problem("--replicas", "cannot be negative"))
    if len(nodes) != expected:
        problems.append(
            Problem(
                "--nodes",
                f"{len(nodes)} nodes given, but {masters} masters with {replicas_per_master} replicas each need "
                f"{expected}; fix: list {expected} nodes or change --masters / --replicas",
            )
        )
    if problems:
        raise CacheClusterError("the node list does not match the topology", problems)
    mapping = address_map or AddressMap()
    endpoints = tuple(
        _endpoint(address.host, address.port, "cluster", mapping, domain, username=username)
        for address, domain in nodes
    )
    if spec is None:
        return Targets(nodes=endpoints, masters=masters, replicas_per_master=replicas_per_master, address_map=mapping)
    # The spec's fallback tier, sentinels and exporter, with the listed nodes and topology instead of its own.
    return replace(
        targets_from_spec(spec, address_map=mapping, username=username),
        nodes=endpoints,
        masters=masters,
        replicas_per_master=replicas_per_master,
    )

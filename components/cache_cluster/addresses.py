"""Where every server is reached: the host and port it announces, per target. Pure.

On Docker a service is reached by its own name (the network alias) and cluster nodes use one port each
(base_port + N - 1), because all of them are published on one host. On Kubernetes every pod has its own IP, so
all cluster nodes listen on `topology.base_port` and all sentinels on `sentinels.base_port`, and each server is
reached by its DNS name in the cluster:

- cluster node N: `<prefix>-N.<prefix>-headless.<namespace>.svc.<cluster domain>` (a StatefulSet pod behind
  its headless Service),
- sentinel N: `<sentinel prefix>-N.<sentinel prefix>-headless.<namespace>.svc.<cluster domain>`,
- the fallback primary / replica and the exporter: `<name>.<namespace>.svc.<cluster domain>` (a Service each).

The env contract, the plan and the hook all take addresses from here, so what the nodes announce, what the
applications are told and what the hook dials are the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import ClusterSpec

HEADLESS_SUFFIX = "-headless"


@dataclass(frozen=True)
class Address:
    name: str  # the service / pod name (redis-node-1)
    host: str  # what it announces and clients dial
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def headless_service(prefix: str) -> str:
    """The headless Service that gives the pods of a StatefulSet named `prefix` their DNS names."""
    return f"{prefix}{HEADLESS_SUFFIX}"


def service_host(spec: ClusterSpec, service: str) -> str:
    """A Service's DNS name on Kubernetes, the service name itself on Docker."""
    if spec.target != "kubernetes":
        return service
    return f"{service}.{spec.kubernetes.namespace}.svc.{spec.kubernetes.cluster_domain}"


def _pod_host(spec: ClusterSpec, pod: str, prefix: str) -> str:
    if spec.target != "kubernetes":
        return pod
    return service_host(spec, f"{pod}.{headless_service(prefix)}")


def cluster_nodes(spec: ClusterSpec) -> list[Address]:
    topology = spec.topology
    kubernetes = spec.target == "kubernetes"
    return [
        Address(name, _pod_host(spec, name, topology.node_name_prefix), topology.base_port if kubernetes else port)
        for name, port in topology.node_names_and_ports()
    ]


def sentinels(spec: ClusterSpec) -> list[Address]:
    prefix = spec.sentinels.name_prefix
    kubernetes = spec.target == "kubernetes"
    return [
        Address(name, _pod_host(spec, name, prefix), spec.sentinels.base_port if kubernetes else port)
        for name, port in spec.sentinels.names_and_ports()
    ]


def fallback_primary(spec: ClusterSpec) -> Address:
    fallback = spec.fallback
    return Address(fallback.primary_name, service_host(spec, fallback.primary_name), fallback.primary_port)


def fallback_replica(spec: ClusterSpec) -> Address:
    fallback = spec.fallback
    return Address(fallback.replica_name, service_host(spec, fallback.replica_name), fallback.replica_port)


def exporter(spec: ClusterSpec) -> Address:
    return Address(spec.exporter.name, service_host(spec, spec.exporter.name), spec.exporter.port)


def servers(spec: ClusterSpec) -> list[Address]:
    """Every Redis server and sentinel the deployment runs: the cluster nodes, then with the fallback tier its
    primary, replica and sentinels."""
    found = cluster_nodes(spec)
    if spec.fallback.enabled:
        found += [fallback_primary(spec), fallback_replica(spec), *sentinels(spec)]
    return found

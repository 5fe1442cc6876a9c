"""Where the deploying machine reaches the ports a Docker engine publishes: the engine's own host when it is remote.

Pure: a provider's `host` (DOCKER_HOST syntax) and the plan in, addresses out.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from .plan import DeploymentPlan, bracketed
from .spec import WILDCARD_ADDRESSES

LOCAL_DOCKER_SCHEMES = ("", "unix", "npipe", "fd")


def engine_host(docker_host: str | None) -> str | None:
    """The remote Docker engine's host, from a provider `host` (DOCKER_HOST syntax); None for a local engine."""
    if not docker_host:
        return None
    parsed = urllib.parse.urlsplit(docker_host)
    if parsed.scheme in LOCAL_DOCKER_SCHEMES or not parsed.hostname or parsed.hostname == "localhost":
        return None
    try:
        if ipaddress.ip_address(parsed.hostname).is_loopback:
            return None
    except ValueError:
        pass  # a name
    return parsed.hostname


def reachable_address_map(deployment: DeploymentPlan, remote: str | None) -> dict[str, str]:
    """`name:port -> host:port` as the deploying machine reaches the published ports.

    A local engine: the plan's map (a wildcard binding is dialled on loopback). A remote engine: its host for a
    wildcard binding, the binding's own address otherwise; a loopback binding on a remote host is reachable from
    nowhere but that host, so it maps nothing.
    """
    if remote is None:
        return deployment.host_address_map()
    mapping: dict[str, str] = {}
    for service in deployment.services:
        for port in service.ports:
            if port.host_ip in WILDCARD_ADDRESSES:
                host = remote
            elif ipaddress.ip_address(port.host_ip).is_loopback:
                continue
            else:
                host = port.host_ip
            mapping[f"{service.name}:{port.container_port}"] = f"{bracketed(host)}:{port.host_port}"
    return mapping

"""How a drill hurts a node: the Faults protocol, and its Docker implementation (the docker CLI).

A drill hands over the node's hook Endpoint; an implementation maps it to whatever runs the node (Docker: the
service named like the endpoint; bench/failover.py: the process listening on its port). The Docker one finds a
Compose service's container by the labels Compose sets, so it only ever touches the drill's own project.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Protocol

from ..acl import ADMIN_USER
from ..errors import CacheClusterError
from ..hook.endpoints import Endpoint

DOCKER_TIMEOUT = 60.0
ISOLATED_BURST = 12
STOP_GRACE_SECONDS = 10


class Faults(Protocol):
    """What a drill can do to a node. `partition` cuts it from every other node (and from the host)."""

    def kill(self, node: Endpoint) -> None: ...
    def stop(self, node: Endpoint) -> None: ...
    def start(self, node: Endpoint) -> None: ...
    def restart(self, node: Endpoint) -> None: ...
    def partition(self, node: Endpoint) -> None: ...
    def heal(self, node: Endpoint) -> None: ...

    def isolated_writes(self, node: Endpoint, key_prefix: str) -> list[str] | None:
        """A burst of writes (SET, then WAIT 1) from a client on the isolated node's side, about half a second of
        them, one line each: `<unix seconds> <microseconds>|<key>|<SET reply>|<WAIT reply>` (the node's TIME just
        before the write); None when unsupported."""
        ...


class DockerFaults:
    """Faults on a Compose project's containers through the docker CLI (kill, stop, start, network disconnect)."""

    def __init__(self, project: str, network: str, password: str) -> None:
        self.project = project
        self.network = network
        self._password = password
        self._aliases: dict[str, list[str]] = {}

    def _docker(self, *args: str, env: dict[str, str] | None = None) -> str:
        try:
            done = subprocess.run(
                ["docker", *args], capture_output=True, text=True, timeout=DOCKER_TIMEOUT, env=env, check=False
            )
        except FileNotFoundError:
            raise CacheClusterError("the docker CLI is not installed; fix: run drills on the Docker host") from None
        except subprocess.TimeoutExpired:
            raise CacheClusterError(f"docker {args[0]} did not finish within {DOCKER_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            raise CacheClusterError(f"docker {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def container(self, name: str) -> str:
        found = self._docker(
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={name}",
        ).split()
        if len(found) != 1:
            raise CacheClusterError(
                f"Compose project {self.project!r} has {len(found)} containers for service {name!r}, expected 1; "
                "fix: start the stack first (make up SPEC=...)"
            )
        return found[0]

    def kill(self, node: Endpoint) -> None:
        self._docker("kill", "--signal", "KILL", self.container(node.name))

    def stop(self, node: Endpoint) -> None:
        self._docker("stop", "--time", str(STOP_GRACE_SECONDS), self.container(node.name))

    def start(self, node: Endpoint) -> None:
        self._docker("start", self.container(node.name))

    def restart(self, node: Endpoint) -> None:
        self._docker("restart", "--time", str(STOP_GRACE_SECONDS), self.container(node.name))

    def partition(self, node: Endpoint) -> None:
        name = node.name
        container = self.container(name)
        networks = json.loads(self._docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", container))
        endpoint = networks.get(self.network)
        if endpoint is None:
            raise CacheClusterError(f"{name} is not on network {self.network!r}; fix: check the spec's network.name")
        # The aliases (the service name among them) must come back on reconnect, or the name stops resolving.
        self._aliases[name] = sorted({a for a in endpoint.get("Aliases") or [] if not container.startswith(a)})
        self._docker("network", "disconnect", self.network, container)

    def heal(self, node: Endpoint) -> None:
        aliases = self._aliases.pop(node.name, [node.name])
        flags = [item for alias in aliases for item in ("--alias", alias)]
        self._docker("network", "connect", *flags, self.network, self.container(node.name))

    def isolated_writes(self, node: Endpoint, key_prefix: str) -> list[str] | None:
        # One `docker exec` costs a few hundred ms; a loop inside it writes every ~40 ms and stamps each write with
        # the node's TIME (the host's clock: containers share the kernel's). The password travels by name in the
        # environment (REDISCLI_AUTH), never in argv.
        env = {**os.environ, "REDISCLI_AUTH": self._password}
        cli = f"redis-cli --no-auth-warning --user {ADMIN_USER} -p {node.port}"  # the hook's user, as the drill's
        script = (
            f'i=0; while [ $i -lt {ISOLATED_BURST} ]; do t=$({cli} time 2>&1 | tr "\\n" " "); '
            f'r=$({cli} set "$1:$i" isolated 2>&1 | tr "\\n" " "); w=$({cli} wait 1 20 2>&1 | tr "\\n" " "); '
            'echo "$t|$1:$i|$r|$w"; i=$((i+1)); done'
        )
        try:
            output = self._docker(
                "exec", "-e", "REDISCLI_AUTH", self.container(node.name), "sh", "-c", script, "sh", key_prefix, env=env
            )
        except CacheClusterError as error:
            return [f"{time.time():.6f} 0|{key_prefix}|{error}|"]
        return [line for line in output.splitlines() if line.count("|") >= 3]

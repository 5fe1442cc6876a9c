"""The cluster as a drill sees it: who is master of which slots now, found by asking the nodes that answer.

Node IDs are the stable identity (a failover swaps roles, a restart may change an IP); each endpoint's ID is
learned once from CLUSTER MYID and every view is read from CLUSTER NODES.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from ..hook.connect import call, client, close
from ..hook.converge import wait_fully_ready
from ..hook.endpoints import Endpoint, HostPort, Targets
from ..hook.inspect import NodeEntry, parse_cluster_nodes, parse_info
from ..placement import SlotRange
from ..tls import ClientFiles

PROBE_TIMEOUT = 0.5
POLL_SECONDS = 0.1
PROGRESS_SECONDS = 5.0
Log = Callable[[str], None]


class DrillError(Exception):
    """A drill could not run or a wait passed its deadline; the message says what it waited for."""


@dataclass(frozen=True)
class Shard:
    master: Endpoint
    replicas: tuple[Endpoint, ...]
    slots: tuple[SlotRange, ...]


class Cluster:
    """The deployment's cluster nodes, reached through the targets' address map."""

    def __init__(self, targets: Targets, password: str) -> None:
        self.targets = targets
        self.password = password
        self._ids: dict[str, Endpoint] = {}
        self._turn = 0  # owner_of asks the nodes round robin, so one dead node does not slow every lookup

    @property
    def tls(self) -> ClientFiles | None:
        """The client's TLS files when the servers speak TLS (every endpoint of a deployment has the same)."""
        return self.targets.nodes[0].tls if self.targets.nodes else None

    def connect(self, endpoint: Endpoint, timeout: float = PROBE_TIMEOUT) -> redis.Redis:
        return client(endpoint, self.password, timeout=timeout)

    def dial(self, host: str, port: int) -> HostPort:
        """Where to connect for an address a node announces (MOVED, CLUSTER NODES)."""
        return self.targets.address_map.resolve(host, port)

    def endpoint(self, name: str) -> Endpoint:
        for node in self.targets.nodes:
            if node.name == name or node.address == name:
                return node
        raise DrillError(f"no cluster node named {name}")

    def ask(self, endpoint: Endpoint, *command: str | int) -> object:
        connection = self.connect(endpoint)
        try:
            return call(connection, *command)
        finally:
            close(connection)

    def node_ids(self) -> dict[str, Endpoint]:
        """node ID -> endpoint, for every endpoint that answers (learned once, then remembered)."""
        for node in self.targets.nodes:
            if node in self._ids.values():
                continue
            try:
                self._ids[str(self.ask(node, "CLUSTER MYID"))] = node
            except redis.RedisError:
                continue
        return dict(self._ids)

    def view(self, endpoint: Endpoint) -> tuple[NodeEntry, ...]:
        return parse_cluster_nodes(str(self.ask(endpoint, "CLUSTER NODES")))

    def any_view(self, *, avoid: tuple[Endpoint, ...] = ()) -> tuple[Endpoint, tuple[NodeEntry, ...]]:
        for node in self.targets.nodes:
            if node in avoid:
                continue
            try:
                return node, self.view(node)
            except redis.RedisError:
                continue
        raise DrillError("no cluster node answered")

    def owner_of(self, slot: int) -> HostPort:
        """Where to send writes for `slot`: the live master the first answering node names (asked in turn)."""
        nodes = self.targets.nodes
        self._turn = (self._turn + 1) % len(nodes)
        for node in nodes[self._turn :] + nodes[: self._turn]:
            try:
                entries = self.view(node)
            except redis.RedisError:
                continue
            for entry in entries:
                if entry.is_master and not entry.failed and any(r.start <= slot <= r.end for r in entry.slots):
                    return self.dial(entry.hostname or entry.ip, entry.port)
        raise LookupError(f"no node names a live owner of slot {slot}")

    def shards(self, *, avoid: tuple[Endpoint, ...] = ()) -> list[Shard]:
        """The shards as one answering node sees them, ordered by their first slot."""
        _, entries = self.any_view(avoid=avoid)
        by_id = self.node_ids()
        shards = []
        for master in (entry for entry in entries if entry.is_master and entry.slots and not entry.failed):
            replicas = tuple(
                by_id[entry.node_id]
                for entry in entries
                if entry.is_replica and entry.master_id == master.node_id and entry.node_id in by_id
            )
            if master.node_id in by_id:
                shards.append(Shard(by_id[master.node_id], replicas, master.slots))
        return sorted(shards, key=lambda shard: shard.slots[0].start)

    def role(self, endpoint: Endpoint) -> tuple[str, str | None, str | None]:
        """(role, master's announced address or None, master link status or None) from INFO replication."""
        connection = self.connect(endpoint)
        try:
            info = {key: str(value) for key, value in connection.info("replication").items()}
        finally:
            close(connection)
        role = info.get("role", "?")
        if role != "slave":
            return role, None, None
        return role, f"{info.get('master_host')}:{info.get('master_port')}", info.get("master_link_status")

    def cluster_state(self, endpoint: Endpoint) -> str:
        return parse_info(str(self.ask(endpoint, "CLUSTER INFO"))).get("cluster_state", "?")

    def wait_converged(self, *, timeout: float, log: Log) -> float:
        """Until every node answers and the cluster is fully ready (hook.converge's definition)."""
        log(f"waiting up to {timeout:.0f} s for every node to be up and the cluster fully ready")
        started = time.monotonic()
        deadline = started + timeout
        while True:
            clients = {}
            try:
                for node in self.targets.nodes:
                    clients[node.address] = self.connect(node, timeout=1.0)
                    call(clients[node.address], "PING")
                result = wait_fully_ready(self.targets.nodes, clients, deadline=deadline)
                if result.ready:
                    return time.monotonic() - started
                problems = "; ".join(result.problems[:4])
            except redis.RedisError as error:
                problems = f"a node does not answer yet ({type(error).__name__})"
            finally:
                for connection in clients.values():
                    close(connection)
            if time.monotonic() >= deadline:
                raise DrillError(f"the cluster was not fully ready within {timeout:.0f} s: {problems}")
            time.sleep(POLL_SECONDS)


def wait_for(what: str, probe: Callable[[], bool], *, timeout: float, log: Log, poll: float = POLL_SECONDS) -> float:
    """Poll `probe` (errors count as not yet) until true; DrillError naming `what` after `timeout` seconds."""
    log(f"waiting up to {timeout:.0f} s for {what}")
    started = time.monotonic()
    next_progress = started + PROGRESS_SECONDS
    while True:
        try:
            if probe():
                elapsed = time.monotonic() - started
                log(f"{what}: after {elapsed:.2f} s")
                return elapsed
        except redis.RedisError:
            pass
        now = time.monotonic()
        if now - started > timeout:
            raise DrillError(f"timed out after {timeout:.0f} s waiting for {what}")
        if now >= next_progress:
            log(f"still waiting for {what} ({now - started:.0f} s of {timeout:.0f} s)")
            next_progress = now + PROGRESS_SECONDS
        time.sleep(poll)

"""Read the state of each cluster node: the hook's one reader (inspect, converge and validate all use it).

Parsing is pure; `inspect_node` and `count_keys_in` are the only parts that talk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import redis

from ..placement import SlotRange
from ..spec import SLOT_COUNT
from .connect import call
from .endpoints import Endpoint

# The node is gone as far as the cluster is concerned (noaddr: its address now answers with another ID).
FAILED_FLAGS = frozenset({"fail", "noaddr"})
# Anything short of a healthy peer: failed, suspected by one node (fail?), or not yet met (handshake).
SUSPECT_FLAGS = frozenset({*FAILED_FLAGS, "fail?", "handshake"})


@dataclass(frozen=True)
class NodeEntry:
    """One line of CLUSTER NODES: a node as some node sees it."""

    node_id: str
    ip: str
    port: int
    bus_port: int
    hostname: str
    flags: frozenset[str]
    master_id: str | None
    config_epoch: int
    link: str
    slots: tuple[SlotRange, ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def is_replica(self) -> bool:
        return "slave" in self.flags

    @property
    def is_myself(self) -> bool:
        return "myself" in self.flags

    @property
    def failed(self) -> bool:
        return bool(self.flags & FAILED_FLAGS)

    @property
    def suspect(self) -> bool:
        return bool(self.flags & SUSPECT_FLAGS)

    @property
    def healthy(self) -> bool:
        return self.is_myself or (not self.suspect and self.link == "connected")

    @property
    def slot_count(self) -> int:
        return sum(slot_range.size for slot_range in self.slots)

    @property
    def announced(self) -> str:
        """`hostname:port` when a hostname is announced, else `ip:port`."""
        host = self.hostname or self.ip
        if not self.port:
            return host or "<no address>"
        return f"{host}:{self.port}"


def parse_cluster_nodes(text: str) -> tuple[NodeEntry, ...]:
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        node_id, address, flags, master, _ping, _pong, epoch, link, *slot_fields = fields
        # ip:port@cport[,hostname]; ip is empty for a node whose address is unknown (noaddr, or a lone node).
        endpoint, _, hostname = address.partition(",")
        host_port, _, bus = endpoint.partition("@")
        ip, _, port = host_port.rpartition(":")
        slots = []
        for item in slot_fields:
            if item.startswith("["):
                continue  # a slot being imported or migrated: not an owned slot
            start, _, end = item.partition("-")
            slots.append(SlotRange(int(start), int(end or start)))
        entries.append(
            NodeEntry(
                node_id=node_id,
                ip=ip,
                port=int(port or 0),
                bus_port=int(bus.partition(",")[0] or 0),
                hostname=hostname.split(",")[0],
                flags=frozenset(flags.split(",")),
                master_id=None if master == "-" else master,
                config_epoch=int(epoch),
                link=link,
                slots=tuple(sorted(slots)),
            )
        )
    return tuple(entries)


def parse_info(text: str) -> dict[str, str]:
    """`key:value` lines of INFO / CLUSTER INFO; section headers and blank lines are skipped."""
    info = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    return info


def parse_client_info(text: str) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in text.split())


def ranges_of(slots: Iterable[int]) -> tuple[SlotRange, ...]:
    """Contiguous ranges of a set of slots."""
    ordered = sorted(set(slots))
    ranges: list[SlotRange] = []
    for slot in ordered:
        if ranges and ranges[-1].end == slot - 1:
            ranges[-1] = SlotRange(ranges[-1].start, slot)
        else:
            ranges.append(SlotRange(slot, slot))
    return tuple(ranges)


def slots_in(ranges: Iterable[SlotRange]) -> set[int]:
    return {slot for slot_range in ranges for slot in range(slot_range.start, slot_range.end + 1)}


@dataclass(frozen=True)
class NodeState:
    """What one cluster node says about itself and its view of the cluster."""

    endpoint: Endpoint
    node_id: str
    # The node's own IP as it sees itself on our connection (CLIENT INFO laddr): what CLUSTER MEET needs.
    ip: str
    dbsize: int
    cluster_info: dict[str, str]
    nodes: tuple[NodeEntry, ...]
    replication: dict[str, str]
    # Keys this node holds in slots that no node claims (counted only when such slots exist and dbsize > 0).
    keys_in_uncovered_slots: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def myself(self) -> NodeEntry:
        for entry in self.nodes:
            if entry.is_myself:
                return entry
        raise ValueError(f"{self.endpoint.address}: CLUSTER NODES has no 'myself' line")

    @property
    def others(self) -> tuple[NodeEntry, ...]:
        return tuple(entry for entry in self.nodes if not entry.is_myself)

    @property
    def lone(self) -> bool:
        """Knows only itself (a fresh node, or one that was never met)."""
        return not self.others

    @property
    def empty(self) -> bool:
        return self.dbsize == 0

    @property
    def state_ok(self) -> bool:
        return self.cluster_info.get("cluster_state") == "ok"

    @property
    def bus_port(self) -> int:
        return self.myself.bus_port or self.endpoint.port + 10000

    def known_ids(self) -> set[str]:
        return {entry.node_id for entry in self.nodes if "handshake" not in entry.flags}

    def slot_owners(self) -> dict[str, tuple[SlotRange, ...]]:
        """master id -> slots, in this node's view."""
        return {entry.node_id: entry.slots for entry in self.nodes if entry.slots}


def uncovered_slots(states: Sequence[NodeState]) -> set[int]:
    """Slots that no node, in any node's view, says anyone owns."""
    return uncovered_by(entry.slots for state in states for entry in state.nodes)


def uncovered_by(claims: Iterable[Iterable[SlotRange]]) -> set[int]:
    # A bytearray marks ranges at C speed; sets of ints per view cost tens of ms on every run.
    covered = bytearray(SLOT_COUNT)
    for ranges in claims:
        for slot_range in ranges:
            covered[slot_range.start : slot_range.end + 1] = b"\x01" * slot_range.size
    if covered.count(1) == SLOT_COUNT:
        return set()
    return {slot for slot, owned in enumerate(covered) if not owned}


def inspect_node(connection: redis.Redis, endpoint: Endpoint) -> NodeState:
    pipe = connection.pipeline(transaction=False)
    call(pipe, "CLUSTER MYID")
    call(pipe, "CLIENT INFO")
    call(pipe, "DBSIZE")
    call(pipe, "CLUSTER INFO")
    call(pipe, "CLUSTER NODES")
    call(pipe, "INFO", "replication")
    myid, client_info, dbsize, cluster_info, nodes, replication = pipe.execute()
    laddr = parse_client_info(str(client_info)).get("laddr", "")
    ip = laddr.rpartition(":")[0].strip("[]") or endpoint.connect.host
    replication_info = replication if isinstance(replication, dict) else parse_info(str(replication))
    return NodeState(
        endpoint=endpoint,
        node_id=str(myid),
        ip=ip,
        dbsize=int(dbsize),
        cluster_info=parse_info(str(cluster_info)),
        nodes=parse_cluster_nodes(str(nodes)),
        replication={key: str(value) for key, value in replication_info.items()},
    )


def read_states(nodes: Sequence[Endpoint], clients: Mapping[str, redis.Redis]) -> list[NodeState]:
    """One pipelined read of every node that has a client: one round of the hook's reader."""
    return [inspect_node(clients[node.address], node) for node in nodes if node.address in clients]


def inspect_nodes(nodes: Sequence[Endpoint], clients: Mapping[str, redis.Redis]) -> list[NodeState]:
    """`read_states`, plus the keys each node holds in unowned slots, counted only when there are some."""
    states = read_states(nodes, clients)
    missing = uncovered_slots(states)
    if missing and len(missing) < SLOT_COUNT:
        return [
            replace(
                state,
                keys_in_uncovered_slots=count_keys_in(clients[state.endpoint.address], missing) if state.dbsize else 0,
            )
            for state in states
        ]
    if missing:
        # No slot is owned at all: any key a node holds is in an unowned slot.
        return [replace(state, keys_in_uncovered_slots=state.dbsize) for state in states]
    return states


def count_keys_in(connection: redis.Redis, slots: Iterable[int]) -> int:
    """Keys a node holds in the given slots (pipelined: one round trip)."""
    ordered = sorted(slots)
    if not ordered:
        return 0
    pipe = connection.pipeline(transaction=False)
    for slot in ordered:
        call(pipe, "CLUSTER COUNTKEYSINSLOT", slot)
    return sum(int(count) for count in pipe.execute())

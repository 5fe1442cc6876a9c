"""Constructed cluster states for the hook's pure parts: CLUSTER NODES lines as Redis writes them, parsed by the
hook's own parser into the NodeState each node would report. No servers.

Node `i` is `redis-node-i`, port 7000 + i, node ID `nid(i)` (i as 40 hex digits).
"""

from __future__ import annotations

from dataclasses import replace

from cache_cluster.hook.endpoints import Endpoint, HostPort
from cache_cluster.hook.inspect import NodeState, parse_cluster_nodes

SLOTS = ["0-5460", "5461-10921", "10922-16383"]


def nid(index: int) -> str:
    return f"{index:040x}"


def address(index: int) -> str:
    return f"redis-node-{index}:{7000 + index}"


def line(
    index: int,
    *,
    flags: str = "master",
    master: int | None = None,
    slots: str = "",
    hostname: str | None = None,
    epoch: int = 0,
    link: str = "connected",
    address: str | None = None,
) -> str:
    """One CLUSTER NODES line for node `index`; `address` overrides `ip:port@bus` (e.g. ':0@0' for noaddr)."""
    host = hostname or f"redis-node-{index}"
    where = address if address is not None else f"127.0.0.1:{7000 + index}@{17000 + index}"
    parent = nid(master) if master is not None else "-"
    return f"{nid(index)} {where},{host} {flags} {parent} 0 0 {epoch} {link} {slots}".strip()


def state(
    index: int,
    lines: list[str],
    *,
    dbsize: int = 0,
    domain: str | None = None,
    cluster_state: str = "fail",
    current_epoch: int = 0,
    link_status: str | None = None,
    keys_in_uncovered: int = 0,
) -> NodeState:
    """What node `index` reports when its CLUSTER NODES is `lines` (its own line gets the `myself` flag)."""
    name = f"redis-node-{index}"
    endpoint = Endpoint(name, 7000 + index, "cluster", HostPort("127.0.0.1", 7000 + index), domain)
    own = [_as_myself(text) if text.startswith(nid(index)) else text for text in lines]
    replication = {"role": "slave" if link_status else "master"}
    if link_status:
        replication["master_link_status"] = link_status
    return NodeState(
        endpoint=endpoint,
        node_id=nid(index),
        ip="127.0.0.1",
        dbsize=dbsize,
        cluster_info={"cluster_state": cluster_state, "cluster_current_epoch": str(current_epoch)},
        nodes=parse_cluster_nodes("\n".join(own)),
        replication=replication,
        keys_in_uncovered_slots=keys_in_uncovered,
    )


def _as_myself(text: str) -> str:
    node_id, where, flags, rest = text.split(" ", 3)
    return f"{node_id} {where} myself,{flags} {rest}"


def lone(index: int, *, slots: str = "", epoch: int = 0, **kwargs: object) -> NodeState:
    """A node that knows only itself (fresh, or never met), optionally claiming `slots`."""
    return state(index, [line(index, slots=slots, epoch=epoch)], current_epoch=epoch, **kwargs)  # type: ignore[arg-type]


def formed_lines(count: int = 6, masters: int = 3) -> list[str]:
    """A formed cluster: nodes 1..masters own SLOTS, the others replicate them in turn (4 -> 1, 5 -> 2, ...)."""
    lines = [line(i + 1, slots=SLOTS[i], epoch=i + 1) for i in range(masters)]
    lines += [line(i + 1, flags="slave", master=(i - masters) % masters + 1) for i in range(masters, count)]
    return lines


def formed(count: int = 6, masters: int = 3, lines: list[str] | None = None) -> list[NodeState]:
    """Every node of a formed cluster, each seeing the same `lines`."""
    text = lines or formed_lines(count, masters)
    return [
        state(i + 1, text, cluster_state="ok", link_status="up" if i >= masters else None) for i in range(count)
    ]


def views(indexes: range | list[int], lines: list[str], **kwargs: object) -> list[NodeState]:
    """Nodes `indexes`, each seeing `lines`."""
    return [state(index, lines, cluster_state="ok", **kwargs) for index in indexes]  # type: ignore[arg-type]


def same_id_as(other: NodeState, index: int) -> NodeState:
    """Node `index`'s endpoint answering with `other`'s node ID (two addresses reaching one server)."""
    return replace(lone(index), node_id=other.node_id, nodes=other.nodes)

"""Step 6: validate the deployment against the spec. Each check says pass / fail / warn / skip and why.

Every check reads what is deployed (the servers' own answers) and compares it with the spec; rules the spec
model already enforces are not checked again here. `write=False` (the `status` command) leaves out every
check that writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from ..contract import env_contract
from ..spec import SLOT_COUNT, ClusterSpec
from .connect import call, scrub, tls_arguments
from .converge import readiness_problems
from .endpoints import Endpoint, Targets
from .inspect import NodeEntry, NodeState, uncovered_by

Status = Literal["pass", "fail", "warn", "skip"]
PROBE_KEY_PREFIX = "cache-cluster:hook-probe:"
SCRAPE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def _check(name: str, ok: bool, detail: str) -> Check:
    return Check(name, "pass" if ok else "fail", detail)


def _guard(name: str, password: str, run: Callable[[], Check]) -> Check:
    """A check that cannot run is a failed check with the reason, never a traceback."""
    try:
        return run()
    except redis.RedisError as error:
        return Check(name, "fail", scrub(f"{type(error).__name__}: {error}", password))


def validate(
    targets: Targets,
    password: str,
    views: Sequence[NodeState],
    clients: Mapping[str, redis.Redis],
    *,
    write: bool = True,
) -> list[Check]:
    """`views`: a fresh read of the reachable cluster nodes (inspect's reader); `clients`: open clients by
    endpoint address."""
    checks = [
        _cluster_health(targets, views),
        _slot_coverage(views),
        _shards(targets, views),
        _contract(targets, views),
    ]
    if write:
        checks.append(_guard("cluster-write-read", password, lambda: _cluster_write_read(targets, password, views)))
    checks += _fallback(targets, password, clients, write=write)
    checks.append(_guard("server-config", password, lambda: _server_config(targets, views, clients)))
    checks.append(_exporter(targets))
    return checks


def _reference(views: Sequence[NodeState]) -> NodeState | None:
    return views[0] if views else None


def _masters(view: NodeState) -> list[NodeEntry]:
    return [entry for entry in view.nodes if entry.is_master and entry.slots and not entry.failed]


def _cluster_health(targets: Targets, views: Sequence[NodeState]) -> Check:
    unreachable = len(targets.nodes) - len(views)
    problems = readiness_problems(views, {view.node_id for view in views})
    if unreachable:
        problems.insert(0, f"{unreachable} of {len(targets.nodes)} nodes did not answer")
    if not problems:
        return _check("cluster-state", True, f"{len(views)} nodes: cluster_state:ok, all connected, one slot map")
    shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
    return _check("cluster-state", False, shown)


def _slot_coverage(views: Sequence[NodeState]) -> Check:
    view = _reference(views)
    if view is None:
        return _check("slot-coverage", False, "no cluster node answered")
    owned = SLOT_COUNT - len(uncovered_by(entry.slots for entry in _masters(view)))
    return _check(
        "slot-coverage",
        owned == SLOT_COUNT,
        f"{owned} of {SLOT_COUNT} slots served by a live master (as {view.endpoint.address} sees it)",
    )


def _shards(targets: Targets, views: Sequence[NodeState]) -> Check:
    view = _reference(views)
    if view is None:
        return _check("shards", False, "no cluster node answered")
    masters = _masters(view)
    links = {v.node_id: v.replication.get("master_link_status") for v in views}
    problems = []
    if len(masters) != targets.masters:
        problems.append(f"{len(masters)} masters own slots, the spec has {targets.masters}")
    for master in masters:
        replicas = [e for e in view.nodes if e.is_replica and e.master_id == master.node_id and not e.failed]
        linked = [e for e in replicas if links.get(e.node_id) == "up"]
        if len(linked) != targets.replicas_per_master or len(replicas) != targets.replicas_per_master:
            problems.append(
                f"{master.announced} has {len(replicas)} replicas ({len(linked)} linked), "
                f"expected {targets.replicas_per_master}"
            )
    ok_detail = f"{len(masters)} masters, each with {targets.replicas_per_master} linked replica(s)"
    return _check("shards", not problems, "; ".join(problems) or ok_detail)


def _contract(targets: Targets, views: Sequence[NodeState]) -> Check:
    if targets.spec is None:
        return Check("env-contract", "skip", "no spec given: REDIS_CLUSTER_NODES unknown")
    view = _reference(views)
    if view is None:
        return _check("env-contract", False, "no cluster node answered")
    expected = set(env_contract(targets.spec).public["REDIS_CLUSTER_NODES"].split(","))
    deployed = {entry.announced for entry in view.nodes if not entry.failed}
    if expected == deployed:
        return _check("env-contract", True, f"REDIS_CLUSTER_NODES matches the {len(deployed)} announced nodes")
    missing, extra = sorted(expected - deployed), sorted(deployed - expected)
    detail = []
    if missing:
        detail.append(f"in REDIS_CLUSTER_NODES but not announced: {', '.join(missing)}")
    if extra:
        detail.append(f"announced but not in REDIS_CLUSTER_NODES: {', '.join(extra)}")
    return _check("env-contract", False, "; ".join(detail))


def probe_keys(masters: Sequence[NodeEntry]) -> dict[str, str]:
    """One key per master (master id -> key), found by hash slot so every shard is written."""
    keys: dict[str, str] = {}
    owner = {slot_range: entry.node_id for entry in masters for slot_range in entry.slots}
    index = 0
    while len(keys) < len(masters) and index < 100 * SLOT_COUNT:
        key = f"{PROBE_KEY_PREFIX}{{{index}}}"
        slot = key_slot(key.encode())
        for slot_range, node_id in owner.items():
            if slot_range.start <= slot <= slot_range.end:
                keys.setdefault(node_id, key)
        index += 1
    return keys


def _cluster_write_read(targets: Targets, password: str, views: Sequence[NodeState]) -> Check:
    view = _reference(views)
    if view is None:
        return _check("cluster-write-read", False, "no cluster node answered")
    keys = probe_keys(_masters(view))
    first = next(node for node in targets.nodes if node.address == view.endpoint.address)
    cluster = RedisCluster(
        host=first.connect.host,
        port=first.connect.port,
        username=first.username,
        password=password,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        # Nodes announce hostnames; the map turns them into addresses this process can reach.
        address_remap=targets.address_map.remap,
        **tls_arguments(first.tls),
    )
    failures = []
    try:
        for node_id, key in keys.items():
            value = f"probe-{node_id[:8]}"
            # The TTL cleans up if the DEL below never runs.
            cluster.set(key, value, px=60_000)
            if cluster.get(key) != value:
                failures.append(f"{key} read back wrong")
            cluster.delete(key)
    finally:
        cluster.close()
    return _check(
        "cluster-write-read",
        not failures and len(keys) == len(_masters(view)),
        "; ".join(failures) or f"wrote, read and deleted a key on each of {len(keys)} masters through RedisCluster",
    )


def fallback_checks(
    targets: Targets, password: str, clients: Mapping[str, redis.Redis], *, write: bool
) -> list[Check]:
    """The fallback tier's checks; with write=False they are read-only (and cheap enough to poll)."""
    return _fallback(targets, password, clients, write=write)


def _fallback(
    targets: Targets, password: str, clients: Mapping[str, redis.Redis], *, write: bool
) -> list[Check]:
    primary, replica = targets.fallback_primary, targets.fallback_replica
    if primary is None or replica is None:
        return [Check("fallback", "skip", "no fallback tier in this run")]
    checks = []
    agreed: list[str] = []
    checks.append(_guard("sentinels-agree", password, lambda: _sentinels_agree(targets, clients, agreed)))
    current = _current_primary(targets, agreed[0] if agreed else None)
    if write:
        checks.append(_guard("fallback-writable", password, lambda: _fallback_writable(current, clients)))
    other = replica if current is primary else primary
    checks.append(_guard("fallback-replication", password, lambda: _fallback_replication(other, clients)))
    checks.append(_guard("sentinel-quorum", password, lambda: _sentinel_quorum(targets, clients)))
    return checks


def _current_primary(targets: Targets, agreed: str | None) -> Endpoint:
    """The primary the sentinels agree on (it moves after a sentinel failover); the spec's when unknown."""
    assert targets.fallback_primary is not None
    replica = targets.fallback_replica
    if replica is not None and agreed in {replica.address, str(replica.connect)}:
        return replica
    return targets.fallback_primary


def _sentinels_agree(targets: Targets, clients: Mapping[str, redis.Redis], agreed: list[str]) -> Check:
    """`agreed` receives the primary's address when all sentinels name the same one of the fallback pair."""
    name = targets.sentinel_master_name or ""
    answers: dict[str, str] = {}
    for sentinel in targets.sentinels:
        connection = clients.get(sentinel.address)
        if connection is None:
            answers[sentinel.address] = "unreachable"
            continue
        reply = call(connection, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
        answers[sentinel.address] = f"{reply[0]}:{reply[1]}" if reply else "unknown master"
    distinct = set(answers.values())
    pair = {
        address
        for endpoint in (targets.fallback_primary, targets.fallback_replica)
        if endpoint is not None
        for address in (endpoint.address, str(endpoint.connect))
    }
    if len(distinct) == 1 and next(iter(distinct)) in pair:
        agreed.append(next(iter(distinct)))
        return _check("sentinels-agree", True, f"{next(iter(distinct))} is the primary for all {len(answers)}")
    shown = ", ".join(f"{sentinel}: {answer}" for sentinel, answer in answers.items())
    return _check("sentinels-agree", False, f"sentinels report different or unknown primaries for {name}: {shown}")


def _fallback_writable(primary: Endpoint, clients: Mapping[str, redis.Redis]) -> Check:
    connection = clients.get(primary.address)
    if connection is None:
        return _check("fallback-writable", False, f"{primary.address} is not reachable")
    key = f"{PROBE_KEY_PREFIX}fallback"
    connection.set(key, "probe", px=60_000)
    value = connection.get(key)
    connection.delete(key)
    return _check("fallback-writable", value == "probe", f"SET/GET/DEL on {primary.address}")


def _fallback_replication(replica: Endpoint, clients: Mapping[str, redis.Redis]) -> Check:
    connection = clients.get(replica.address)
    if connection is None:
        return _check("fallback-replication", False, f"{replica.address} is not reachable")
    info = connection.info("replication")
    link = info.get("master_link_status")
    return _check(
        "fallback-replication",
        info.get("role") == "slave" and link == "up",
        f"{replica.address}: role {info.get('role')}, master link {link or 'n/a'}",
    )


def _sentinel_quorum(targets: Targets, clients: Mapping[str, redis.Redis]) -> Check:
    name = targets.sentinel_master_name or ""
    problems = []
    for sentinel in targets.sentinels:
        connection = clients.get(sentinel.address)
        if connection is None:
            problems.append(f"{sentinel.address}: unreachable")
            continue
        try:
            reply = str(call(connection, "SENTINEL", "CKQUORUM", name))
        except redis.ResponseError as error:
            reply = str(error)
        if not reply.startswith("OK"):
            problems.append(f"{sentinel.address}: {reply}")
    detail = "; ".join(problems) or f"CKQUORUM {name} OK on all {len(targets.sentinels)} sentinels"
    return _check("sentinel-quorum", not problems, detail)


# The settings each kind of server must run with, as CONFIG GET reports them (bytes, milliseconds, yes / no).
def expected_config(spec: ClusterSpec, kind: str) -> dict[str, str]:
    memory, topology = spec.memory, spec.topology
    expected = {"maxmemory": str(memory.maxmemory_mb * 1024 * 1024), "maxmemory-policy": memory.maxmemory_policy}
    if kind == "cluster":
        expected["cluster-node-timeout"] = str(topology.node_timeout_ms)
        expected["cluster-require-full-coverage"] = "yes" if topology.require_full_coverage else "no"
        expected["cluster-allow-reads-when-down"] = "yes" if topology.allow_reads_when_down else "no"
    return expected


def config_drift(address: str, expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """`address: setting <deployed>, spec says <expected>` for every setting that differs. Pure."""
    return [
        f"{address}: {name} {actual.get(name, 'not set')}, spec says {value}"
        for name, value in expected.items()
        if actual.get(name) != value
    ]


def _server_config(targets: Targets, views: Sequence[NodeState], clients: Mapping[str, redis.Redis]) -> Check:
    """The live settings of every reachable cluster node and fallback server against the spec (a node whose
    timeout the hook lowered while forming and failed to restore shows up here)."""
    spec = targets.spec
    if spec is None:
        return Check("server-config", "skip", "no spec given")
    servers = [view.endpoint for view in views]
    servers += [server for server in (targets.fallback_primary, targets.fallback_replica) if server is not None]
    problems = []
    read = 0
    for server in servers:
        connection = clients.get(server.address)
        if connection is None:
            continue
        expected = expected_config(spec, server.kind)
        actual = {str(name): str(value) for name, value in connection.config_get(*expected).items()}
        problems += config_drift(server.address, expected, actual)
        read += 1
    cluster = expected_config(spec, "cluster")
    shown = ", ".join(f"{name} {value}" for name, value in cluster.items())
    return _check("server-config", not problems, "; ".join(problems) or f"{read} servers run the spec's {shown}")


def scrape(exporter: Endpoint, target: str, timeout: float = SCRAPE_TIMEOUT) -> str:
    """`redis_up` for one target, as the exporter reports it: '1', '0', or why it could not be read."""
    # Here, not at the top: urllib.request (http.client, email parsing) loads only where an exporter is checked.
    import urllib.error
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"target": target})
    url = f"http://{exporter.connect}/scrape?{query}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return f"unreachable ({reason})"
    for line in body.splitlines():
        if line.startswith("redis_up "):
            return str(line.split()[1])
    return "no redis_up metric"


def _exporter(targets: Targets) -> Check:
    exporter = targets.exporter
    if exporter is None:
        return Check("exporter", "skip", "exporter not enabled")
    if not targets.exporter_targets:
        return Check("exporter", "skip", "no exporter targets")
    with ThreadPoolExecutor(max_workers=min(8, len(targets.exporter_targets))) as pool:
        answers = dict(zip(targets.exporter_targets, pool.map(lambda t: scrape(exporter, t), targets.exporter_targets),
                           strict=True))
    if all(answer.startswith("unreachable") for answer in answers.values()):
        first = next(iter(answers.values()))
        return Check("exporter", "warn", f"exporter at {exporter.connect} not reachable: {first}")
    bad = {target: answer for target, answer in answers.items() if answer != "1"}
    if bad:
        shown = ", ".join(f"{target}: redis_up {answer}" for target, answer in bad.items())
        return _check("exporter", False, shown)
    return _check("exporter", True, f"redis_up 1 for all {len(answers)} targets via {exporter.address}")


"""The drills. Each hurts the running deployment in one way while the writer runs, waits (with deadlines) for
the cluster to cope, then checks what the brief promises and measures how long it took.

A drill leaves the deployment whole: whatever it stopped it starts again, whatever it cut off it reconnects,
also when a check or a wait fails (a best-effort undo in `finally`).
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.sentinel import Sentinel

from ..acl import ADMIN_USER
from ..hook.connect import call, client, close
from ..hook.endpoints import Endpoint
from ..hook.rebalance import preferred_masters
from ..hook.run import run_init, run_status, run_validate
from .cluster import Cluster, DrillError, Log, Shard, wait_for
from .faults import Faults
from .measure import Summary, recovery, summarize
from .names import INIT_RUNS, TITLES
from .result import DrillResult
from .writer import KEY_PREFIX, Write, Writers, missing_keys, shard_tag

WARMUP_SECONDS = 1.0
SETTLE_SECONDS = 1.0


@dataclass
class Drill:
    cluster: Cluster
    faults: Faults
    node_timeout_s: float
    timeout: float
    log: Log
    result: DrillResult
    started: float = field(default_factory=time.monotonic)
    undo: list[Callable[[], None]] = field(default_factory=list)

    def mark(self, event: str) -> float:
        now = time.monotonic()
        line = f"{now - self.started:7.2f} s  {event}"
        self.result.timeline.append(line)
        self.log(line)
        return now

    def wait(self, what: str, probe: Callable[[], bool], timeout: float | None = None) -> float:
        return wait_for(what, probe, timeout=timeout or self.timeout, log=self.log)

    @property
    def password(self) -> str:
        return self.cluster.password

    def shards(self) -> list[Shard]:
        self.cluster.wait_converged(timeout=self.timeout, log=self.log)
        shards = self.cluster.shards()
        if not shards or any(not shard.replicas for shard in shards):
            raise DrillError("every shard needs a replica for this drill; fix: topology.replicas_per_master >= 1")
        return shards

    def writers(self, shards: list[Shard]) -> Writers:
        return Writers(self.cluster, [(shard.slots[0].start, shard.slots[0].end) for shard in shards])

    def is_replica_of(self, node: Endpoint, master: Endpoint) -> bool:
        role, address, link = self.cluster.role(node)
        return role == "slave" and link == "up" and address is not None and address.endswith(f":{master.port}")

    def is_master(self, node: Endpoint) -> bool:
        return self.cluster.role(node)[0] == "master"

    def writes_recover(self, writers: Writers, shard: int, fault_at: float, victim: Endpoint) -> None:
        self.wait(
            f"writes to {victim.name}'s slots to succeed",
            lambda: recovery(_shard_writes(writers.writes, shard), fault_at) not in (None, 0.0),
        )
        self.mark("writes to its slots succeed again")

    def bring_back(
        self, what: str, action: Callable[[], None], writers: Writers, shard: int, node: Endpoint, master: Endpoint
    ) -> float:
        """Run `action` (start / reconnect `node`), then wait until `node` is `master`'s linked replica and the
        shard's writes are confirmed by a replica again. Returns the seconds until it was linked."""
        back_at = self.mark(what)
        action()
        self.undo.clear()
        linked = self.wait(
            f"{node.name} to be {master.name}'s linked replica", lambda: self.is_replica_of(node, master)
        )
        self.wait(
            "writes to the shard to be confirmed by a replica again",
            lambda: _succeeded_after(writers, shard, back_at, "confirmed"),
        )
        return linked

    def record(self, summary: Summary, writes: list[Write]) -> None:
        """The writer's figures, and the check that every confirmed write is still there."""
        confirmed = [write.key for write in writes if write.outcome == "confirmed"]
        lost = len(missing_keys(self.cluster, confirmed))
        self.result.measures.update(
            writes=summary.writes,
            confirmed=summary.confirmed,
            accepted_unconfirmed=summary.accepted,
            failed=summary.failed,
            failed_on_healthy_masters=summary.failed_on_healthy,
            recover_s=_round(summary.recover_s),
            stall_on_healthy_masters_s=_round(summary.stall_s),
            confirmed_lost=lost,
            errors=", ".join(f"{k} x{v}" for k, v in sorted(summary.errors.items())) or None,
            retried=summary.retries,
            retried_on=", ".join(f"{k} x{v}" for k, v in sorted((summary.retried_on or {}).items())) or None,
        )
        self.result.check(
            "no-confirmed-write-lost", lost == 0, f"{lost} of {len(confirmed)} writes confirmed by WAIT 1 are missing"
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _shard_writes(writes: list[Write], shard: int) -> list[Write]:
    return [write for write in writes if write.shard == shard]


def _succeeded_after(writers: Writers, shard: int, since: float, outcome: str = "") -> bool:
    for write in _shard_writes(writers.writes, shard):
        if write.started >= since and (write.outcome == outcome if outcome else write.outcome != "failed"):
            return True
    return False


@dataclass(frozen=True)
class IsolatedWrite:
    """A write sent from inside the cut-off master (a client on its side of the partition)."""

    at: float
    key: str
    reply: str
    accepted: bool
    confirmed: bool

    @classmethod
    def parse(cls, line: str, *, wall_to_monotonic: float) -> IsolatedWrite:
        """`<unix seconds> <microseconds>|<key>|<SET reply>|<WAIT reply>`, as Faults.isolated_writes gives them."""
        stamp, key, written, waited = (part.strip() for part in line.split("|", 3))
        seconds, _, micros = stamp.partition(" ")
        accepted = written == "OK"
        confirmed = accepted and waited.isdigit() and int(waited) >= 1
        reply = f"{written} / WAIT {waited}" if waited else written
        return cls(float(seconds) + int(micros or 0) / 1e6 + wall_to_monotonic, key, reply, accepted, confirmed)


# ------------------------------------------------------------------------------------------------ the drills


def kill_master(drill: Drill) -> None:
    """SIGKILL a master: its replica takes over, writes to its slots resume, none confirmed is lost, and the old
    master comes back (started again) as the new master's replica."""
    shards = drill.shards()
    victim, heir = shards[0].master, shards[0].replicas[0]
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        drill.undo.append(lambda: drill.faults.start(victim))
        fault_at = drill.mark(f"SIGKILL {victim.name} (master of slots {shards[0].slots[0]})")
        drill.faults.kill(victim)
        promoted = drill.wait(f"{heir.name} to become master", lambda: drill.is_master(heir))
        drill.mark(f"{heir.name} is master")
        drill.writes_recover(writers, 0, fault_at, victim)
        time.sleep(SETTLE_SECONDS)
        rejoined = drill.bring_back(
            f"starting {victim.name} again", lambda: drill.faults.start(victim), writers, 0, victim, heir
        )
        writes = writers.stop()
    summary = summarize(writes, fault_at=fault_at, hurt=[0])
    result = drill.result
    result.measures.update(promoted_after_s=round(promoted, 3), old_master_back_as_replica_s=round(rejoined, 3))
    result.check("replica-took-over", True, f"{heir.name} became master {promoted:.2f} s after the kill")
    result.check(
        "writes-recovered",
        summary.recover_s is not None,
        f"writes to the shard failed for {summary.recover_s:.2f} s, then succeeded" if summary.recover_s else "never",
    )
    result.check(
        "healthy-masters-kept-writing",
        summary.failed_on_healthy == 0,
        f"{summary.failed_on_healthy} failed writes on the other masters; "
        f"stall {summary.stall_s * 1000:.0f} ms beyond their usual spacing",
    )
    result.check("old-master-returns-as-replica", True, f"{victim.name} is {heir.name}'s linked replica")
    drill.record(summary, writes)


def kill_replica(drill: Drill) -> None:
    """SIGKILL a replica: no write fails (its master keeps serving; WAIT 1 simply times out meanwhile)."""
    shards = drill.shards()
    victim, master = shards[1].replicas[0], shards[1].master
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        drill.undo.append(lambda: drill.faults.start(victim))
        fault_at = drill.mark(f"SIGKILL {victim.name} (replica of {master.name})")
        drill.faults.kill(victim)
        # Long enough for the cluster to flag it failed (node timeout) and then some.
        time.sleep(2 * drill.node_timeout_s + SETTLE_SECONDS)
        rejoined = drill.bring_back(
            f"starting {victim.name} again", lambda: drill.faults.start(victim), writers, 1, victim, master
        )
        writes = writers.stop()
    summary = summarize(writes, fault_at=fault_at, hurt=[1])
    drill.result.measures["replica_back_s"] = round(rejoined, 3)
    drill.result.check(
        "no-failed-writes",
        summary.failed == 0,
        f"{summary.failed} of {summary.writes} writes failed; {summary.accepted} were accepted without a "
        "replica's confirmation while it was down",
    )
    drill.result.check("replica-rejoined", True, f"{victim.name} is {master.name}'s linked replica again")
    drill.record(summary, writes)


def restart_node(drill: Drill) -> None:
    """`docker restart` a replica: it comes back with the same node ID from its nodes.conf, no init needed."""
    shards = drill.shards()
    victim, master = shards[2].replicas[0], shards[2].master
    node_id = str(drill.cluster.ask(victim, "CLUSTER MYID"))
    known_before = {entry.node_id for entry in drill.cluster.view(master)}
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        fault_at = drill.mark(f"restarting {victim.name} (replica of {master.name})")
        drill.faults.restart(victim)
        drill.mark(f"{victim.name} restarted")
        drill.wait(f"{victim.name} to be {master.name}'s linked replica", lambda: drill.is_replica_of(victim, master))
        drill.cluster.wait_converged(timeout=drill.timeout, log=drill.log)
        back = time.monotonic() - fault_at
        writes = writers.stop()
    summary = summarize(writes, fault_at=fault_at, hurt=[2])
    same_id = str(drill.cluster.ask(victim, "CLUSTER MYID"))
    known_after = {entry.node_id for entry in drill.cluster.view(victim)}
    drill.result.measures["back_and_converged_s"] = round(back, 3)
    drill.result.check("same-node-id", same_id == node_id, f"node ID {node_id[:8]} before, {same_id[:8]} after")
    drill.result.check(
        "rejoined-from-nodes-conf",
        known_after == known_before,
        f"knows the same {len(known_after)} nodes and replicates {master.name} again, without init",
    )
    drill.result.check("no-failed-writes", summary.failed == 0, f"{summary.failed} of {summary.writes} writes failed")
    drill.record(summary, writes)


def partition_master(drill: Drill) -> None:
    """Cut a master off the network: after the node timeout the isolated master refuses writes (it cannot reach
    a majority of masters), its replica is promoted, and once reconnected the old master rejoins as a replica."""
    shards = drill.shards()
    victim, heir = shards[1].master, shards[1].replicas[0]
    tag = shard_tag(1, shards[1].slots[0].start, shards[1].slots[0].end)
    isolated: list[IsolatedWrite] = []
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        drill.undo.append(lambda: drill.faults.heal(victim))
        fault_at = drill.mark(f"disconnecting {victim.name} (master of slots {shards[1].slots[0]}) from the network")
        drill.faults.partition(victim)
        promoted_at: float | None = None
        deadline = fault_at + drill.timeout
        while time.monotonic() < deadline:
            prefix = f"{KEY_PREFIX}{{{tag}}}:isolated:{len(isolated)}"
            lines = drill.faults.isolated_writes(victim, prefix)
            offset = time.monotonic() - time.time()
            burst = [IsolatedWrite.parse(line, wall_to_monotonic=offset) for line in lines or []]
            isolated += burst
            if promoted_at is None and _quietly(lambda: drill.is_master(heir)):
                promoted_at = drill.mark(f"{heir.name} is master")
            refused = lines is None or (bool(burst) and not burst[-1].accepted)
            if promoted_at is not None and refused:
                break
            time.sleep(0.05)
        if promoted_at is None:
            raise DrillError(f"{heir.name} was not promoted within {drill.timeout:.0f} s of the partition")
        drill.writes_recover(writers, 1, fault_at, victim)
        time.sleep(SETTLE_SECONDS)
        rejoined = drill.bring_back(
            f"reconnecting {victim.name}", lambda: drill.faults.heal(victim), writers, 1, victim, heir
        )
        writes = writers.stop()
    summary = summarize(writes, fault_at=fault_at, hurt=[1])
    result = drill.result
    result.measures.update(promoted_after_s=round(promoted_at - fault_at, 3), rejoined_as_replica_s=round(rejoined, 3))
    result.check("replica-promoted", True, f"{heir.name} became master {promoted_at - fault_at:.2f} s after the cut")
    if isolated:
        first = next((index for index, entry in enumerate(isolated) if not entry.accepted), None)
        refused_at = None if first is None else isolated[first].at - fault_at
        accepted = [entry for entry in isolated if entry.accepted]
        confirmed = [entry for entry in accepted if entry.confirmed]
        result.measures.update(
            isolated_refuses_writes_after_s=_round(refused_at),
            isolated_refusal=None if first is None else isolated[first].reply,
            isolated_writes_accepted=len(accepted),
            isolated_writes_confirmed=len(confirmed),
            isolated_accepted_writes_lost=len(missing_keys(drill.cluster, [entry.key for entry in accepted])),
        )
        result.check(
            "isolated-master-refuses-writes",
            first is not None
            and isolated[first].at <= promoted_at
            and not confirmed
            and not any(entry.accepted for entry in isolated[first:]),
            f"refused from {refused_at} s after the cut on ({'' if first is None else isolated[first].reply}), "
            f"the promotion came at {promoted_at - fault_at:.2f} s; {len(accepted)} writes accepted before, "
            f"{len(confirmed)} of them confirmed by a replica",
        )
    result.check("rejoined-as-replica", True, f"{victim.name} is {heir.name}'s linked replica after reconnecting")
    result.check(
        "healthy-masters-kept-writing",
        summary.failed_on_healthy == 0,
        f"{summary.failed_on_healthy} failed writes on the other masters",
    )
    drill.record(summary, writes)


def kill_fallback_primary(drill: Drill) -> None:
    """SIGKILL the fallback Redis's primary: the sentinels promote the replica, a sentinel-aware client finds
    and writes to the new primary, and the old primary, started again, becomes its replica."""
    targets = drill.cluster.targets
    primary, replica, name = targets.fallback_primary, targets.fallback_replica, targets.sentinel_master_name
    if primary is None or replica is None or name is None or not targets.sentinels:
        raise DrillError("the spec has no fallback tier with sentinels; fix: fallback.enabled: true")
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        [(s.connect.host, s.connect.port) for s in targets.sentinels],
        sentinel_kwargs={"username": ADMIN_USER, "password": drill.password, "socket_timeout": 1.0},
    )

    def current() -> Endpoint:
        host, port = sentinel.discover_master(name)  # type: ignore[no-untyped-call]
        return next(e for e in (primary, replica) if e.port == int(port) and e.name in (host, e.connect.host))

    victim = current()
    heir = replica if victim is primary else primary
    drill.undo.append(lambda: drill.faults.start(victim))
    drill.mark(f"SIGKILL {victim.name} (the primary the sentinels report)")
    drill.faults.kill(victim)
    promoted = drill.wait(f"the sentinels to report {heir.name} as primary", lambda: _quietly(current) is heir)
    host, port = sentinel.discover_master(name)  # type: ignore[no-untyped-call]
    connection = client(Endpoint(heir.name, heir.port, heir.kind, drill.cluster.dial(host, int(port))), drill.password)
    try:
        wrote = connection.set("cache-cluster:drill:fallback", "1", px=60_000) and call(
            connection, "GET", "cache-cluster:drill:fallback"
        )
        role = str(connection.info("replication").get("role"))
    finally:
        close(connection)
    drill.mark(f"a sentinel-aware client found {host}:{port} and wrote to it")
    drill.faults.start(victim)
    drill.undo.clear()
    try:
        back = drill.wait(
            f"{victim.name} to become {heir.name}'s linked replica", lambda: _fallback_replica_of(drill, victim, heir)
        )
    except DrillError as error:
        raise DrillError(f"{error}; {_sentinels_view(drill, name, victim)}") from None
    result = drill.result
    result.measures.update(promoted_after_s=round(promoted, 3), old_primary_back_as_replica_s=round(back, 3))
    result.check("sentinels-promoted-replica", True, f"{heir.name} is primary {promoted:.2f} s after the kill")
    result.check(
        "sentinel-client-gets-new-primary",
        wrote == "1" and role == "master",
        f"discover_master -> {host}:{port}, role {role}, write read back: {wrote == '1'}",
    )
    result.check("old-primary-returns-as-replica", True, f"{victim.name} replicates {heir.name}")


def _sentinels_view(drill: Drill, name: str, node: Endpoint) -> str:
    """Why a restarted primary is not yet a replica, as the sentinels and the node see it: a sentinel only turns
    it into a replica once it has reported role master for 8 s, the new primary looks sane, and the sentinel is
    not in TILT mode (30 s without acting after its timer stalled, e.g. on a loaded machine)."""
    parts = [f"{node.name}: {_quietly(lambda: _replication(drill, node)) or 'no answer'}"]
    for sentinel in drill.cluster.targets.sentinels:
        view = _quietly(functools.partial(_sentinel_view, drill, sentinel, name, node))
        parts.append(f"{sentinel.name}: {view or 'no answer'}")
    return "; ".join(parts)


def _replication(drill: Drill, node: Endpoint) -> str:
    connection = client(node, drill.password, timeout=1.0)
    try:
        info = connection.info("replication")
    finally:
        close(connection)
    return ", ".join(f"{key} {info.get(key)}" for key in ("role", "master_host", "master_port", "master_link_status"))


def _sentinel_view(drill: Drill, sentinel: Endpoint, name: str, node: Endpoint) -> str:
    connection = client(sentinel, drill.password, timeout=1.0)
    try:
        info = connection.info("sentinel")
        replicas = connection.sentinel_slaves(name)
    finally:
        close(connection)
    seen = [r for r in replicas if int(r.get("port", 0)) == node.port]
    flags = (
        ", ".join(
            f"{r.get('ip')}:{r.get('port')} flags {r.get('flags')} role-reported {r.get('role-reported')}" for r in seen
        )
        or f"{node.name} not among its replicas"
    )
    return f"tilt {info.get('sentinel_tilt')}, {flags}"


def _start_all(drill: Drill, nodes: list[Endpoint]) -> None:
    for node in nodes:
        drill.faults.start(node)


def _fallback_replica_of(drill: Drill, node: Endpoint, primary: Endpoint) -> bool:
    connection = client(node, drill.password)
    try:
        info = connection.info("replication")
    finally:
        close(connection)
    return bool(
        info.get("role") == "slave"
        and info.get("master_link_status") == "up"
        and int(info.get("master_port", 0)) == primary.port
    )


def stop_two_masters(drill: Drill) -> None:
    """`docker stop` two of three masters: no majority is left, so the cluster reports failure (no replica can be
    elected); `status` and `validate` name the stopped nodes. Started again: healthy, with every key."""
    shards = drill.shards()
    if len(shards) != 3:
        raise DrillError(f"this drill expects 3 masters, the cluster has {len(shards)}")
    victims, survivor = [shards[0].master, shards[1].master], shards[2].master
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        drill.undo.append(lambda: _start_all(drill, victims))
        fault_at = drill.mark(f"stopping {victims[0].name} and {victims[1].name}")
        for victim in victims:
            drill.faults.stop(victim)
        failed_after = drill.wait(
            f"{survivor.name} to report cluster_state:fail", lambda: drill.cluster.cluster_state(survivor) == "fail"
        )
        drill.mark(f"{survivor.name}: cluster_state:fail")
        drill.wait(
            "writes to the surviving master to be refused",
            lambda: any(w.detail == "ClusterDownError" and w.started >= fault_at for w in writers.writes),
        )
        status = run_status(drill.cluster.targets, drill.password, timeout=2.0)
        validated = run_validate(drill.cluster.targets, drill.password, timeout=3.0)
        drill.mark(f"status: {status.outcome}; validate: {validated.outcome}")
        restart_at = drill.mark("starting both again")
        for victim in victims:
            drill.faults.start(victim)
        drill.undo.clear()
        back = drill.cluster.wait_converged(timeout=drill.timeout, log=drill.log)
        drill.wait(
            "writes to every shard to be confirmed again",
            lambda: all(_succeeded_after(writers, s, restart_at + back, "confirmed") for s in range(3)),
        )
        writes = writers.stop()
    after = run_validate(drill.cluster.targets, drill.password, timeout=drill.timeout)
    result = drill.result
    names = [victim.address for victim in victims]
    failed_checks = [f"{c.name}: {c.detail}" for c in status.checks if c.failed]
    result.measures.update(
        cluster_fail_after_s=round(failed_after, 3),
        back_after_start_s=round(back, 3),
        status_says=status.summary,
        validate_says=validated.summary,
        status_failed_checks="; ".join(failed_checks),
    )
    result.check("cluster-reports-failure", True, f"{survivor.name} reports cluster_state:fail and refuses writes")
    for report in (status, validated):
        result.check(
            f"{report.command}-says-what-is-wrong",
            report.outcome != "healthy" and all(name in report.summary for name in names),
            f"exit {report.exit_code} ({report.outcome}): {report.summary}",
        )
    result.check("healthy-again", after.outcome == "healthy", f"validate after the restart: {after.summary}")
    drill.record(summarize(writes, fault_at=fault_at, hurt=[0, 1, 2]), writes)


def _topology(drill: Drill) -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (s.master.name, tuple(r.name for r in s.replicas), ",".join(map(str, s.slots))) for s in drill.cluster.shards()
    ]


def init_repeat(drill: Drill) -> None:
    """`init` 20 times while the writer runs: nothing changes, no write fails."""
    shards = drill.shards()
    before = _topology(drill)
    timings: list[float] = []
    outcomes: list[str] = []
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        fault_at = drill.mark(f"running init {INIT_RUNS} times")
        for _ in range(INIT_RUNS):
            started = time.monotonic()
            report = run_init(drill.cluster.targets, drill.password, timeout=drill.timeout)
            timings.append(time.monotonic() - started)
            decision = report.decision.kind if report.decision else "none"
            outcomes.append(f"{report.outcome}/{decision}/{'changed' if report.changed else 'unchanged'}")
        drill.mark("done")
        time.sleep(WARMUP_SECONDS)
        writes = writers.stop()
    summary = summarize(writes, fault_at=fault_at, hurt=[])
    after = _topology(drill)
    drill.result.measures.update(init_median_s=round(statistics.median(timings), 3), init_max_s=round(max(timings), 3))
    expected = "healthy/nothing/unchanged"
    drill.result.check(
        "every-init-healthy-and-unchanged",
        outcomes == [expected] * INIT_RUNS,
        f"{outcomes.count(expected)} of {INIT_RUNS} runs: {expected}; others: "
        f"{sorted(set(outcomes) - {expected}) or 'none'}",
    )
    drill.result.check("topology-unchanged", after == before, f"masters, replicas and slots: {after}")
    drill.result.check("no-failed-writes", summary.failed == 0, f"{summary.failed} of {summary.writes} writes failed")
    drill.record(summary, writes)


def restore_masters(drill: Drill) -> None:
    """After failovers swapped roles, `init --prefer-spec-masters` makes the spec's masters masters again with
    CLUSTER FAILOVER: no slot moves, no write fails. When no role is swapped the drill swaps one first."""
    shards = drill.shards()
    preferred = preferred_masters(drill.cluster.targets)
    swapped = [shard for shard in shards if shard.master.address not in preferred]
    if not swapped:
        shard = shards[0]
        heir = shard.replicas[0]
        drill.mark(f"no role is swapped: CLUSTER FAILOVER on {heir.name} first")
        drill.cluster.ask(heir, "CLUSTER FAILOVER")
        drill.wait(
            f"{heir.name} to take over", lambda: drill.is_master(heir) and drill.is_replica_of(shard.master, heir)
        )
        shards = drill.shards()
    drill.result.measures["shards_swapped_before"] = sum(1 for s in shards if s.master.address not in preferred)
    slots_before = sorted(",".join(map(str, s.slots)) for s in shards)
    with drill.writers(shards) as writers:
        time.sleep(WARMUP_SECONDS)
        fault_at = drill.mark("init --prefer-spec-masters")
        report = run_init(drill.cluster.targets, drill.password, timeout=drill.timeout, prefer_spec_masters=True)
        drill.mark(f"init: {report.outcome}: {'; '.join(report.actions)}")
        time.sleep(WARMUP_SECONDS)
        writes = writers.stop()
    summary = summarize(writes, fault_at=fault_at, hurt=[])
    shards_after = drill.cluster.shards()
    masters_after = sorted(s.master.address for s in shards_after)
    again = run_init(drill.cluster.targets, drill.password, timeout=drill.timeout, prefer_spec_masters=True)
    result = drill.result
    result.measures["init_s"] = round(report.timings.get("total", 0.0), 3)
    result.check("init-healthy", report.outcome == "healthy", f"{report.outcome}: {report.summary}")
    result.check("spec-masters-are-masters", masters_after == sorted(preferred), f"masters now: {masters_after}")
    result.check(
        "no-slot-moved",
        sorted(",".join(map(str, s.slots)) for s in shards_after) == slots_before,
        f"slot ranges per shard: {sorted(','.join(map(str, s.slots)) for s in shards_after)}",
    )
    result.check(
        "only-cluster-failover",
        all("CLUSTER FAILOVER" in action for action in report.actions),
        "; ".join(report.actions) or "no action",
    )
    result.check(
        "second-run-changes-nothing",
        again.outcome == "healthy" and not again.changed,
        f"{again.outcome}, actions: {again.actions or 'none'}",
    )
    result.check("no-failed-writes", summary.failed == 0, f"{summary.failed} of {summary.writes} writes failed")
    drill.record(summary, writes)


def _quietly(probe: Callable[[], object]) -> object:
    try:
        return probe()
    except (redis.RedisError, StopIteration, OSError):
        return None


DRILLS: dict[str, Callable[[Drill], None]] = {
    "kill-master": kill_master,
    "kill-replica": kill_replica,
    "restart-node": restart_node,
    "partition-master": partition_master,
    "kill-fallback-primary": kill_fallback_primary,
    "stop-two-masters": stop_two_masters,
    "init-repeat": init_repeat,
    "restore-masters": restore_masters,
}


def run_drill(
    name: str, cluster: Cluster, faults: Faults, *, node_timeout_s: float, timeout: float, log: Log
) -> DrillResult:
    result = DrillResult(drill=name, title=TITLES[name])
    drill = Drill(cluster, faults, node_timeout_s, timeout, log, result)
    try:
        DRILLS[name](drill)
    except DrillError as error:
        result.error = str(error)
    except Exception as error:  # a drill that breaks still reports, heals and fails (exit 1), with the reason
        result.error = f"{type(error).__name__}: {error}"
    finally:
        for undo in drill.undo:
            try:
                undo()
            except Exception as error:  # best effort: say so, the drill has already failed
                result.timeline.append(f"undo failed: {error}")
    return result

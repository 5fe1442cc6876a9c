"""The drills' writer across coordinated failovers (CLUSTER FAILOVER), on real redis-server nodes.

A WAIT that is blocked when its master turns replica gets `-UNBLOCKED ... (master -> replica?)`: the writer
must send that write again to the new master and count a retry, not a failure. Each failover is a chance for
that race, so the test swaps roles several times with a writer that never pauses (without the retry it failed
in 2 of 2 runs); it asserts no failed write, and that any retry names the role-change reply.
"""

from __future__ import annotations

import threading
import time

from cache_cluster.drills.catalog import Drill, _sentinels_view
from cache_cluster.drills.cluster import Cluster
from cache_cluster.drills.measure import summarize
from cache_cluster.drills.result import DrillResult
from cache_cluster.drills.writer import ShardWriter
from cache_cluster.hook import run_init
from cache_cluster.hook.endpoints import Endpoint

from .conftest import Clusters, wait_until

FAILOVERS = 6
VOTE_BAN_SECONDS = 2.2


def fail_over(cluster: Cluster, replica: Endpoint, master: Endpoint) -> None:
    # A manual failover needs the replica's link up (else the master never pauses and it times out).
    wait_until(lambda: cluster.role(replica)[2] == "up", timeout=20, what=f"{replica.name}'s link up")
    cluster.ask(replica, "CLUSTER FAILOVER")
    wait_until(
        lambda: cluster.role(replica)[0] == "master" and cluster.role(master)[0] == "slave",
        timeout=20,
        what=f"{replica.name} to take over from {master.name}",
    )


def test_writer_retries_role_change_replies_and_fails_no_write(clusters: Clusters) -> None:
    deployment = clusters.make()
    targets = deployment.targets()
    assert run_init(targets, clusters.password, timeout=60).outcome == "healthy"
    cluster = Cluster(targets, clusters.password)
    cluster.wait_converged(timeout=30, log=lambda _: None)
    shard = cluster.shards()[0]
    master, replica = shard.master, shard.replicas[0]
    slots = (shard.slots[0].start, shard.slots[0].end)
    stop = threading.Event()
    # No pause between writes: the writer is nearly always inside SET + WAIT, where a role change hits it.
    writer = ShardWriter(cluster, 0, slots, stop=stop, max_writes=100_000, interval=0.0)
    writer.start()
    try:
        time.sleep(0.3)
        for _ in range(FAILOVERS):
            fail_over(cluster, replica, master)
            master, replica = replica, master
            # The masters vote for a failover of the same master at most once per 2 x node timeout (1000 ms here).
            time.sleep(VOTE_BAN_SECONDS)
    finally:
        stop.set()
        writer.join(timeout=10)
    writes = writer.writes
    summary = summarize(writes, fault_at=writes[0].started)
    assert summary.writes > 100
    assert summary.failed == 0, summary.errors
    assert summary.confirmed > 0
    retried = {write.message.split(" ")[0] for write in writes if write.retries}
    assert retried <= {"UNBLOCKED", "WAIT"}, retried
    assert all(write.retries <= 1 for write in writes)


def test_sentinels_view_says_what_each_sentinel_thinks_of_a_fallback_node(clusters: Clusters) -> None:
    """The diagnosis kill-fallback-primary adds when the old primary does not come back as a replica in time."""
    targets = clusters.make(start=False).targets()
    assert targets.fallback_primary and targets.fallback_replica and targets.sentinel_master_name
    drill = Drill(Cluster(targets, clusters.password), None, 1.0, 5.0, lambda _: None, DrillResult("d", "t"))  # type: ignore[arg-type]
    name = targets.sentinel_master_name
    wait_until(
        lambda: "flags slave" in _sentinels_view(drill, name, targets.fallback_replica),  # type: ignore[arg-type]
        timeout=30,
        what="the sentinels to list the fallback replica",
    )
    replica_view = _sentinels_view(drill, name, targets.fallback_replica)
    assert replica_view.startswith(f"{targets.fallback_replica.name}: role slave, master_host ")
    assert replica_view.count("tilt 0, ") == len(targets.sentinels) == 3
    primary_view = _sentinels_view(drill, name, targets.fallback_primary)
    assert primary_view.startswith(f"{targets.fallback_primary.name}: role master, master_host None")
    assert primary_view.count(f"{targets.fallback_primary.name} not among its replicas") == 3

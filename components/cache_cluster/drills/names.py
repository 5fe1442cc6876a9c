"""The drills' names and one-line titles (no imports: the CLI lists them without loading redis-py)."""

from __future__ import annotations

INIT_RUNS = 20

TITLES: dict[str, str] = {
    "kill-master": "SIGKILL a master: its replica takes over, no confirmed write is lost",
    "kill-replica": "SIGKILL a replica: no write fails",
    "restart-node": "restart a node: it rejoins from its nodes.conf, no init",
    "partition-master": "disconnect a master from the network: isolated, it refuses writes; its replica takes over",
    "kill-fallback-primary": "SIGKILL the fallback primary: the sentinels promote its replica",
    "stop-two-masters": "stop two of three masters: failure reported clearly; started again: healthy, every key",
    "init-repeat": f"init {INIT_RUNS} times while serving traffic: nothing changes, no write fails",
    "restore-masters": "init --prefer-spec-masters after swapped roles: CLUSTER FAILOVER, no data movement",
}

"""Failure drills against a running deployment: hurt one node in one way while a writer sends confirmed writes
to every master, then check what the deployment promises and measure how long recovery took.

`cache-cluster drill NAME` runs one on a Docker/Compose stack (faults.DockerFaults); bench/failover.py runs them
on such a stack and on plain redis-cli-formed processes. The package uses the hook and redis-py, never the CLI.
Modules: names (the list), faults (how a node is hurt), cluster (reading the cluster), writer, measure (pure),
catalog (the drills), result.
"""

"""`python -m cache_cluster.cli`: the same command as `cache-cluster` (the Pulumi hook runs it this way)."""

from . import main

main()

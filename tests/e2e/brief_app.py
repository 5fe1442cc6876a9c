"""The minimal application the brief's merged command is tried with (tests/e2e/test_compose_init.py, bench)."""

from __future__ import annotations

from cache_cluster.plan import INIT_SERVICE


def app_compose(project: str, network: str) -> str:
    """An application's docker-compose.yml: one service on the cluster's network that waits for it to be formed."""
    return f"""\
name: {project}
services:
  app:
    image: ${{CACHE_CLUSTER_REDIS_IMAGE}}
    entrypoint: ["sh", "-c", "sleep 600"]
    networks: [{network}]
    depends_on:
      {INIT_SERVICE}:
        condition: service_completed_successfully
"""

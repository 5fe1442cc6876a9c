"""cache-cluster: declare, run and initialize a Redis Cluster with sentinels, an exporter and fallback tiers.

The public names are loaded on first use (PEP 562), so `import cache_cluster.cli` does not pay for pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import CacheClusterError
    from .plan import DeploymentPlan, NodePlan, ServicePlan
    from .spec import ClusterSpec

# `plan()` is not re-exported: `cache_cluster.plan` is the module (import the function from it).
__all__ = ["CacheClusterError", "ClusterSpec", "DeploymentPlan", "NodePlan", "ServicePlan"]
__version__ = "0.1.0"

_HOME = {
    "CacheClusterError": ".errors",
    "ClusterSpec": ".spec",
    "DeploymentPlan": ".plan",
    "NodePlan": ".plan",
    "ServicePlan": ".plan",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name], __name__), name)

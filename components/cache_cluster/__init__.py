"""cache-cluster: declare, run and initialize a Redis Cluster with sentinels, an exporter and fallback tiers.

The public names are loaded on first use (PEP 562), so `import cache_cluster.cli` does not pay for pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import exports_on_first_use

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


__getattr__ = exports_on_first_use(__name__, _HOME)

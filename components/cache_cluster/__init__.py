"""cache-cluster: declare, run and initialize a Redis Cluster with sentinels, an exporter and fallback tiers."""

from .errors import CacheClusterError
from .plan import DeploymentPlan, NodePlan, ServicePlan, plan
from .spec import ClusterSpec

__all__ = ["CacheClusterError", "ClusterSpec", "DeploymentPlan", "NodePlan", "ServicePlan", "plan"]
__version__ = "0.1.0"

"""The applications' environment contract: the variables a service reads to find its cache.

The brief's names stay (`REDIS_CLUSTER_ENABLED`, `REDIS_CLUSTER_NODES`, `REDIS_PASSWORD`); the fallback chain's
settings and `REDIS_USERNAME` (the application's ACL user, whose password REDIS_PASSWORD is) are added beside
them. Stack outputs and the rendered `.env` both come from `env_contract`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import addresses
from .acl import APP_USER
from .spec import ClusterSpec

HIDDEN = "********"


@dataclass(frozen=True)
class EnvContract:
    public: Mapping[str, str]
    # Variable name -> which secret it carries ("password"); values never live in this object.
    secret: Mapping[str, str]

    def names(self) -> list[str]:
        return [*self.public, *self.secret]

    def render_dotenv(self, secrets: Mapping[str, str] | None = None) -> str:
        """`.env` text. Secret values appear only when `secrets` maps each secret kind to its value."""
        lines = ["# Rendered by cache-cluster: the cache settings applications read."]
        lines += [f"{name}={value}" for name, value in self.public.items()]
        for name, kind in self.secret.items():
            value = secrets.get(kind) if secrets is not None else None
            lines.append(f"{name}={value if value is not None else HIDDEN}")
        return "\n".join(lines) + "\n"


def cluster_node_addresses(spec: ClusterSpec) -> list[str]:
    return [str(address) for address in addresses.cluster_nodes(spec)]


def sentinel_addresses(spec: ClusterSpec) -> list[str]:
    return [str(address) for address in addresses.sentinels(spec)]


def env_contract(spec: ClusterSpec) -> EnvContract:
    fallback = spec.fallback
    public: dict[str, str] = {
        "REDIS_CLUSTER_ENABLED": "true",
        "REDIS_CLUSTER_NODES": ",".join(cluster_node_addresses(spec)),
        "CACHE_FALLBACK_ORDER": ",".join(fallback.tiers),
    }
    if fallback.enabled and "single" in fallback.tiers:
        public |= {
            "REDIS_FALLBACK_ENABLED": "true",
            "REDIS_HOST": addresses.fallback_primary(spec).host,
            "REDIS_PORT": str(fallback.primary_port),
            "REDIS_SENTINELS": ",".join(sentinel_addresses(spec)),
            "REDIS_SENTINEL_MASTER": spec.sentinels.master_name,
        }
    else:
        public["REDIS_FALLBACK_ENABLED"] = "false"
    if "memory" in fallback.tiers:
        tier = fallback.memory_tier
        public |= {
            "CACHE_MEMORY_MAX_ENTRIES": str(tier.max_entries),
            "CACHE_MEMORY_MAX_MB": str(tier.max_memory_mb),
            "CACHE_MEMORY_TTL_SECONDS": str(tier.ttl_seconds),
        }
    public["REDIS_USERNAME"] = APP_USER
    return EnvContract(public=public, secret={"REDIS_PASSWORD": "password"})

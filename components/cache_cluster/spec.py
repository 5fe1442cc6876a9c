"""ClusterSpec: the validated, defaulted description of one cache deployment.

Everything the renderings (Docker, Compose, Kubernetes) and the post-deploy hook need is declared here, and
every rule that can be checked without I/O is checked here, so bad input fails before anything is deployed.
Validator messages follow one shape: what is wrong, then ``fix:`` and what to do.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SLOT_COUNT = 16384
BUS_PORT_OFFSET = 10000  # Redis derives the cluster bus port as port + 10000 unless told otherwise.
MIN_PASSWORD_LENGTH = 16
Tier = Literal["cluster", "single", "memory", "database"]
FALLBACK_TIER_ORDER: tuple[Tier, ...] = ("cluster", "single", "memory", "database")
# Characters that survive redis.conf quoting, shell expansion and URL userinfo without escaping.
PASSWORD_PATTERN = re.compile(r"^[A-Za-z0-9._~+=-]+$")
DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,40}[a-z0-9])?$")
WILDCARD_ADDRESSES = ("0.0.0.0", "::")

Port = Annotated[int, Field(ge=1, le=65535)]


def _check_dns_label(value: str) -> str:
    if not DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label; fix: use lowercase letters, digits and '-', starting with a letter and "
            "ending with a letter or digit, at most 42 characters (names get suffixes such as -12)"
        )
    return value


# Every name that becomes a host name, a Compose service, a Kubernetes object or a namespace.
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]


def field_error(field: str, message: str) -> ValueError:
    """A whole-model rule's error, pinned to the field to change (errors.py moves it into the path)."""
    return ValueError(f"[{field}] {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_image_reference(value: str) -> str:
    """An image must be pinned: a digest, or a tag that is not ``latest``."""
    if "@sha256:" in value:
        return value
    last_segment = value.rsplit("/", 1)[-1]
    if ":" not in last_segment:
        raise ValueError(f"image {value!r} has no tag; fix: pin a version tag or a digest, e.g. {value}:<version>")
    tag = last_segment.rsplit(":", 1)[1]
    if not tag:
        raise ValueError(f"image {value!r} has an empty tag; fix: pin a version tag or a digest")
    if tag == "latest":
        raise ValueError(f"image {value!r} uses the moving tag {tag!r}; fix: pin a version tag or a digest")
    return value


class Images(_Strict):
    """Container images. Defaults are upstream, pinned; `make up` overrides them with local offline builds."""

    redis: str = "redis:7.2.5"
    exporter: str = "oliver006/redis_exporter:v1.62.0"
    prometheus: str = "prom/prometheus:v2.53.1"
    # This package and its CLI (the repository's Dockerfile); runs the post-deploy hook inside the network.
    hook: str = "cache-cluster/hook:0.1.0"

    _pinned = field_validator("redis", "exporter", "prometheus", "hook")(_check_image_reference)


class Topology(_Strict):
    masters: int = Field(3, ge=3, le=100, description="Shards; Redis Cluster needs at least 3 masters.")
    replicas_per_master: int = Field(1, ge=0, le=5)
    base_port: Port = 7001
    node_name_prefix: DnsLabel = "redis-node"
    node_timeout_ms: int = Field(5000, ge=500, le=600_000)
    require_full_coverage: bool = Field(
        False, description="A cache keeps serving the shards that are up; set true to stop all writes instead."
    )
    allow_reads_when_down: bool = False

    @property
    def node_count(self) -> int:
        return self.masters * (1 + self.replicas_per_master)

    def node_names_and_ports(self) -> list[tuple[str, int]]:
        """`(redis-node-N, base_port + N - 1)` for every node: the one naming rule of the cluster nodes."""
        return [(f"{self.node_name_prefix}-{index + 1}", self.base_port + index) for index in range(self.node_count)]

    @model_validator(mode="after")
    def _ports_fit(self) -> Topology:
        last_bus_port = self.base_port + self.node_count - 1 + BUS_PORT_OFFSET
        if last_bus_port > 65535:
            raise field_error(
                "base_port",
                f"base_port {self.base_port} with {self.node_count} nodes needs bus port {last_bus_port} "
                f"(port + {BUS_PORT_OFFSET}), above 65535; fix: choose base_port <= "
                f"{65535 - BUS_PORT_OFFSET - self.node_count + 1}",
            )
        return self


# Names of the users every server has (acl.py); a declared extra user may not take one of them.
BUILT_IN_USERS = ("default", "app", "admin", "exporter", "replication", "sentinel")


class AclUser(_Strict):
    """An extra ACL user for an application; its password is the secret REDIS_ACL_<NAME>_PASSWORD."""

    name: str
    rules: str = Field("~* &* +@all -@dangerous", description="ACL rules, as in ACL SETUSER.")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", value) or value in BUILT_IN_USERS:
            raise ValueError(
                f"{value!r} is not a valid ACL user name; fix: letters, digits, '_' or '-', none of the "
                f"built-in users {list(BUILT_IN_USERS)}"
            )
        return value

    @field_validator("rules")
    @classmethod
    def _no_password_in_rules(cls, value: str) -> str:
        tokens = value.split()
        if any(token.startswith((">", "#", "<", "!")) or token in ("nopass", "resetpass") for token in tokens):
            raise ValueError(
                "rules set or clear a password; fix: remove it, the password is the secret "
                "REDIS_ACL_<NAME>_PASSWORD, read from a file at container start"
            )
        if re.search(r"[\"'`$\\\n]", value):
            raise ValueError("rules contain a quote, '$', '`', a backslash or a line break; fix: remove it")
        return value

    @property
    def password_env(self) -> str:
        return "REDIS_ACL_" + self.name.upper().replace("-", "_") + "_PASSWORD"


def _check_password(value: SecretStr) -> SecretStr:
    secret = value.get_secret_value()
    if len(secret) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"password has {len(secret)} characters, fewer than {MIN_PASSWORD_LENGTH}; "
            "fix: use a longer one, or leave it out to have one generated"
        )
    if not PASSWORD_PATTERN.match(secret):
        raise ValueError(
            "password has characters other than letters, digits and . _ ~ + = -; "
            "fix: use only those (they need no quoting in redis.conf, shells or URLs)"
        )
    return value




class Auth(_Strict):
    password: SecretStr | None = Field(
        None,
        description="The application user's password. Leave out: Pulumi generates one; Compose reads REDIS_PASSWORD.",
    )
    acl_users: tuple[AclUser, ...] = ()
    default_user: Literal["app", "disabled"] = Field(
        "app",
        description="app: clients that send only a password sign in with the application's password and rules; "
        "disabled: every client must send a user name (YAML reads a bare off as false).",
    )

    @field_validator("password")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else _check_password(value)

    @model_validator(mode="after")
    def _unique_users(self) -> Auth:
        names = [user.name for user in self.acl_users]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise field_error("acl_users", f"ACL users {duplicates} are declared twice; fix: keep one entry per user")
        return self


class Persistence(_Strict):
    appendonly: bool = True
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    rdb_snapshots: bool = Field(False, description="RDB snapshots besides the AOF; off: the AOF is enough.")
    volume_size: str = Field("1Gi", pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$")


class Memory(_Strict):
    container_memory_mb: int = Field(512, ge=64, le=1_048_576)
    maxmemory_mb: int = Field(384, ge=16)
    maxmemory_policy: Literal[
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-lru",
        "volatile-lfu",
        "volatile-ttl",
        "allkeys-random",
        "volatile-random",
        "noeviction",
    ] = "allkeys-lru"
    cpu_request: str = Field("100m", pattern=r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
    cpu_limit: str | None = Field(None, pattern=r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")

    @model_validator(mode="after")
    def _fits_container(self) -> Memory:
        if self.maxmemory_mb >= self.container_memory_mb:
            raise field_error(
                "maxmemory_mb",
                f"maxmemory_mb {self.maxmemory_mb} is not below container_memory_mb {self.container_memory_mb}: "
                "Redis would be killed for memory before it evicts; fix: set maxmemory_mb to about 75% of "
                f"container_memory_mb ({self.container_memory_mb * 3 // 4})",
            )
        return self


class Sentinels(_Strict):
    """Sentinels watch the fallback single Redis (Sentinel cannot manage cluster-mode nodes)."""

    count: int = Field(3, ge=1, le=9)
    quorum: int = Field(2, ge=1)
    base_port: Port = 26379
    name_prefix: DnsLabel = "redis-sentinel"
    master_name: str = Field("cache-fallback", pattern=r"^[A-Za-z0-9._-]+$")
    down_after_ms: int = Field(5000, ge=500)
    failover_timeout_ms: int = Field(60000, ge=1000)

    def names_and_ports(self) -> list[tuple[str, int]]:
        """`(redis-sentinel-N, base_port + N - 1)` for every sentinel: the one naming rule of the sentinels."""
        return [(f"{self.name_prefix}-{index + 1}", self.base_port + index) for index in range(self.count)]

    @model_validator(mode="after")
    def _quorum(self) -> Sentinels:
        if self.count % 2 == 0:
            raise field_error(
                "count", f"count {self.count} is even: a network split can leave no majority; fix: use {self.count + 1}"
            )
        if self.quorum > self.count:
            raise field_error(
                "quorum",
                f"quorum {self.quorum} is above the sentinel count {self.count}: no failover could ever be "
                f"agreed; fix: set quorum to {self.count // 2 + 1}",
            )
        if self.quorum <= self.count // 2:
            raise field_error(
                "quorum",
                f"quorum {self.quorum} is not a majority of {self.count} sentinels; fix: set quorum to at "
                f"least {self.count // 2 + 1}",
            )
        return self


class MemoryTier(_Strict):
    """The in-process memory-only tier the applications use when no Redis answers."""

    max_entries: int = Field(10_000, ge=100, le=10_000_000)
    max_memory_mb: int = Field(64, ge=1, le=4096)
    ttl_seconds: int = Field(300, ge=1, le=86_400)


class Fallback(_Strict):
    enabled: bool = True
    primary_name: DnsLabel = "redis-fallback"
    replica_name: DnsLabel = "redis-fallback-replica"
    primary_port: Port = 6380
    replica_port: Port = 6381
    memory_tier: MemoryTier = MemoryTier()
    tiers: tuple[Tier, ...] = FALLBACK_TIER_ORDER

    @field_validator("tiers")
    @classmethod
    def _brief_order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        expected = [tier for tier in FALLBACK_TIER_ORDER if tier in value]
        if list(value) != expected or len(set(value)) != len(value):
            raise ValueError(
                f"tiers {list(value)} are not in the fallback order; fix: keep the order {list(FALLBACK_TIER_ORDER)}"
                " (tiers may be left out, not reordered)"
            )
        if not value or value[0] != "cluster" or value[-1] != "database":
            raise ValueError("tiers must start with 'cluster' and end with 'database'; fix: add them back")
        return value


class Exporter(_Strict):
    enabled: bool = True
    name: DnsLabel = "redis-exporter"
    port: Port = 9121


class Prometheus(_Strict):
    """A Prometheus server in the stack itself, scraping the exporter with the rendered rules (Docker targets)."""

    enabled: bool = Field(
        False, description="Run Prometheus beside the cluster (the dev stack turns it on); off: bring your own."
    )
    name: DnsLabel = "prometheus"
    port: Port = 9090
    retention: str = Field("7d", pattern=r"^[1-9][0-9]*(h|d|w)$")


class Monitoring(_Strict):
    """How the cluster is watched: scrape settings, alert timing, and the optional Prometheus server."""

    scrape_interval_s: int = Field(15, ge=1, le=300)
    alert_for_override_s: int | None = Field(
        None,
        ge=0,
        le=3600,
        description="Every alert's `for:` becomes this (drills and tests); leave unset for the rules' own.",
    )
    prometheus: Prometheus = Prometheus()
    prometheus_operator: bool = Field(
        False, description="Kubernetes: also a ServiceMonitor and a PrometheusRule (needs the Prometheus Operator)."
    )


class Network(_Strict):
    name: str = "cache-cluster"
    publish_address: str = "127.0.0.1"
    allow_public_publish: bool = Field(
        False, description="Required to publish on a wildcard or non-loopback address: exposes Redis to the network."
    )

    @model_validator(mode="after")
    def _publish_opt_in(self) -> Network:
        try:
            address = ipaddress.ip_address(self.publish_address)
        except ValueError:
            raise field_error(
                "publish_address",
                f"publish_address {self.publish_address!r} is not an IP address (Docker binds ports to IPs); "
                "fix: use 127.0.0.1",
            ) from None
        if not address.is_loopback and not self.allow_public_publish:
            where = "every interface" if self.publish_address in WILDCARD_ADDRESSES else self.publish_address
            raise field_error(
                "publish_address",
                f"publish_address {self.publish_address!r} exposes Redis on {where}; fix: keep 127.0.0.1, or set "
                "network.allow_public_publish: true if you really mean it",
            )
        return self


class Kubernetes(_Strict):
    namespace: DnsLabel = "cache"
    cluster_domain: str = Field(
        "cluster.local", pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", description="The cluster's DNS domain."
    )
    storage_class: str | None = None
    topology_key: str = "kubernetes.io/hostname"
    monitoring_namespace: DnsLabel = Field(
        "monitoring", description="The namespace whose pods may scrape the exporter (NetworkPolicy)."
    )
    pod_disruption_max_unavailable: int = Field(1, ge=1)
    network_policy: bool = True


class Tls(_Strict):
    enabled: bool = False
    cert_secret: str | None = Field(
        None, description="Kubernetes Secret / Docker volume with tls.crt, tls.key, ca.crt."
    )

    @model_validator(mode="after")
    def _not_yet(self) -> Tls:
        if self.enabled:
            raise field_error(
                "enabled",
                "TLS is declared in the model but no rendering supports it yet; fix: set tls.enabled: false "
                "(tracked as the security-hardening work)",
            )
        return self


class ClusterSpec(_Strict):
    """The whole deployment. One instance drives Pulumi, Compose, Kubernetes and the post-deploy hook."""

    name: DnsLabel = Field("cache-cluster", description="Compose project / resource name prefix.")
    environment: DnsLabel = "dev"
    target: Literal["docker", "kubernetes"] = "docker"
    topology: Topology = Topology()
    images: Images = Images()
    auth: Auth = Auth()
    persistence: Persistence = Persistence()
    memory: Memory = Memory()
    sentinels: Sentinels = Sentinels()
    fallback: Fallback = Fallback()
    exporter: Exporter = Exporter()
    monitoring: Monitoring = Monitoring()
    network: Network = Network()
    kubernetes: Kubernetes = Kubernetes()
    tls: Tls = Tls()

    @model_validator(mode="after")
    def _whole_spec_rules(self) -> ClusterSpec:
        if self.topology.replicas_per_master == 0 and self.environment != "dev":
            raise field_error(
                "topology.replicas_per_master",
                f"topology.replicas_per_master is 0 in environment {self.environment!r}: a lost master loses its "
                "shard; fix: set topology.replicas_per_master to 1 or more (0 is allowed only in 'dev')",
            )
        if self.fallback.enabled and self.sentinels.count < 3 and self.environment != "dev":
            raise field_error(
                "sentinels.count",
                f"sentinels.count {self.sentinels.count} in environment {self.environment!r}: one lost sentinel "
                "stops failover of the fallback Redis; fix: use 3 sentinels with quorum 2 (fewer only in 'dev')",
            )
        if self.monitoring.prometheus.enabled and not self.exporter.enabled:
            raise field_error(
                "monitoring.prometheus.enabled",
                "monitoring.prometheus.enabled is true but exporter.enabled is false: Prometheus scrapes Redis "
                "through the exporter; fix: set exporter.enabled: true, or turn the Prometheus server off",
            )
        _check_port_collisions(self)
        _check_name_collisions(self)
        return self


def spec_json(spec: ClusterSpec) -> str:
    """The spec for the hook, without the password (it goes in the environment, as a secret)."""
    return json.dumps(spec.model_dump(mode="json", exclude={"auth": {"password"}}), sort_keys=True)


@dataclass(frozen=True)
class OwnedPort:
    owner: str
    port: int
    field: str  # the spec field that sets this port
    bus: bool = False


def service_ports(spec: ClusterSpec) -> list[OwnedPort]:
    """Every port the deployment listens on, bus ports included, with the field that sets it."""
    topology = spec.topology
    owned: list[OwnedPort] = []
    for name, port in topology.node_names_and_ports():
        owned.append(OwnedPort(name, port, "topology.base_port"))
        owned.append(OwnedPort(f"{name} (cluster bus)", port + BUS_PORT_OFFSET, "topology.base_port", True))
    if spec.fallback.enabled:
        owned += [OwnedPort(name, port, "sentinels.base_port") for name, port in spec.sentinels.names_and_ports()]
    if spec.fallback.enabled:
        owned.append(OwnedPort(spec.fallback.primary_name, spec.fallback.primary_port, "fallback.primary_port"))
        owned.append(OwnedPort(spec.fallback.replica_name, spec.fallback.replica_port, "fallback.replica_port"))
    if spec.exporter.enabled:
        owned.append(OwnedPort(spec.exporter.name, spec.exporter.port, "exporter.port"))
    prometheus = spec.monitoring.prometheus
    if prometheus.enabled:
        owned.append(OwnedPort(prometheus.name, prometheus.port, "monitoring.prometheus.port"))
    return owned


def _check_port_collisions(spec: ClusterSpec) -> None:
    for index in range(spec.sentinels.count if spec.fallback.enabled else 0):
        if spec.sentinels.base_port + index > 65535:
            raise field_error(
                "sentinels.base_port",
                f"sentinels.base_port {spec.sentinels.base_port} leaves sentinel {index + 1} above port 65535; "
                "fix: lower sentinels.base_port",
            )
    seen: dict[int, OwnedPort] = {}
    for owned in service_ports(spec):
        first = seen.get(owned.port)
        if first is not None:
            raise field_error(
                owned.field,
                f"port {owned.port} is used by both {first.owner} and {owned.owner}; fix: move one of them "
                f"({first.field} or {owned.field}; cluster nodes also use each port + {BUS_PORT_OFFSET} for the bus)",
            )
        seen[owned.port] = owned


def _check_name_collisions(spec: ClusterSpec) -> None:
    names = [owned.owner for owned in service_ports(spec) if not owned.bus]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise field_error("fallback", f"service names {duplicates} are used twice; fix: give each service its own name")

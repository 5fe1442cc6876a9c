"""plan(spec): every decision that is not I/O, as plain data.

The Docker component, the Compose file and the Kubernetes component are renderings of the same `ServicePlan`s;
the hook reads the same `NodePlan`s. Nothing here talks to Pulumi, Docker or Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import yaml

from . import acl, addresses, conf, tls
from .acl import SecretKind
from .contract import EnvContract, env_contract
from .monitoring.targets import scrape_targets
from .placement import SlotRange, assign_replicas, even_slot_ranges
from .spec import BUS_PORT_OFFSET, WILDCARD_ADDRESSES, ClusterSpec, hook_data

Role = Literal["cluster-node", "fallback-primary", "fallback-replica", "sentinel", "exporter", "prometheus", "init"]
# Which image a service runs; each is overridable on its own (Compose: CACHE_CLUSTER_<KIND>_IMAGE).
ImageKind = Literal["redis", "exporter", "prometheus", "hook"]
# Upstream redis images run Redis as uid/gid 999; the offline images built here use the same ids.
REDIS_USER = "999:999"
NOBODY_USER = "65534:65534"
PROMETHEUS_CONFIG_DIR = "/etc/prometheus"
PROMETHEUS_DATA_DIR = "/prometheus"
ENTRYPOINT_PATH = f"{conf.CONFIG_DIR}/entrypoint.sh"
# Files are root-owned in the container and must be readable by the redis user (uid 999); scripts run.
CONFIG_FILE_MODE = 0o444
SCRIPT_FILE_MODE = 0o555
# Secret files too are root-owned (Compose copies them in as root, and cannot chown them to a numeric user the
# image's passwd does not name): readable by the container's one user, which is the point of them.
SECRET_FILE_MODE = 0o444


@dataclass(frozen=True)
class NodePlan:
    name: str
    index: int
    port: int
    bus_port: int
    role: Literal["master", "replica"]
    shard: int
    master: str | None
    slots: tuple[SlotRange, ...]
    # What the node announces and clients dial: its name on Docker, its pod's DNS name on Kubernetes.
    host: str = ""

    @property
    def address(self) -> str:
        """`hostname:port`, as announced and as listed in REDIS_CLUSTER_NODES."""
        return f"{self.host or self.name}:{self.port}"


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_port: int
    container_port: int

    @property
    def host_endpoint(self) -> str:
        """`ip:port` the port is bound to on the host, with an IPv6 address in brackets."""
        return f"{bracketed(self.host_ip)}:{self.host_port}"

    @property
    def client_endpoint(self) -> str:
        """`ip:port` a client on the host dials: a wildcard binding is reached on loopback."""
        return f"{bracketed(client_host(self.host_ip))}:{self.host_port}"


def bracketed(address: str) -> str:
    """An IPv6 address in brackets, as it must be written before `:port`."""
    return f"[{address}]" if ":" in address else address


def client_host(address: str) -> str:
    """Where a client on the deploying machine reaches a port published on `address`."""
    return "127.0.0.1" if address in WILDCARD_ADDRESSES else address


@dataclass(frozen=True)
class VolumeMount:
    volume: str
    path: str


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]
    # A ping is cheap; a short interval lets `compose up --wait` and health-gated starts (sentinels wait for
    # the fallback primary) go on seconds sooner. 15 misses (30 s) before a container is called unhealthy.
    interval_s: int = 2
    timeout_s: int = 2
    retries: int = 15
    start_period_s: int = 5


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"]
    # False: the dependant starts even when the dependency failed (Compose's `required: false`).
    required: bool = True


@dataclass(frozen=True)
class ServicePlan:
    """One container (Docker, Compose) or pod template (Kubernetes), target-neutral."""

    name: str
    role: Role
    image: str
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    env: Mapping[str, str]
    # Secret files in the container: path -> the kind of secret it holds (acl.py). No secret is ever passed in
    # the environment; every target mounts these (Compose `secrets:`, Docker uploads, a Kubernetes Secret volume).
    secret_files: Mapping[str, SecretKind]
    ports: tuple[PortMapping, ...]
    volumes: tuple[VolumeMount, ...]
    files: Mapping[str, str]
    healthcheck: HealthCheck | None
    depends_on: tuple[Dependency, ...] = ()
    memory_mb: int | None = None
    cpu_limit: str | None = None  # a Kubernetes CPU quantity ("500m", "1.5"); Docker renders it as --cpus
    user: str | None = None
    restart: str = "unless-stopped"
    aliases: tuple[str, ...] = field(default=())

    @property
    def hostname(self) -> str:
        return self.name

    @property
    def image_kind(self) -> ImageKind:
        if self.role in ("exporter", "prometheus"):
            return self.role
        if self.role == "init":
            return "hook"
        return "redis"

    def file_mode(self, path: str) -> int:
        """The mode of one of `files`: executable when the service runs it as its entrypoint."""
        return SCRIPT_FILE_MODE if path in self.entrypoint else CONFIG_FILE_MODE


@dataclass(frozen=True)
class InitPlan:
    """The post-deploy hook as a one-shot container on the cluster's network (`cache-cluster init`).

    Kept apart from `DeploymentPlan.services` (the long-running servers): it runs once per deployment, exits,
    and is not restarted. `awaited_by` are services that start only after it finished (successfully or not):
    a one-shot service nobody waits for is "ready" for `docker-compose up --wait` as soon as it runs, so the
    exporter waiting for it makes `up --wait` return once the cluster is formed.
    """

    service: ServicePlan
    awaited_by: tuple[str, ...]


@dataclass(frozen=True)
class DeploymentPlan:
    spec: ClusterSpec
    nodes: tuple[NodePlan, ...]
    services: tuple[ServicePlan, ...]
    contract: EnvContract
    exporter_targets: tuple[str, ...]
    init: InitPlan | None = None

    @property
    def masters(self) -> tuple[NodePlan, ...]:
        return tuple(node for node in self.nodes if node.role == "master")

    @property
    def volumes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(mount.volume for service in self.services for mount in service.volumes))

    def service(self, name: str) -> ServicePlan:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def host_address_map(self) -> dict[str, str]:
        """`name:port -> ip:port` for clients on the host (ports are the same inside and out)."""
        mapping: dict[str, str] = {}
        for service in self.services:
            for port in service.ports:
                mapping[f"{service.name}:{port.container_port}"] = port.client_endpoint
        return mapping


def plan_nodes(spec: ClusterSpec) -> tuple[NodePlan, ...]:
    topology = spec.topology
    node_addresses = addresses.cluster_nodes(spec)
    names = [address.name for address in node_addresses]
    masters, replicas = names[: topology.masters], names[topology.masters :]
    slot_ranges = even_slot_ranges(topology.masters)
    master_of = assign_replicas(masters, replicas).master_of
    nodes: list[NodePlan] = []
    for index, address in enumerate(node_addresses):
        name, port = address.name, address.port
        is_master = name in masters
        master = None if is_master else master_of[name]
        shard = masters.index(name if is_master else master_of[name])
        nodes.append(
            NodePlan(
                name=name,
                index=index + 1,
                port=port,
                bus_port=port + BUS_PORT_OFFSET,
                role="master" if is_master else "replica",
                shard=shard,
                master=master,
                slots=(slot_ranges[shard],) if is_master else (),
                host=address.host,
            )
        )
    return tuple(nodes)


def _ping_check(spec: ClusterSpec, port: int) -> HealthCheck:
    # redis-cli exits 0 even on NOAUTH, so the check compares the reply. It signs in as the exporter user (PING
    # and INFO only), the password on stdin from the secret file: nothing in the check's text or environment.
    password_file = acl.secret_path(acl.EXPORTER_USER, spec)
    cli = conf.cli_as(acl.EXPORTER_USER, spec)
    return HealthCheck(test=("CMD-SHELL", f'[ "$({cli} -p {port} ping < {password_file})" = PONG ]'))


def _published(spec: ClusterSpec, port: int) -> tuple[PortMapping, ...]:
    return (PortMapping(spec.network.publish_address, port, port),)


def _secret_files(spec: ClusterSpec, kinds: tuple[SecretKind, ...]) -> dict[str, SecretKind]:
    return {acl.secret_path(kind, spec): kind for kind in kinds}


def _redis_service(
    spec: ClusterSpec,
    *,
    name: str,
    role: Role,
    port: int,
    config: str,
    entrypoint_script: str,
    server_role: acl.ServerRole,
    depends_on: tuple[Dependency, ...] = (),
) -> ServicePlan:
    return ServicePlan(
        name=name,
        role=role,
        image=spec.images.redis,
        entrypoint=("sh", ENTRYPOINT_PATH),
        command=(),
        env={},
        secret_files=_secret_files(spec, (*acl.server_secret_kinds(spec, server_role), *tls.server_kinds(spec))),
        ports=_published(spec, port),
        volumes=(VolumeMount(f"{name}-data", conf.DATA_DIR),),
        files={f"{conf.CONFIG_DIR}/redis.conf": config, ENTRYPOINT_PATH: entrypoint_script},
        healthcheck=_ping_check(spec, port),
        depends_on=depends_on,
        memory_mb=spec.memory.container_memory_mb,
        cpu_limit=spec.memory.cpu_limit,
        user=REDIS_USER,
        aliases=(name,),
    )


def plan_services(spec: ClusterSpec, nodes: tuple[NodePlan, ...]) -> tuple[ServicePlan, ...]:
    services = [
        _redis_service(
            spec,
            name=node.name,
            role="cluster-node",
            port=node.port,
            config=conf.render_node_conf(spec, hostname=node.host, port=node.port),
            entrypoint_script=conf.render_node_entrypoint(spec, port=node.port),
            server_role="cluster-node",
        )
        for node in nodes
    ]
    fallback = spec.fallback
    if fallback.enabled:
        server_entrypoint = conf.render_server_entrypoint(spec)
        primary, replica = addresses.fallback_primary(spec), addresses.fallback_replica(spec)
        primary_healthy = Dependency(fallback.primary_name, "service_healthy")
        services.append(
            _redis_service(
                spec,
                name=fallback.primary_name,
                role="fallback-primary",
                port=fallback.primary_port,
                config=conf.render_fallback_conf(spec, hostname=primary.host, port=primary.port, replica_of=None),
                entrypoint_script=server_entrypoint,
                server_role="fallback",
            )
        )
        services.append(
            _redis_service(
                spec,
                name=fallback.replica_name,
                role="fallback-replica",
                port=fallback.replica_port,
                config=conf.render_fallback_conf(
                    spec,
                    hostname=replica.host,
                    port=replica.port,
                    replica_of=(primary.host, primary.port),
                ),
                entrypoint_script=server_entrypoint,
                server_role="fallback",
                depends_on=(primary_healthy,),
            )
        )
        services += _sentinel_services(spec, depends_on=(primary_healthy,))
    if spec.exporter.enabled:
        services.append(
            _exporter_service(spec, depends_on=tuple(Dependency(node.name, "service_started") for node in nodes))
        )
    if spec.monitoring.prometheus.enabled:
        services.append(_prometheus_service(spec))
    return tuple(services)


def _sentinel_services(spec: ClusterSpec, depends_on: tuple[Dependency, ...]) -> list[ServicePlan]:
    entrypoint_script = conf.render_sentinel_entrypoint(spec)
    services = []
    for address in addresses.sentinels(spec):
        name, port = address.name, address.port
        services.append(
            ServicePlan(
                name=name,
                role="sentinel",
                image=spec.images.redis,
                entrypoint=("sh", ENTRYPOINT_PATH),
                command=(),
                env={},
                secret_files=_secret_files(spec, (*acl.server_secret_kinds(spec, "sentinel"), *tls.server_kinds(spec))),
                ports=_published(spec, port),
                volumes=(),
                files={
                    f"{conf.CONFIG_DIR}/sentinel.conf": conf.render_sentinel_conf(
                        spec, hostname=address.host, port=port
                    ),
                    ENTRYPOINT_PATH: entrypoint_script,
                },
                healthcheck=_ping_check(spec, port),
                depends_on=depends_on,
                memory_mb=64,
                user=REDIS_USER,
                aliases=(name,),
            )
        )
    return services


def exporter_targets(spec: ClusterSpec) -> tuple[str, ...]:
    """`redis://host:port` of every instance the exporter covers through its /scrape?target= endpoint."""
    return tuple(target.url() for target in scrape_targets(spec))


def _exporter_service(spec: ClusterSpec, depends_on: tuple[Dependency, ...]) -> ServicePlan:
    exporter = spec.exporter
    first_node = str(addresses.cluster_nodes(spec)[0])
    return ServicePlan(
        name=exporter.name,
        role="exporter",
        image=spec.images.exporter,
        # Upstream's image is FROM scratch with /redis_exporter as its entrypoint; the offline image matches it.
        entrypoint=("/redis_exporter",),
        command=(
            f"--redis.addr={tls.scheme(spec)}://{first_node}",
            f"--web.listen-address=:{exporter.port}",
            "--include-system-metrics=false",
            # Signs in as the exporter user everywhere, with the password its map file gives for each target
            # (the image has no shell to read a plain file with). CONFIG is not the exporter user's to run.
            f"--redis.user={acl.EXPORTER_USER}",
            f"--redis.password-file={acl.secret_path(acl.EXPORTER_MAP, spec)}",
            "--config-command=-",
            *_exporter_tls_options(spec),
        ),
        env={},
        secret_files=_secret_files(spec, (acl.EXPORTER_MAP, *tls.client_kinds(spec))),
        ports=_published(spec, exporter.port),
        volumes=(),
        files={},
        # No shell or HTTP client in the upstream image to probe with; the hook checks /scrape instead.
        healthcheck=None,
        depends_on=depends_on,
        memory_mb=128,
        aliases=(exporter.name,),
    )


def _exporter_tls_options(spec: ClusterSpec) -> tuple[str, ...]:
    """redis_exporter's TLS flags: trust the deployment's CA, and present the client certificate if there is one."""
    files = tls.client_files(spec)
    if files is None:
        return ()
    options = [f"--tls-ca-cert-file={files.ca}"]
    if files.cert is not None and files.key is not None:
        options += [f"--tls-client-cert-file={files.cert}", f"--tls-client-key-file={files.key}"]
    return tuple(options)


def hook_tls_options(files: tls.ClientFiles | None) -> tuple[str, ...]:
    """`cache-cluster init|validate|status`'s TLS options for these files (none without TLS)."""
    if files is None:
        return ()
    options = ["--tls-ca-cert", files.ca]
    if files.cert is not None and files.key is not None:
        options += ["--tls-cert", files.cert, "--tls-key", files.key]
    return tuple(options)


def _prometheus_service(spec: ClusterSpec) -> ServicePlan:
    """Prometheus with the rendered scrape configuration and rules (the same text as monitoring/)."""
    # Here, not at the top: the rules and the dashboard are imported only by a plan that runs Prometheus (the
    # hook's commands plan every deployment and start faster without them).
    from .monitoring.files import prometheus_config_text, rules_text
    from .monitoring.prometheus_config import CONFIG_FILE, RULES_FILE

    prometheus = spec.monitoring.prometheus
    return ServicePlan(
        name=prometheus.name,
        role="prometheus",
        image=spec.images.prometheus,
        # Upstream's image: /bin/prometheus, busybox (wget for the health check), user nobody, data in
        # /prometheus owned by nobody. The offline image matches all four.
        entrypoint=("/bin/prometheus",),
        command=(
            f"--config.file={PROMETHEUS_CONFIG_DIR}/{CONFIG_FILE}",
            f"--storage.tsdb.path={PROMETHEUS_DATA_DIR}",
            f"--storage.tsdb.retention.time={prometheus.retention}",
            f"--web.listen-address=:{prometheus.port}",
        ),
        env={},
        secret_files={},  # it scrapes the exporter over HTTP: no Redis password
        ports=_published(spec, prometheus.port),
        volumes=(VolumeMount(f"{prometheus.name}-data", PROMETHEUS_DATA_DIR),),
        files={
            f"{PROMETHEUS_CONFIG_DIR}/{CONFIG_FILE}": prometheus_config_text(spec),
            f"{PROMETHEUS_CONFIG_DIR}/{RULES_FILE}": rules_text(spec),
        },
        healthcheck=HealthCheck(
            test=("CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{prometheus.port}/-/ready")
        ),
        depends_on=(Dependency(spec.exporter.name, "service_started"),),
        memory_mb=256,
        user=NOBODY_USER,
        aliases=(prometheus.name,),
    )


INIT_SERVICE = "cache-cluster-init"
HOOK_SPEC_PATH = f"{conf.CONFIG_DIR}/cluster.yaml"
# The hook's deadline inside the container; it waits for every server itself (progress in its log).
HOOK_TIMEOUT_S = 120


def hook_spec_text(spec: ClusterSpec) -> str:
    """The spec as the hook reads it from a file: every field but the password, which only a secret file holds."""
    return yaml.safe_dump(hook_data(spec), sort_keys=True, default_flow_style=False)


def plan_init(spec: ClusterSpec, services: tuple[ServicePlan, ...]) -> InitPlan:
    """`cache-cluster init` in a container: dials every server by its announced name inside the network, signed
    in as the admin user with the password from its secret file (never from the environment)."""
    servers = tuple(service for service in services if service.role not in ("exporter", "prometheus"))
    admin_password = acl.secret_path(acl.ADMIN_USER, spec)
    service = ServicePlan(
        name=INIT_SERVICE,
        role="init",
        image=spec.images.hook,
        entrypoint=("cache-cluster",),
        command=(
            "init",
            HOOK_SPEC_PATH,
            "--via",
            "direct",
            "--password-file",
            admin_password,
            "--timeout",
            str(HOOK_TIMEOUT_S),
            *hook_tls_options(tls.client_files(spec)),
        ),
        env={},
        secret_files={admin_password: acl.ADMIN_USER, **_secret_files(spec, tls.client_kinds(spec))},
        ports=(),
        volumes=(),
        files={HOOK_SPEC_PATH: hook_spec_text(spec)},
        healthcheck=None,
        # Started, not healthy: the hook waits for each server itself (deadline, progress), and it fails at
        # once with its own message when the password is missing instead of behind a health-check timeout.
        depends_on=tuple(Dependency(server.name, "service_started") for server in servers),
        memory_mb=256,
        user=NOBODY_USER,  # as in the Dockerfile and the offline build
        restart="no",
        aliases=(INIT_SERVICE,),
    )
    awaited_by = tuple(other.name for other in services if other.role == "exporter")
    return InitPlan(service=service, awaited_by=awaited_by)


def plan(spec: ClusterSpec) -> DeploymentPlan:
    nodes = plan_nodes(spec)
    services = plan_services(spec, nodes)
    return DeploymentPlan(
        spec=spec,
        nodes=nodes,
        services=services,
        contract=env_contract(spec),
        exporter_targets=exporter_targets(spec) if spec.exporter.enabled else (),
        init=plan_init(spec, services),
    )

"""DockerCacheCluster: the deployment plan on a Docker engine, with pulumi-docker.

The Compose file and this component are two renderings of the same `ServicePlan`s (tests/unit/targets/test_parity.py
holds them to each other); every decision lives in plan.py, this module only spells it in pulumi-docker's
vocabulary. The pure helpers (`container_args`, `env_entries`, ...) need no Pulumi engine and are tested alone.

Physical names follow compose.py so the two renderings manage the same things on one engine (they are
alternatives: both publish the same host ports): the network is `spec.network.name` itself (compose.py names it
explicitly, so other Compose projects can join it as `external: true`), volumes are Compose's
`<spec.name>_<volume>` (a `make down` / `pulumi up` switch keeps every node's data and nodes.conf), and
containers are `<spec.name>-<service>` (Compose's `<project>-<service>-<n>` without the replica index: there is
exactly one container per service).
"""

from __future__ import annotations

import functools
import itertools
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from ..engine_address import engine_host, reachable_address_map
from ..environment import ADMIN_PASSWORD_ENV
from ..plan import SECRET_FILE_MODE, DeploymentPlan, HealthCheck, ServicePlan, plan
from ..spec import ClusterSpec
from ..target_support import docker_cpus, docker_notes
from .pulumi_common import (
    DeployInputError,
    acl_passwords,
    cluster_password,
    deployment_secret_files,
    internal_passwords,
    secret_values,
    spec_json,
)

TYPE_TOKEN = "cache-cluster:index:DockerCacheCluster"
HOOK_VIAS = ("direct", "published")
# pulumi-docker stops a container with `destroy_grace_seconds` (0 when unset: SIGKILL right after SIGTERM) before
# removing it, on replace and on destroy (kreuzwerker/terraform-provider-docker, resource_docker_container_funcs.go,
# resourceDockerContainerDelete). Redis needs the time to fsync the AOF, and Redis 7 waits up to
# shutdown-timeout (10 s) for lagging replicas before it exits.
STOP_GRACE_SECONDS = 30
# Beyond the health check's own budget (start period + interval x retries) before `wait` gives up.
WAIT_MARGIN_SECONDS = 30


class _RequiredArgs(TypedDict):
    spec: ClusterSpec


class DockerCacheClusterArgs(_RequiredArgs, total=False):
    password: pulumi.Input[str]  # generated (pulumi-random) when left out and the spec has none
    acl_passwords: Mapping[str, pulumi.Input[str]]  # ACL user name -> password; generated when left out
    # admin / exporter / replication / sentinel -> password (acl.py's built-in users); generated when left out
    internal_passwords: Mapping[str, pulumi.Input[str]]
    run_hook: bool  # run `cache-cluster init` after every node exists (default true)
    hook_via: str  # how the hook reaches the nodes: "published" (default) or "direct"
    retain_volumes: bool  # data volumes survive `pulumi destroy` (default true; they are shared with Compose)


# ---------------------------------------------------------------------------------------------- pure helpers


def volume_name(spec: ClusterSpec, volume: str) -> str:
    return f"{spec.name}_{volume}"


def container_name(spec: ClusterSpec, service: ServicePlan) -> str:
    return f"{spec.name}-{service.name}"


def duration(seconds: int) -> str:
    """pulumi-docker takes health-check durations as Go duration strings."""
    return f"{seconds}s"


def healthcheck_args(check: HealthCheck) -> dict[str, Any]:
    return {
        "tests": list(check.test),
        "interval": duration(check.interval_s),
        "timeout": duration(check.timeout_s),
        "retries": check.retries,
        "start_period": duration(check.start_period_s),
    }


def secret_upload_args(service: ServicePlan, contents: Mapping[str, pulumi.Input[str]]) -> list[dict[str, Any]]:
    """The service's secret files (`contents`: each secret kind's file content), copied in before it starts.

    Uploaded files live in the container's filesystem, not in its configuration: `docker inspect` and the
    environment of its processes never show them. The Container's `uploads` are a secret output."""
    return [
        {"file": path, "content": contents[kind], "executable": False, "permissions": f"0{SECRET_FILE_MODE:o}"}
        for path, kind in service.secret_files.items()
    ]


def upload_args(service: ServicePlan) -> list[dict[str, Any]]:
    """The service's files, written into the container before it starts (no secret is in any of them)."""
    uploads = []
    for path, content in service.files.items():
        mode = service.file_mode(path)
        uploads.append(
            {
                "file": path,
                "content": content,
                "executable": bool(mode & 0o111),
                "permissions": f"0{mode:o}",
            }
        )
    return uploads


def wait_timeout(check: HealthCheck) -> int:
    """Seconds `wait` allows a container to become healthy: its health check's whole budget, and a margin."""
    return check.start_period_s + check.interval_s * check.retries + WAIT_MARGIN_SECONDS


def rolling_order(deployment: DeploymentPlan) -> list[str]:
    """The order containers are created and replaced in: one shard after another, each shard's replicas before
    its master; then the fallback Redis and its sentinels (as the plan lists them), the exporter last.

    A replaced master comes back on its volume (nodes.conf, AOF) as the same node; while it is away its
    replica, already replaced and healthy, takes over its slots, so every shard keeps serving.
    """
    order: list[str] = []
    for master in deployment.masters:
        order += [node.name for node in deployment.nodes if node.master == master.name]
        order.append(master.name)
    nodes = set(order)
    order += [service.name for service in deployment.services if service.name not in nodes]
    return order


def rolling_predecessors(deployment: DeploymentPlan) -> dict[str, str]:
    """Each service -> the one before it in `rolling_order` (the first has none)."""
    return {after: before for before, after in itertools.pairwise(rolling_order(deployment))}


def container_args(
    spec: ClusterSpec,
    service: ServicePlan,
    *,
    network: pulumi.Input[str],
    volumes: Mapping[str, pulumi.Input[str]],
    secret_contents: Mapping[str, pulumi.Input[str]] | None = None,
) -> dict[str, Any]:
    """docker.Container arguments for one service, except `image` (an Output). Secret files are uploaded with
    `secret_contents` (each kind's content); without it, none are (the pure parts, as tests compare them)."""
    check = service.healthcheck
    return {
        "name": container_name(spec, service),
        "hostname": service.hostname,
        "entrypoints": list(service.entrypoint) or None,
        "command": list(service.command) or None,
        "networks_advanced": [{"name": network, "aliases": list(service.aliases)}],
        "ports": [
            {"internal": port.container_port, "external": port.host_port, "ip": port.host_ip, "protocol": "tcp"}
            for port in service.ports
        ],
        "volumes": [{"volume_name": volumes[mount.volume], "container_path": mount.path} for mount in service.volumes],
        "uploads": upload_args(service) + (secret_upload_args(service, secret_contents) if secret_contents else []),
        "envs": env_entries(service) or None,
        "healthcheck": healthcheck_args(check) if check is not None else None,
        "restart": service.restart,
        "memory": service.memory_mb,
        "cpus": docker_cpus(service.cpu_limit) if service.cpu_limit is not None else None,
        "user": service.user,
        # tini as pid 1: forwards SIGTERM to redis-server and reaps the node entrypoint's background rejoin loop.
        "init": True,
        # SIGTERM and this long to exit cleanly, on replace and destroy alike (the provider's default is 0).
        "destroy_grace_seconds": STOP_GRACE_SECONDS,
        # The same for a plain `docker stop` (engine restarts, people at a terminal).
        "stop_timeout": STOP_GRACE_SECONDS,
        # Every container with a health check is waited for until healthy: the next one in the rolling order
        # (and Compose's `condition: service_healthy` dependants) start only then. pulumi-docker's `wait`
        # requires a health check, so the exporter (none: FROM scratch) is not waited for.
        "wait": check is not None,
        "wait_timeout": wait_timeout(check) if check is not None else None,
    }


def env_entries(service: ServicePlan) -> list[str]:
    """`KEY=value` for the container: never a secret (those are files)."""
    return [f"{name}={value}" for name, value in service.env.items()]


def exporter_url(deployment: DeploymentPlan, address_map: Mapping[str, str] | None = None) -> str | None:
    spec = deployment.spec
    mapping = deployment.host_address_map() if address_map is None else address_map
    address = mapping.get(f"{spec.exporter.name}:{spec.exporter.port}")
    if not spec.exporter.enabled or address is None:
        return None
    return f"http://{address}"


def program_python(python: str = sys.executable, cwd: str | None = None) -> str:
    """The program's interpreter, relative to the working directory the engine gives the program and its plugins.

    The engine's working directory for a project is its `main` directory (pulumi/pulumi pkg/engine, getPwdMain);
    the program runs there and so does every provider plugin (sdk/go/common/resource/plugin/plugin.go, execPlugin:
    `cmd.Dir = pwd`), so the path resolves for the Command provider, and it reads the same in every checkout: an
    absolute path would show a change (and rerun the hook) from any other directory.
    """
    relative = os.path.relpath(python, cwd if cwd is not None else os.getcwd())
    return relative if relative.startswith(("/", "../", "./")) else f"./{relative}"


def hook_command(via: str, python: str | None = None, address_map: Mapping[str, str] | None = None) -> str:
    """`cache-cluster init` reading the spec from stdin.

    The program's own interpreter runs it: the package is importable there (the program is importing it right
    now), whereas the Command provider runs outside the project's virtualenv, where `cache-cluster` may not be
    on PATH. With an address map (a remote engine) the hook dials it instead of the spec's publish address.
    """
    interpreter = shlex.quote(python if python is not None else program_python())
    target = f"--via {shlex.quote(via)}"
    if address_map is not None:
        target = "--address-map " + shlex.quote(",".join(f"{key}={value}" for key, value in address_map.items()))
    return f"{interpreter} -m cache_cluster.cli init /dev/stdin {target} --json"


def unreachable_hook_error(docker_host: str) -> DeployInputError:
    return DeployInputError(
        f"the Docker provider points at {docker_host}, whose ports are published on loopback "
        "(network.publish_address): the post-deploy hook cannot reach them from this machine; fix: set "
        "network.publish_address to an address of that host this machine reaches (with "
        "network.allow_public_publish: true), or set run_hook: false and run `cache-cluster init --via direct` "
        "from a container on the cluster's network"
    )


def configured_docker_host(provider: pulumi.ProviderResource | None) -> pulumi.Output[str | None]:
    """The Docker engine the containers go to: the given provider's `host`, else the default provider's
    (`docker:host` stack config, else DOCKER_HOST, as pulumi-docker reads them)."""
    if provider is not None:
        host = getattr(provider, "host", None)
        return pulumi.Output.from_input(host) if host is not None else pulumi.Output.from_input(None)
    return pulumi.Output.from_input(pulumi.Config("docker").get("host") or os.environ.get("DOCKER_HOST"))


# ------------------------------------------------------------------------------------------------ component


class DockerCacheCluster(pulumi.ComponentResource):
    """The Redis Cluster, the fallback Redis with its sentinels and the exporter, as Docker containers.

    Outputs: `env` (the applications' env contract; REDIS_PASSWORD secret), `node_endpoints`, `host_address_map`
    and `exporter_url` (as this machine reaches the published ports: the Docker provider's host for a remote
    engine; empty / None where they are published on a remote host's loopback), `password` and `acl_passwords`
    (secret), `admin_password` (secret: the hook's user), `network_name` (application containers join it to
    reach the nodes by name). Pass a docker
    Provider with `opts=pulumi.ResourceOptions(providers=[provider])`: every child uses it.
    """

    env: dict[str, pulumi.Output[str]]
    network_name: pulumi.Output[str]
    node_endpoints: list[str]
    host_address_map: pulumi.Output[dict[str, str]]
    exporter_url: pulumi.Output[str | None]
    password: pulumi.Output[str]
    acl_passwords: dict[str, pulumi.Output[str]]
    admin_password: pulumi.Output[str]
    containers: dict[str, docker.Container]
    volumes: dict[str, docker.Volume]
    hook: command.local.Command | None

    def __init__(self, name: str, args: DockerCacheClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args["spec"]
        via = args.get("hook_via", "published")
        if via not in HOOK_VIAS:
            raise DeployInputError(f"hook_via {via!r} is not one of {list(HOOK_VIAS)}; fix: use 'published'")
        deployment = plan(spec)
        child = pulumi.ResourceOptions(parent=self)
        for note in docker_notes(spec):  # what `check-config` says, in `pulumi up`'s output too
            pulumi.log.warn(note, resource=self)

        self.password = cluster_password(name, spec, args.get("password"), child)
        self.acl_passwords = acl_passwords(name, spec, args.get("acl_passwords", {}), child)
        internal = internal_passwords(name, spec, args.get("internal_passwords", {}), child)
        self.admin_password = internal["admin"]
        secrets = secret_values(self.password, self.acl_passwords, internal)

        # Fixed names: a replacement must delete the old one first, or the engine hands back the same object
        # (volumes) or refuses the name (networks).
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        network = docker.Network(f"{name}-network", name=spec.network.name, driver="bridge", opts=fixed_name)
        self.network_name = network.name
        # The data volumes (AOF, nodes.conf) carry Compose's names, so `make up` and this stack share them:
        # `pulumi destroy` leaves them in Docker unless the stack says otherwise (retain_on_delete: the engine
        # drops the volume from the state without calling the provider's delete). `pulumi up` again, or
        # `make up`, finds them by name and the cluster comes back with its data.
        volume_opts = pulumi.ResourceOptions.merge(
            fixed_name, pulumi.ResourceOptions(retain_on_delete=args.get("retain_volumes", True))
        )
        self.volumes = {
            volume: docker.Volume(f"{name}-{volume}", name=volume_name(spec, volume), opts=volume_opts)
            for volume in deployment.volumes
        }
        volume_names = {volume: resource.name for volume, resource in self.volumes.items()}
        self.containers = self._containers(name, deployment, network.name, volume_names, secrets)

        docker_host = configured_docker_host(self.get_provider("docker:index/container:Container"))
        remote = docker_host.apply(engine_host)
        self.host_address_map = remote.apply(functools.partial(reachable_address_map, deployment))
        self.exporter_url = self.host_address_map.apply(functools.partial(exporter_url, deployment))
        self.hook = None
        if args.get("run_hook", True):
            self.hook = self._hook(name, spec, self._hook_create(via, docker_host, self.host_address_map), secrets)

        contract = deployment.contract
        self.env = {key: pulumi.Output.from_input(value) for key, value in contract.public.items()}
        self.env |= {key: secrets[kind] for key, kind in contract.secret.items()}
        self.node_endpoints = [node.address for node in deployment.nodes]
        self.register_outputs(
            {
                "env": self.env,
                "node_endpoints": self.node_endpoints,
                "host_address_map": self.host_address_map,
                "exporter_url": self.exporter_url,
                "network_name": self.network_name,
                "password": self.password,
                "acl_passwords": self.acl_passwords,
                "admin_password": self.admin_password,
            }
        )

    def _containers(
        self,
        name: str,
        deployment: DeploymentPlan,
        network: pulumi.Output[str],
        volumes: Mapping[str, pulumi.Output[str]],
        secrets: Mapping[str, pulumi.Output[str]],
    ) -> dict[str, docker.Container]:
        spec = deployment.spec
        images: dict[str, docker.RemoteImage] = {}
        child = pulumi.ResourceOptions(parent=self)
        contents = deployment_secret_files(deployment, secrets)
        previous = rolling_predecessors(deployment)
        services = {service.name: service for service in deployment.services}
        containers: dict[str, docker.Container] = {}
        for service in (services[service_name] for service_name in rolling_order(deployment)):
            if service.image not in images:
                # The container gets the image ID, as pulumi-docker documents: it reads a container's image back
                # as an ID, so a name can show as a change (pulumi-docker#325), and a rebuilt image replaces the
                # container. A local image is used as it is (offline builds are never pulled); keep_locally:
                # destroying the stack must not delete images that cannot be pulled again.
                key = service.image_kind
                images[service.image] = docker.RemoteImage(
                    f"{name}-{key}-image", name=service.image, keep_locally=True, opts=child
                )
            # Compose's depends_on, and the container before this one in the rolling order. A plain depends_on
            # edge: the Python SDK registers a resource only once its dependencies are done ("all our
            # dependencies must be finished", pulumi/runtime/resource.py), and a dependency waited for with
            # `wait` is done when healthy. So creation and any replacement (a config or password change
            # replaces every container) go one container at a time, replicas before their masters, each healthy
            # before the next. The edge carries no property, so the engine does not delete the dependants of a
            # delete-before-replace resource with it (pulumi/pulumi pkg/resource/deploy/step_generator.go,
            # calculateDependentReplacements: a `dependsOn` edge alone does not make a dependant replaced).
            after = [dependency.service for dependency in service.depends_on]
            if service.name in previous:
                after.append(previous[service.name])
            containers[service.name] = docker.Container(
                f"{name}-{service.name}",
                image=images[service.image].image_id,
                **container_args(spec, service, network=network, volumes=volumes, secret_contents=contents),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[containers[dependency] for dependency in dict.fromkeys(after)],
                    # Fixed container name and host ports: the old container must go before the new one starts.
                    delete_before_replace=True,
                    # The secret files' contents, as the provider echoes them back into the state.
                    additional_secret_outputs=["uploads"],
                ),
            )
        return {service.name: containers[service.name] for service in deployment.services}

    def _hook_create(
        self, via: str, docker_host: pulumi.Output[str | None], address_map: pulumi.Output[dict[str, str]]
    ) -> pulumi.Output[str]:
        """The hook's command line: the spec's publish address for a local engine, the reachable map otherwise."""

        def command_line(host: str | None, mapping: dict[str, str]) -> str:
            if via == "direct" or engine_host(host) is None:
                return hook_command(via)
            if not mapping:
                raise unreachable_hook_error(str(host))
            return hook_command(via, address_map=mapping)

        return pulumi.Output.all(docker_host, address_map).apply(lambda both: command_line(*both))

    def _hook(
        self,
        name: str,
        spec: ClusterSpec,
        create: pulumi.Output[str],
        secrets: Mapping[str, pulumi.Output[str]],
    ) -> command.local.Command:
        """`cache-cluster init` once every container exists, again whenever one is replaced or the spec changes.

        A Command rather than a resource hook: an after-create hook runs per resource (not once all nodes exist),
        a failing after-hook is only a warning, and nothing of it is kept in the state, so the next `pulumi up`
        would not retry it. A Command that fails fails `pulumi up` and is retried by the next one; its triggers
        (the container IDs) rerun it when a node is replaced, and a spec change (its stdin) reruns it too. The
        hook is idempotent: on a formed, healthy cluster it only validates.
        """
        # The admin user's password only: the hook signs in as admin and needs no other.
        environment: dict[str, pulumi.Input[str]] = {ADMIN_PASSWORD_ENV: secrets["admin"]}
        containers: Sequence[docker.Container] = list(self.containers.values())
        return command.local.Command(
            f"{name}-init",
            create=create,
            # The spec travels on stdin (no secret in it); the password only in the environment, which
            # Pulumi stores as a secret. Neither the command line nor the hook's output holds a password.
            stdin=spec_json(spec),
            environment=pulumi.Output.secret(environment),
            triggers=[container.id for container in containers],
            add_previous_output_in_env=False,
            logging=command.local.Logging.STDOUT_AND_STDERR,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(containers), additional_secret_outputs=["environment"]
            ),
        )

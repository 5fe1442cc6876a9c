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
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from ..environment import PASSWORD_ENV
from ..plan import DeploymentPlan, HealthCheck, ServicePlan, plan
from ..spec import ClusterSpec
from .pulumi_common import DeployInputError, acl_passwords, cluster_password, secret_values, spec_json

TYPE_TOKEN = "cache-cluster:index:DockerCacheCluster"
HOOK_VIAS = ("direct", "published")


class _RequiredArgs(TypedDict):
    spec: ClusterSpec


class DockerCacheClusterArgs(_RequiredArgs, total=False):
    password: pulumi.Input[str]  # generated (pulumi-random) when left out and the spec has none
    acl_passwords: Mapping[str, pulumi.Input[str]]  # ACL user name -> password; generated when left out
    run_hook: bool  # run `cache-cluster init` after every node exists (default true)
    hook_via: str  # how the hook reaches the nodes: "published" (default) or "direct"


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


def health_gated(deployment: DeploymentPlan) -> set[str]:
    """Services another one waits for to be healthy (Compose's `condition: service_healthy`)."""
    return {
        dependency.service
        for service in deployment.services
        for dependency in service.depends_on
        if dependency.condition == "service_healthy"
    }


def container_args(
    spec: ClusterSpec,
    service: ServicePlan,
    *,
    network: pulumi.Input[str],
    volumes: Mapping[str, pulumi.Input[str]],
    wait: bool = False,
) -> dict[str, Any]:
    """docker.Container arguments for one service, except `image` and `envs` (they carry Outputs/secrets)."""
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
        "uploads": upload_args(service),
        "healthcheck": healthcheck_args(service.healthcheck) if service.healthcheck is not None else None,
        "restart": service.restart,
        "memory": service.memory_mb,
        "user": service.user,
        # tini as pid 1: forwards SIGTERM to redis-server and reaps the node entrypoint's background rejoin loop.
        "init": True,
        # Docker has no health-gated start: waiting for health here makes the dependants' depends_on mean it.
        "wait": wait,
    }


def env_entries(service: ServicePlan, secrets: Mapping[str, str]) -> list[str]:
    """`KEY=value` for the container; `secrets` maps each secret kind ("password", "acl:<user>") to its value."""
    entries = [f"{name}={value}" for name, value in service.env.items()]
    entries += [f"{name}={secrets[kind]}" for name, kind in service.secret_env.items()]
    return entries


def exporter_url(deployment: DeploymentPlan) -> str | None:
    spec = deployment.spec
    if not spec.exporter.enabled:
        return None
    return f"http://{deployment.host_address_map()[f'{spec.exporter.name}:{spec.exporter.port}']}"


def hook_command(via: str, python: str = sys.executable) -> str:
    """`cache-cluster init` reading the spec from stdin.

    The program's own interpreter runs it: the package is importable there (the program is importing it right
    now), whereas the Command provider runs outside the project's virtualenv, where `cache-cluster` may not be
    on PATH.
    """
    return f"{shlex.quote(python)} -m cache_cluster.cli init /dev/stdin --via {shlex.quote(via)} --json"


# ------------------------------------------------------------------------------------------------ component


class DockerCacheCluster(pulumi.ComponentResource):
    """The Redis Cluster, the fallback Redis with its sentinels and the exporter, as Docker containers.

    Outputs: `env` (the applications' env contract; REDIS_PASSWORD secret), `node_endpoints`, `host_address_map`,
    `exporter_url`, `password` and `acl_passwords` (secret).
    """

    env: dict[str, pulumi.Output[str]]
    node_endpoints: list[str]
    host_address_map: dict[str, str]
    exporter_url: str | None
    password: pulumi.Output[str]
    acl_passwords: dict[str, pulumi.Output[str]]
    containers: dict[str, docker.Container]
    hook: command.local.Command | None

    def __init__(self, name: str, args: DockerCacheClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args["spec"]
        via = args.get("hook_via", "published")
        if via not in HOOK_VIAS:
            raise DeployInputError(f"hook_via {via!r} is not one of {list(HOOK_VIAS)}; fix: use 'published'")
        deployment = plan(spec)
        child = pulumi.ResourceOptions(parent=self)

        self.password = cluster_password(name, spec, args.get("password"), child)
        self.acl_passwords = acl_passwords(name, spec, args.get("acl_passwords", {}), child)
        secrets = secret_values(self.password, self.acl_passwords)

        # Fixed names: a replacement must delete the old one first, or the engine hands back the same object
        # (volumes) or refuses the name (networks).
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        network = docker.Network(f"{name}-network", name=spec.network.name, driver="bridge", opts=fixed_name)
        volumes = {
            volume: docker.Volume(f"{name}-{volume}", name=volume_name(spec, volume), opts=fixed_name).name
            for volume in deployment.volumes
        }
        self.containers = self._containers(name, deployment, network.name, volumes, secrets)
        self.hook = None
        if args.get("run_hook", True):
            self.hook = self._hook(name, spec, via, secrets)

        contract = deployment.contract
        self.env = {key: pulumi.Output.from_input(value) for key, value in contract.public.items()}
        self.env |= {key: secrets[kind] for key, kind in contract.secret.items()}
        self.node_endpoints = [node.address for node in deployment.nodes]
        self.host_address_map = deployment.host_address_map()
        self.exporter_url = exporter_url(deployment)
        self.register_outputs(
            {
                "env": self.env,
                "node_endpoints": self.node_endpoints,
                "host_address_map": self.host_address_map,
                "exporter_url": self.exporter_url,
                "password": self.password,
                "acl_passwords": self.acl_passwords,
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
        gated = health_gated(deployment)
        child = pulumi.ResourceOptions(parent=self)
        all_secrets = pulumi.Output.all(**secrets)
        containers: dict[str, docker.Container] = {}
        for service in deployment.services:
            if service.image not in images:
                # The container gets the image ID, as pulumi-docker documents: it reads a container's image back
                # as an ID, so a name can show as a change (pulumi-docker#325), and a rebuilt image replaces the
                # container. A local image is used as it is (offline builds are never pulled); keep_locally:
                # destroying the stack must not delete images that cannot be pulled again.
                key = "exporter" if service.role == "exporter" else "redis"
                images[service.image] = docker.RemoteImage(
                    f"{name}-{key}-image", name=service.image, keep_locally=True, opts=child
                )
            # Secret as a whole: every container's env carries the password.
            envs: pulumi.Output[list[str]] = pulumi.Output.secret(
                all_secrets.apply(functools.partial(env_entries, service))
            )
            containers[service.name] = docker.Container(
                f"{name}-{service.name}",
                image=images[service.image].image_id,
                envs=envs,
                **container_args(spec, service, network=network, volumes=volumes, wait=service.name in gated),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # Compose's depends_on; the health condition is the dependency's own `wait`.
                    depends_on=[containers[dependency.service] for dependency in service.depends_on],
                    # Fixed container name and host ports: the old container must go before the new one starts.
                    delete_before_replace=True,
                    additional_secret_outputs=["envs"],
                ),
            )
        return containers

    def _hook(
        self, name: str, spec: ClusterSpec, via: str, secrets: Mapping[str, pulumi.Output[str]]
    ) -> command.local.Command:
        """`cache-cluster init` once every container exists, again whenever one is replaced or the spec changes.

        A Command rather than a resource hook: an after-create hook runs per resource (not once all nodes exist),
        a failing after-hook is only a warning, and nothing of it is kept in the state, so the next `pulumi up`
        would not retry it. A Command that fails fails `pulumi up` and is retried by the next one; its triggers
        (the container IDs) rerun it when a node is replaced, and a spec change (its stdin) reruns it too. The
        hook is idempotent: on a formed, healthy cluster it only validates.
        """
        environment: dict[str, pulumi.Input[str]] = {PASSWORD_ENV: secrets["password"]}
        for user in spec.auth.acl_users:
            environment[user.password_env] = secrets[f"acl:{user.name}"]
        containers: Sequence[docker.Container] = list(self.containers.values())
        return command.local.Command(
            f"{name}-init",
            create=hook_command(via),
            # The spec travels on stdin (no secret in it); the passwords only in the environment, which
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


"""Engine-shaped resources read into what the rules need: workloads, their configs, env, mounts; the spec.

Pure: no Pulumi import. Property names are the providers' schema names (pulumi-docker `networksAdvanced`,
pulumi-kubernetes `volumeClaimTemplates`, ...). A secret arrives as `Sealed(value)` (see sealing.py); the
rules ask `is_sealed` and read through `reveal`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
COMMAND = "command:local:Command"
K8S_STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_SECRET = "kubernetes:core/v1:Secret"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_WORKLOADS = (K8S_STATEFUL_SET, K8S_DEPLOYMENT, K8S_JOB)

PASSWORD_NAMES = ("REDIS_PASSWORD", "REDISCLI_AUTH")
SECRETS_DIR = "/run/secrets/"  # where the containers' password files are (acl.SECRETS_DIR)
COMPONENT_TYPE_PREFIX = "cache-cluster:index:"  # DockerCacheCluster, KubernetesCacheCluster
HOOK_COMMANDS = ("cache_cluster.cli init", "cache-cluster init")


@dataclass(frozen=True)
class Sealed:
    """A value the engine marked secret."""

    value: Any


class _Unknown:
    """A value the engine does not know yet (preview): rules cannot judge it and say nothing about it.

    Empty and false, so a rule walking a list or mapping that is not known yet finds nothing in it.
    """

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False

    def __iter__(self) -> Iterator[Any]:
        return iter(())


UNKNOWN = _Unknown()


def is_sealed(value: Any) -> bool:
    return isinstance(value, Sealed)


def reveal(value: Any) -> Any:
    """The value with every secret mark removed (for reading, never for printing)."""
    if isinstance(value, Sealed):
        return reveal(value.value)
    if isinstance(value, Mapping):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(item) for item in value]
    return value


def get(props: Any, *path: str | int, default: Any = None) -> Any:
    """props[a][b]... through secret marks; `default` where a step is missing."""
    value = props
    for step in path:
        value = reveal(value) if isinstance(value, Sealed) else value
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return default
        elif not isinstance(value, Mapping) or step not in value:
            return default
        value = value[step]
    return value


def walk_strings(value: Any, path: str = "", sealed: bool = False) -> Iterator[tuple[str, str, bool]]:
    """Every string inside `value`: (property path, text, whether a secret mark covers it)."""
    if isinstance(value, Sealed):
        yield from walk_strings(value.value, path, True)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_strings(item, f"{path}.{key}" if path else str(key), sealed)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{index}]", sealed)
    elif isinstance(value, str):
        yield path, value, sealed


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def in_cache(self) -> bool:
        """Declared by a cache-cluster component (or is one): its URN's type chain names a cache-cluster type.

        An application stack's own resources beside the cache are not the pack's business, except for the password.
        """
        parts = self.urn.split("::")
        return len(parts) > 2 and COMPONENT_TYPE_PREFIX in parts[2]

    def all_dependencies(self) -> set[str]:
        found = set(self.dependencies)
        for urns in self.property_dependencies.values():
            found.update(urns)
        return found


# --- configuration text -------------------------------------------------------------------------------------


def directives(conf: str) -> dict[str, list[str]]:
    """redis.conf / sentinel.conf text -> {directive: [arguments of its last occurrence]}."""
    found: dict[str, list[str]] = {}
    for raw in conf.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        key = words[0].lower()
        if key == "sentinel" and len(words) > 1:
            key = f"sentinel {words[1].lower()}"
            words = words[1:]
        found[key] = [word.strip('"') for word in words[1:]]
    return found


_QUANTITY = re.compile(r"^(?P<number>[0-9.]+)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T|)$")
_UNIT_MB = {
    "Ki": 1 / 1024,
    "Mi": 1.0,
    "Gi": 1024.0,
    "Ti": 1024.0**2,
    "k": 1e3 / 2**20,
    "M": 1e6 / 2**20,
    "G": 1e9 / 2**20,
    "T": 1e12 / 2**20,
    "": 1 / 2**20,
}


def quantity_mb(value: Any) -> float | None:
    """A Kubernetes memory quantity ("512Mi", "1G", "536870912") in MiB; None when absent or unreadable."""
    match = _QUANTITY.match(str(reveal(value))) if value is not None else None
    return float(match["number"]) * _UNIT_MB[match["unit"]] if match else None


def maxmemory_mb(value: str) -> float | None:
    match = re.match(r"^(?P<number>[0-9]+)(?P<unit>b|k|kb|m|mb|g|gb)?$", value.lower())
    if not match:
        return None
    unit = match["unit"] or "b"
    factor = {
        "b": 1 / 2**20,
        "k": 1e3 / 2**20,
        "kb": 1 / 1024,
        "m": 1e6 / 2**20,
        "mb": 1.0,
        "g": 1e9 / 2**20,
        "gb": 1024.0,
    }[unit]
    return int(match["number"]) * factor


# --- workloads ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    path: str
    persistent: bool  # a named Docker volume or a PersistentVolumeClaim; not tmpfs, emptyDir or a bind of nothing
    source: str


@dataclass(frozen=True)
class Workload:
    """One container-like thing the stack runs: a Docker container or a Kubernetes pod template's container."""

    resource: Resource
    container: str
    role: str  # node | sentinel | single | exporter | hook | other
    confs: Mapping[str, str]
    env: Mapping[str, Any]  # name -> value (Sealed where secret); a secretKeyRef counts as sealed
    env_known: bool  # False while a preview does not know the env yet
    replicas: int
    memory_limit_mb: float | None
    mounts: tuple[Mount, ...]
    networks: frozenset[str]
    command: tuple[str, ...]
    # Files under /run/secrets the container gets (the passwords, as files: ServicePlan.secret_files).
    secret_files: frozenset[str] = frozenset()

    def conf(self) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {}
        for text in self.confs.values():
            merged.update(directives(text))
        return merged

    def mount_for(self, path: str) -> Mount | None:
        candidates = [
            mount for mount in self.mounts if path == mount.path or path.startswith(mount.path.rstrip("/") + "/")
        ]
        return max(candidates, key=lambda mount: len(mount.path), default=None)


def _runs_hook(command: Sequence[str]) -> bool:
    line = " ".join(command)
    return any(hook in line for hook in HOOK_COMMANDS)


def _role(confs: Mapping[str, str], command: Sequence[str], image: str) -> str:
    if _runs_hook(command):  # the hook reads the nodes' config to know the cluster; it is no node
        return "hook"
    merged: dict[str, list[str]] = {}
    for text in confs.values():
        merged.update(directives(text))
    if any(key.startswith("sentinel ") for key in merged):
        return "sentinel"
    if merged.get("cluster-enabled") == ["yes"]:
        return "node"
    if "port" in merged:
        return "single"
    if "redis_exporter" in " ".join(command) or "redis_exporter" in image:
        return "exporter"
    return "other"


def _docker_workload(resource: Resource) -> Workload:
    props = resource.props
    confs = {
        str(get(upload, "file")): str(reveal(get(upload, "content", default="")))
        for upload in reveal(get(props, "uploads", default=[])) or []
        if str(get(upload, "file", default="")).endswith(".conf")
    }
    envs: Any = props.get("envs") or []
    entries = envs.value if isinstance(envs, Sealed) else envs
    env: dict[str, Any] = {}
    for entry in entries if isinstance(entries, list) else []:
        name, _, value = str(reveal(entry)).partition("=")
        env[name] = Sealed(value) if is_sealed(envs) or is_sealed(entry) else value
    mounts = tuple(
        Mount(
            str(get(volume, "containerPath", default="")),
            bool(get(volume, "volumeName")),
            str(get(volume, "volumeName") or get(volume, "hostPath") or ""),
        )
        for volume in reveal(get(props, "volumes", default=[])) or []
    )
    command = tuple(
        str(word)
        for word in [
            *(reveal(get(props, "entrypoints", default=[])) or []),
            *(reveal(get(props, "command", default=[])) or []),
        ]
    )
    memory = get(props, "memory")
    secret_files = frozenset(
        str(get(upload, "file"))
        for upload in reveal(get(props, "uploads", default=[])) or []
        if str(get(upload, "file", default="")).startswith(SECRETS_DIR)
    )
    return Workload(
        secret_files=secret_files,
        resource=resource,
        container=resource.name,
        role=_role(confs, command, str(get(props, "image", default=""))),
        confs=confs,
        env=env,
        env_known=entries is not UNKNOWN,
        replicas=1,
        memory_limit_mb=float(memory) if isinstance(memory, int | float) and memory > 0 else None,
        mounts=mounts,
        networks=frozenset(
            str(get(network, "name")) for network in reveal(get(props, "networksAdvanced", default=[])) or []
        ),
        command=command,
    )


def _config_maps(resources: Sequence[Resource]) -> dict[str, Mapping[str, str]]:
    return {
        str(get(resource.props, "metadata", "name")): reveal(get(resource.props, "data", default={})) or {}
        for resource in resources
        if resource.type == K8S_CONFIG_MAP
    }


def pod_spec(resource: Resource) -> Mapping[str, Any]:
    spec: Any = get(resource.props, "spec", "template", "spec", default={})
    return spec if isinstance(spec, Mapping) else {}


def _k8s_workloads(resource: Resource, config_maps: Mapping[str, Mapping[str, str]]) -> Iterator[Workload]:
    pod = pod_spec(resource)
    volumes = {str(get(volume, "name")): volume for volume in get(pod, "volumes", default=[]) or []}
    claims = {
        str(get(claim, "metadata", "name"))
        for claim in get(resource.props, "spec", "volumeClaimTemplates", default=[]) or []
    }
    for container in get(pod, "containers", default=[]) or []:
        confs: dict[str, str] = {}
        mounts: list[Mount] = []
        secret_files: set[str] = set()
        for mount in get(container, "volumeMounts", default=[]) or []:
            name = str(get(mount, "name"))
            path = str(get(mount, "mountPath", default=""))
            volume = volumes.get(name, {})
            if (path.rstrip("/") + "/").startswith(SECRETS_DIR):
                # A Secret volume's keys as files (every key when it lists no items), or the Secrets a projected
                # volume combines (the auth Secret with tls.cert_secret's).
                sources = [get(source, "secret") for source in get(volume, "projected", "sources", default=[]) or []]
                for source in [get(volume, "secret"), *sources]:
                    if source is not None:
                        items = get(source, "items", default=None) or [{"path": "*"}]
                        secret_files.update(f"{path.rstrip('/')}/{get(item, 'path')}" for item in items)
            map_name = get(volume, "configMap", "name")
            if map_name is not None:
                for key, text in (config_maps.get(str(map_name)) or {}).items():
                    if str(key).endswith(".conf"):
                        confs[f"{path.rstrip('/')}/{key}"] = str(text)
            persistent = name in claims or get(volume, "persistentVolumeClaim") is not None
            mounts.append(Mount(path, persistent, name))
        env: dict[str, Any] = {}
        for entry in get(container, "env", default=[]) or []:
            if get(entry, "valueFrom", "secretKeyRef") is not None:
                env[str(get(entry, "name"))] = Sealed("<secretKeyRef>")
            else:
                env[str(get(entry, "name"))] = get(entry, "value", default="")
        command = tuple(
            str(word)
            for word in [*(get(container, "command", default=[]) or []), *(get(container, "args", default=[]) or [])]
        )
        replicas = get(resource.props, "spec", "replicas", default=1)
        yield Workload(
            resource=resource,
            container=str(get(container, "name")),
            role=_role(confs, command, str(get(container, "image", default=""))),
            confs=confs,
            env=env,
            env_known=True,
            replicas=int(replicas) if isinstance(replicas, int | float) else 1,
            memory_limit_mb=quantity_mb(get(container, "resources", "limits", "memory")),
            mounts=tuple(mounts),
            networks=frozenset(),
            command=command,
            secret_files=frozenset(secret_files),
        )


def workloads(resources: Sequence[Resource]) -> list[Workload]:
    config_maps = _config_maps(resources)
    found: list[Workload] = []
    for resource in resources:
        if resource.type == DOCKER_CONTAINER:
            found.append(_docker_workload(resource))
        elif resource.type in K8S_WORKLOADS:
            found.extend(_k8s_workloads(resource, config_maps))
    return found


# --- the spec and the hook ----------------------------------------------------------------------------------

_SPEC_KEYS = {"topology", "sentinels", "fallback", "environment"}


def _parsed_spec(text: str) -> dict[str, Any] | None:
    """`text` as a cluster spec, when it is one: JSON (the Command's stdin) or YAML (the Job's ConfigMap)."""
    looks_like_json = text.startswith("{") and '"topology"' in text
    looks_like_yaml = "\ntopology:" in f"\n{text}" and "\nfallback:" in f"\n{text}"
    if not (looks_like_json or looks_like_yaml):
        return None
    try:
        data = json.loads(text) if looks_like_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) and set(data) >= _SPEC_KEYS else None


def cluster_spec(resources: Sequence[Resource]) -> dict[str, Any] | None:
    """The cluster spec the stack hands its post-deploy hook, found in any input (the hook Command's stdin on
    Docker, the hook Job's ConfigMap on Kubernetes)."""
    for resource in resources:
        for _, text, _ in walk_strings(resource.props):
            spec = _parsed_spec(text)
            if spec is not None:
                return spec
    return None


def is_hook(resource: Resource) -> bool:
    """The post-deploy hook: a local Command running `cache-cluster init`, or a Job whose container runs it."""
    if resource.type == COMMAND:
        return any(_runs_hook([text]) for _, text, _ in walk_strings(resource.props))
    if resource.type == K8S_JOB:
        return any(workload.role == "hook" for workload in _k8s_workloads(resource, {}))
    return False

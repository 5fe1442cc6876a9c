"""The rules, as plain functions: a resource (or the whole stack) and the policy's settings in, problems out.

A resource rule yields problem texts for that resource; a stack rule yields (problem, urn). The catalog adds each
rule's description, enforcement level and remediation. Settings are the policy's config with its defaults applied.
"""

from __future__ import annotations

import functools
import ipaddress
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..spec import FALLBACK_TIER_ORDER
from .resources import (
    DOCKER_CONTAINER,
    DOCKER_REMOTE_IMAGE,
    K8S_DEPLOYMENT,
    K8S_NETWORK_POLICY,
    K8S_PDB,
    K8S_SECRET,
    K8S_SERVICE,
    K8S_STATEFUL_SET,
    K8S_WORKLOADS,
    PASSWORD_NAMES,
    SECRETS_DIR,
    UNKNOWN,
    Resource,
    Workload,
    cluster_spec,
    get,
    is_hook,
    is_sealed,
    maxmemory_mb,
    pod_spec,
    reveal,
    walk_strings,
    workloads,
)

Settings = Mapping[str, Any]
Finding = tuple[str, str]  # (problem, urn of the resource it concerns; "" for the stack)
REDIS_ROLES = ("node", "single", "sentinel")


@dataclass(frozen=True)
class Stack:
    resources: Sequence[Resource]

    @functools.cached_property
    def workloads(self) -> list[Workload]:
        return workloads(self.resources)

    @functools.cached_property
    def spec(self) -> dict[str, Any] | None:
        return cluster_spec(self.resources)

    @property
    def environment(self) -> str:
        """The spec's environment; without a spec, treated as not dev (the stricter rules apply)."""
        return str(self.spec.get("environment", "")) if self.spec else ""

    def spec_value(self, *path: str, default: Any = None) -> Any:
        return get(self.spec, *path, default=default) if self.spec else default

    def of_role(self, *roles: str) -> list[Workload]:
        return [workload for workload in self.workloads if workload.role in roles]


def _who(workload: Workload) -> str:
    """The container a problem concerns, where the resource's own name does not say it (a pod template's)."""
    return "" if workload.container == workload.resource.name else f"container {workload.container}: "


def _is_dev(stack: Stack, settings: Settings) -> bool:
    return stack.environment in settings.get("dev_environments", ["dev"])


# --- topology -----------------------------------------------------------------------------------------------


def cluster_topology(stack: Stack, settings: Settings) -> Iterator[Finding]:
    nodes = stack.of_role("node")
    count = sum(node.replicas for node in nodes)
    masters = stack.spec_value("topology", "masters")
    replicas = stack.spec_value("topology", "replicas_per_master")
    min_masters, min_replicas = int(settings["min_masters"]), int(settings["min_replicas_per_master"])
    if masters is None or replicas is None:
        yield "no cluster spec found in the post-deploy hook's input: masters and replicas are unknown", ""
        return
    if masters < min_masters:
        yield f"{masters} masters; a cluster needs at least {min_masters}", ""
    if replicas < min_replicas and not _is_dev(stack, settings):
        yield f"{replicas} replicas per master in environment {stack.environment!r}; at least {min_replicas}", ""
    if count != masters * (1 + replicas):
        yield (
            f"{count} cluster nodes declared; the spec's {masters} masters x {1 + replicas} "
            f"need {masters * (1 + replicas)}",
            "",
        )


def dev_replicas(stack: Stack, settings: Settings) -> Iterator[Finding]:
    replicas = stack.spec_value("topology", "replicas_per_master")
    if _is_dev(stack, settings) and replicas is not None and replicas < int(settings["min_replicas_per_master"]):
        yield f"{replicas} replicas per master on {stack.environment!r}: a failed master loses its shard", ""


# --- the password -------------------------------------------------------------------------------------------


def _sealed_along(props: Any, *path: str | int) -> bool:
    """Whether a secret mark covers props[a][b]...: on the value itself or on anything holding it."""
    value = props
    for step in (*path, None):
        if is_sealed(value):
            return True
        if step is None:
            return False
        value = get(value, step)
    return False


AUTH_MARKERS = ("requirepass ", "masterauth ", "--requirepass ", "--pass ")


def _literal_auth(text: str) -> bool:
    """An auth line or flag whose argument is a literal, not a variable the process fills in."""
    for marker in AUTH_MARKERS:
        words = text.split(marker, 1)[1].split() if marker in text else []
        if words and not words[0].startswith(("$", '"$', "'$", "%s")):
            return True
    return False


def _password_carriers(resource: Resource) -> Iterator[tuple[str, bool]]:
    """(property path, whether it is secret) of every input meant to hold the password or an auth line."""
    props = resource.props
    if resource.type == DOCKER_CONTAINER:
        for index, entry in enumerate(reveal(get(props, "envs", default=[])) or []):
            if str(entry).partition("=")[0] in PASSWORD_NAMES:
                yield f"envs[{index}]", _sealed_along(props, "envs", index)
        for index, upload in enumerate(reveal(get(props, "uploads", default=[])) or []):
            if str(get(upload, "file", default="")).startswith(SECRETS_DIR):
                yield f"uploads[{index}].content", _sealed_along(props, "uploads", index, "content")
    for key in ("environment", "env"):  # command:local:Command, and anything shaped like it
        names = reveal(get(props, key))
        if isinstance(names, Mapping):
            for name in PASSWORD_NAMES:
                if name in names:
                    yield f"{key}.{name}", _sealed_along(props, key, name)
    if resource.type == K8S_SECRET:
        for key in ("data", "stringData"):
            if get(props, key) is not None:
                yield key, _sealed_along(props, key)
    if resource.type in K8S_WORKLOADS:
        for group in ("containers", "initContainers"):
            for index, container in enumerate(get(pod_spec(resource), group, default=[]) or []):
                for place, entry in enumerate(get(container, "env", default=[]) or []):
                    if get(entry, "name") in PASSWORD_NAMES and get(entry, "value") is not None:
                        steps = ("spec", "template", "spec", group, index, "env", place, "value")
                        yield (
                            f"spec.template.spec.{group}[{index}].env.{get(entry, 'name')}",
                            _sealed_along(props, *steps),
                        )
    for path, text, sealed in walk_strings(props):
        if _literal_auth(text):
            yield path, sealed


def password_secret(resource: Resource, settings: Settings) -> Iterator[str]:
    for path, sealed in _password_carriers(resource):
        if not sealed:
            yield f"{path} holds the Redis password (or an auth line) in plain text, not marked secret"


def _passwords(stack: Stack) -> set[str]:
    found: set[str] = set()
    for workload in stack.workloads:
        for name in PASSWORD_NAMES:
            value = reveal(workload.env.get(name))
            if isinstance(value, str) and value and value != "<secretKeyRef>":
                found.add(value)
    for resource in stack.resources:
        if resource.type == DOCKER_CONTAINER:
            for upload in reveal(get(resource.props, "uploads", default=[])) or []:
                path = str(get(upload, "file", default=""))
                if path.startswith(SECRETS_DIR) and not path.endswith("-map"):
                    found.add(str(reveal(get(upload, "content", default=""))))
        env = reveal(get(resource.props, "environment"))
        if isinstance(env, Mapping):
            found.update(str(env[name]) for name in PASSWORD_NAMES if env.get(name))
        if resource.type == K8S_SECRET:
            for value in (reveal(get(resource.props, "stringData", default={})) or {}).values():
                found.add(str(value))
    return {password for password in found if len(password) >= 8}


def password_set(stack: Stack, settings: Settings) -> Iterator[Finding]:
    for workload in stack.of_role(*REDIS_ROLES, "exporter"):
        if not workload.env_known:
            continue
        has_env = any(reveal(workload.env.get(name)) for name in ("REDIS_PASSWORD",))
        has_conf = "requirepass" in workload.conf()
        has_files = bool(workload.secret_files)  # the ACL users' passwords as files (the entrypoint reads them)
        if not (has_env or has_conf or has_files):
            yield (
                f"{_who(workload)}this {workload.role} gets no password (neither as a file under "
                f"{SECRETS_DIR} nor in its environment): it would run without auth",
                workload.resource.urn,
            )


def passwords_as_files(stack: Stack, settings: Settings) -> Iterator[Finding]:
    # The cache's own containers: an application's may take REDIS_PASSWORD from its environment (the contract).
    for workload in stack.of_role(*REDIS_ROLES, "exporter", "hook"):
        carried = sorted(name for name in workload.env if name in PASSWORD_NAMES or name.endswith("_PASSWORD"))
        if carried:
            yield (
                f"{_who(workload)}this {workload.role} gets {', '.join(carried)} in its environment, where "
                "`docker inspect`, /proc/<pid>/environ and crash reports show it",
                workload.resource.urn,
            )


def password_never_plain(stack: Stack, settings: Settings) -> Iterator[Finding]:
    passwords = _passwords(stack)
    for resource in stack.resources:
        for path, text, sealed in walk_strings(resource.props):
            if not sealed and any(password in text for password in passwords):
                yield f"{path or '<value>'} contains the Redis password in plain text", resource.urn


# --- images -------------------------------------------------------------------------------------------------


def _image_references(stack: Stack) -> Iterator[tuple[Any, Resource]]:
    for resource in stack.resources:
        if resource.type == DOCKER_REMOTE_IMAGE:
            yield reveal(get(resource.props, "name", default="")), resource
        elif resource.type == DOCKER_CONTAINER:
            image = reveal(get(resource.props, "image", default=""))
            if not str(image).startswith("sha256:"):  # an image ID from a RemoteImage is pinned by construction
                yield image, resource
        elif resource.type in K8S_WORKLOADS:
            pod = pod_spec(resource)
            for group in ("containers", "initContainers"):
                for container in get(pod, group, default=[]) or []:
                    yield get(container, "image", default=""), resource


def _known_images(stack: Stack) -> Iterator[tuple[str, Resource]]:
    """Image references the engine knows (a RemoteImage's ID is unknown before its first pull)."""
    return ((str(image), resource) for image, resource in _image_references(stack) if image is not UNKNOWN)


def _tag(reference: str) -> str | None:
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _repository(reference: str) -> str:
    """`name` of `name:tag@sha256:...` (a registry port, `host:5000/name`, stays part of the name)."""
    name = reference.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def images_pinned(stack: Stack, settings: Settings) -> Iterator[Finding]:
    dev = _is_dev(stack, settings)
    # Repositories a team pins in its own registry at deploy time; a tag (not latest) is still required.
    tag_only = set(settings.get("tag_only_images", []))
    for reference, resource in _known_images(stack):
        digest = "@sha256:" in reference
        tag = _tag(reference)
        if not digest and tag is None:
            yield f"image {reference!r} has no tag (it means latest)", resource.urn
        elif tag == "latest" and not digest:
            yield f"image {reference!r} uses the moving tag latest", resource.urn
        elif not digest and not dev and _repository(reference) not in tag_only:
            yield f"image {reference!r} has no digest in environment {stack.environment!r}", resource.urn


def images_digest_on_dev(stack: Stack, settings: Settings) -> Iterator[Finding]:
    if not _is_dev(stack, settings):
        return
    for reference, resource in _known_images(stack):
        if "@sha256:" not in reference and _tag(reference) not in (None, "latest"):
            yield f"image {reference!r} is pinned by tag only", resource.urn


# --- Docker -------------------------------------------------------------------------------------------------


def docker_restart_policy(resource: Resource, settings: Settings) -> Iterator[str]:
    restart = get(resource.props, "restart", default="no")
    if restart is not UNKNOWN and restart not in settings["allowed_restart_policies"]:
        yield f"restart policy {restart!r}: the container stays down after a crash or a daemon restart"


def docker_memory_limit(resource: Resource, settings: Settings) -> Iterator[str]:
    memory = get(resource.props, "memory")
    if memory is not UNKNOWN and (not isinstance(memory, int | float) or memory <= 0):
        yield "no memory limit (memory): one container can starve every other on the host"


def docker_health_check(resource: Resource, settings: Settings) -> Iterator[str]:
    tests = reveal(get(resource.props, "healthcheck", "tests", default=[])) or []
    if any(workload.role in settings["exempt_roles"] for workload in workloads([resource])):
        return
    if not tests or tests[0] == "NONE":
        yield "no health check (healthcheck.tests): Docker and the deploy cannot tell a hung server from a live one"


def docker_graceful_stop(resource: Resource, settings: Settings) -> Iterator[str]:
    grace = get(resource.props, "destroyGraceSeconds")
    minimum = int(settings["min_destroy_grace_seconds"])
    if grace is not UNKNOWN and (not isinstance(grace, int | float) or grace < minimum):
        shown = "unset" if grace is None else f"{grace:g} s"
        yield f"destroyGraceSeconds is {shown}: below {minimum} s Redis may be killed before it flushes the AOF"


def _public_ip(ip: str) -> bool:
    try:
        return not ipaddress.ip_address(ip or "0.0.0.0").is_loopback
    except ValueError:
        return ip != "localhost"


def no_public_exposure(stack: Stack, settings: Settings) -> Iterator[Finding]:
    if stack.spec_value("network", "allow_public_publish", default=False):
        return
    for resource in stack.resources:
        if resource.type == DOCKER_CONTAINER:
            if get(resource.props, "publishAllPorts"):
                yield "publishAllPorts publishes every port on all addresses", resource.urn
            for port in reveal(get(resource.props, "ports", default=[])) or []:
                ip = str(get(port, "ip", default="0.0.0.0"))
                if _public_ip(ip):
                    yield f"port {get(port, 'external'):g} is published on {ip}, not loopback", resource.urn
        elif resource.type == K8S_SERVICE:
            kind = get(resource.props, "spec", "type", default="ClusterIP")
            if kind in ("LoadBalancer", "NodePort"):
                yield f"Service type {kind} exposes the cache outside the cluster", resource.urn


# --- memory and persistence ---------------------------------------------------------------------------------


def maxmemory_below_limit(stack: Stack, settings: Settings) -> Iterator[Finding]:
    ratio = float(settings["max_ratio"])
    for workload in stack.of_role("node", "single"):
        conf = workload.conf()
        limit = workload.memory_limit_mb
        value = maxmemory_mb(conf["maxmemory"][0]) if conf.get("maxmemory") else None
        if value is None or value <= 0:
            yield f"{_who(workload)}no maxmemory: Redis grows until the memory limit kills it", workload.resource.urn
        elif limit is None:
            yield f"{_who(workload)}no memory limit to keep maxmemory ({value:g} MB) below", workload.resource.urn
        elif value > limit * ratio:
            yield (
                f"{_who(workload)}maxmemory {value:g} MB is above {ratio:g} x the {limit:g} MB limit "
                "(no room for buffers, forks and replication)",
                workload.resource.urn,
            )


def persistence_outside_dev(stack: Stack, settings: Settings) -> Iterator[Finding]:
    if _is_dev(stack, settings):
        return
    for workload in stack.of_role("node"):
        conf = workload.conf()
        aof = conf.get("appendonly") == ["yes"]
        rdb = bool([argument for argument in conf.get("save", []) if argument])
        if not (aof or rdb):
            yield f"{_who(workload)}neither AOF nor RDB snapshots: a restart loses every key", workload.resource.urn


def nodes_conf_persistent(stack: Stack, settings: Settings) -> Iterator[Finding]:
    for workload in stack.of_role("node"):
        conf = workload.conf()
        directory = (conf.get("dir") or ["."])[0]
        name = (conf.get("cluster-config-file") or ["nodes.conf"])[0]
        path = name if name.startswith("/") else posixpath.normpath(posixpath.join(directory, name))
        mount = workload.mount_for(path) if path.startswith("/") else None
        if mount is None or not mount.persistent:
            where = f"on {mount.source!r}, not a persistent volume" if mount else "on no volume"
            yield f"{_who(workload)}{path} is {where}: a restart forgets the cluster", workload.resource.urn


# --- sentinels, exporter, fallback, hook --------------------------------------------------------------------


def sentinel_quorum(stack: Stack, settings: Settings) -> Iterator[Finding]:
    sentinels = stack.of_role("sentinel")
    if not sentinels and stack.spec_value("fallback", "enabled", default=True) is False:
        return
    count = sum(sentinel.replicas for sentinel in sentinels)
    minimum = int(settings["min_sentinels"])
    if count < minimum or count % 2 == 0:
        yield f"{count} sentinels; failover needs an odd number, at least {minimum}", ""
    for sentinel in sentinels:
        monitor = sentinel.conf().get("sentinel monitor", [])
        quorum = int(monitor[3]) if len(monitor) >= 4 and monitor[3].isdigit() else None
        if quorum is None:
            yield f"{_who(sentinel)}no 'sentinel monitor' line with a quorum", sentinel.resource.urn
        elif not count // 2 < quorum <= count:
            yield f"{_who(sentinel)}quorum {quorum} is not a majority of {count} sentinels", sentinel.resource.urn


def exporter_coverage(stack: Stack, settings: Settings) -> Iterator[Finding]:
    exporters = stack.of_role("exporter")
    if not exporters:
        yield "no redis_exporter: the nodes' metrics reach no one", ""
        return
    for node in stack.of_role(*REDIS_ROLES):
        if node.networks and not any(node.networks <= exporter.networks for exporter in exporters):
            yield f"{_who(node)}no exporter is on its networks {sorted(node.networks)}", node.resource.urn
        namespace = get(node.resource.props, "metadata", "namespace")
        if node.resource.type != DOCKER_CONTAINER and not any(
            get(exporter.resource.props, "metadata", "namespace") == namespace for exporter in exporters
        ):
            yield f"{_who(node)}no exporter in namespace {namespace!r}", node.resource.urn


def fallback_chain_order(stack: Stack, settings: Settings) -> Iterator[Finding]:
    tiers = stack.spec_value("fallback", "tiers")
    if tiers is None:
        yield "no cluster spec found in the post-deploy hook's input: the fallback chain is unknown", ""
        return
    expected = [tier for tier in FALLBACK_TIER_ORDER if tier in tiers]
    if list(tiers) != expected or not tiers or tiers[0] != "cluster" or tiers[-1] != "database":
        yield f"fallback tiers {list(tiers)}; the order is {list(FALLBACK_TIER_ORDER)} (tiers may be left out)", ""


def hook_after_nodes(stack: Stack, settings: Settings) -> Iterator[Finding]:
    hooks = [resource for resource in stack.resources if is_hook(resource)]
    if not hooks:
        yield "no post-deploy hook (cache-cluster init) in the stack: nothing forms the cluster", ""
        return
    nodes = {workload.resource.urn: workload.resource.name for workload in stack.of_role("node")}
    for hook in hooks:
        missing = sorted(name for urn, name in nodes.items() if urn not in hook.all_dependencies())
        if missing:
            yield f"{hook.name} does not wait for {', '.join(missing)}: it may run before they exist", hook.urn


# --- Kubernetes ---------------------------------------------------------------------------------------------


def _containers(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    pod = pod_spec(resource)
    for group in ("initContainers", "containers"):
        for container in get(pod, group, default=[]) or []:
            yield str(get(container, "name")), container


def kubernetes_requests_limits(resource: Resource, settings: Settings) -> Iterator[str]:
    if resource.type not in K8S_WORKLOADS:
        return
    for name, container in _containers(resource):
        missing = [
            f"{kind}.{what}"
            for kind, what in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
            if get(container, "resources", kind, what) is None
        ]
        if missing:
            yield f"container {name} has no {', '.join(missing)}"


def kubernetes_restricted_profile(resource: Resource, settings: Settings) -> Iterator[str]:
    if resource.type not in K8S_WORKLOADS:
        return
    pod_context = get(pod_spec(resource), "securityContext", default={}) or {}
    for name, container in _containers(resource):
        context = get(container, "securityContext", default={}) or {}

        def setting(key: str, context: Any = context) -> Any:
            own = get(context, key)
            return own if own is not None else get(pod_context, key)

        problems = []
        if setting("runAsNonRoot") is not True:
            problems.append("runAsNonRoot is not true")
        if get(context, "allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation is not false")
        if get(context, "privileged") is True:
            problems.append("privileged")
        if get(context, "readOnlyRootFilesystem") is not True:
            problems.append("readOnlyRootFilesystem is not true")
        if "ALL" not in (get(context, "capabilities", "drop", default=[]) or []):
            problems.append("capabilities.drop lacks ALL")
        if get(setting("seccompProfile"), "type") not in ("RuntimeDefault", "Localhost"):
            problems.append("seccompProfile.type is not RuntimeDefault")
        if problems:
            yield f"container {name}: {'; '.join(problems)}"


def kubernetes_spread(resource: Resource, settings: Settings) -> Iterator[str]:
    if resource.type not in (K8S_STATEFUL_SET, K8S_DEPLOYMENT):
        return
    replicas = get(resource.props, "spec", "replicas", default=1)
    pod = pod_spec(resource)
    anti = get(pod, "affinity", "podAntiAffinity")
    spread = get(pod, "topologySpreadConstraints", default=[])
    if isinstance(replicas, int | float) and replicas > 1 and not anti and not spread:
        yield (
            f"{replicas:g} replicas with neither podAntiAffinity nor topologySpreadConstraints: "
            "one node failure can take them all"
        )


def _labels(resource: Resource) -> Mapping[str, Any]:
    return get(resource.props, "spec", "template", "metadata", "labels", default={}) or {}


def _selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    match = get(selector, "matchLabels", default={}) or {}
    return all(labels.get(key) == value for key, value in match.items()) and not get(selector, "matchExpressions")


def _namespace(resource: Resource) -> Any:
    return get(resource.props, "metadata", "namespace", default="default")


def _k8s_redis_sets(stack: Stack, min_replicas: int = 1) -> dict[str, Resource]:
    return {
        workload.resource.urn: workload.resource
        for workload in stack.of_role(*REDIS_ROLES)
        if workload.resource.type in (K8S_STATEFUL_SET, K8S_DEPLOYMENT) and workload.replicas >= min_replicas
    }


def _unselected(
    stack: Stack, type_: str, selector: str, wanted: Callable[[Resource], bool], min_replicas: int = 1
) -> Iterator[Resource]:
    """The Redis StatefulSets/Deployments no `type_` resource in their namespace selects (spec.<selector>)."""
    selecting = [resource for resource in stack.resources if resource.type == type_ and wanted(resource)]
    for resource in _k8s_redis_sets(stack, min_replicas).values():
        if not any(
            _namespace(other) == _namespace(resource)
            and _selects(get(other.props, "spec", selector), _labels(resource))
            for other in selecting
        ):
            yield resource


def kubernetes_pdb(stack: Stack, settings: Settings) -> Iterator[Finding]:
    # A one-pod set (the fallback primary, its replica) gets none: a budget could only block every drain; the
    # sentinels fail it over instead.
    for resource in _unselected(stack, K8S_PDB, "selector", lambda budget: True, min_replicas=2):
        yield "no PodDisruptionBudget selects its pods: a drain may evict them all", resource.urn


def kubernetes_network_policy(stack: Stack, settings: Settings) -> Iterator[Finding]:
    def restricts_ingress(policy: Resource) -> bool:
        return "Ingress" in (get(policy.props, "spec", "policyTypes", default=["Ingress"]) or [])

    for resource in _unselected(stack, K8S_NETWORK_POLICY, "podSelector", restricts_ingress):
        yield "no NetworkPolicy selects its pods: anything in the cluster can reach Redis", resource.urn


def kubernetes_node_storage(stack: Stack, settings: Settings) -> Iterator[Finding]:
    for workload in stack.of_role("node"):
        resource = workload.resource
        if resource.type == DOCKER_CONTAINER:
            continue
        templates = get(resource.props, "spec", "volumeClaimTemplates", default=[]) or []
        if resource.type != K8S_STATEFUL_SET or not templates:
            yield f"{_who(workload)}no PersistentVolumeClaim template for the node's data", resource.urn
            continue
        data_dir = (workload.conf().get("dir") or ["/data"])[0]
        mount = workload.mount_for(data_dir)
        if mount is None or not mount.persistent:
            yield f"{_who(workload)}{data_dir} is not on the claimed volume", resource.urn

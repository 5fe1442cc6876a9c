"""The deployment plan as plain Kubernetes manifests (dicts). Pure: no Pulumi, no API server.

The Pulumi component (kubernetes.py) turns these dicts into typed resources; `cache-cluster render kubernetes`
writes them as files with a kustomization.yaml. Decisions taken here, and why:

- One StatefulSet per role: `redis-node` (every cluster node), `redis-sentinel`, and one each for the fallback
  primary and replica. Pods start at ordinal 1 (`spec.ordinals`, on by default since Kubernetes 1.27), so pod
  names are the plan's names (redis-node-1..N) and the hook's reports read the same as on Docker.
- Every pod of a set runs from one config; the entrypoint announces the pod's own DNS name, built by Kubernetes
  from the downward API (`$(POD_NAME).<headless>.$(POD_NAMESPACE).svc.<domain>`). All nodes listen on
  base_port (each pod has its own IP). `nodes.conf` lives on the pod's PVC with the data.
- `podManagementPolicy: Parallel` and `publishNotReadyAddresses` on the headless Services: after a full restart
  every node must start and resolve its peers by name before any of them is ready (ready means
  `cluster_state:ok`), and a fresh cluster must be resolvable before the hook Job forms it.
- Readiness: PONG and `cluster_state:ok`, so a node serves clients (client Service, rolling updates) only once
  it is part of a working cluster; liveness: PONG; startup: PONG with room for a long AOF load.
- The exporter is one Deployment using the multi-target `/scrape?target=` endpoint (as on Docker): one
  container covers every instance, and the scrape configuration is the same on both targets; sidecars would add
  a container (and its memory) to every Redis pod.
- The hook runs as a Job with the plan's hook service (`plan.InitPlan`, the same one Compose runs), named after
  a digest of what it acts on (the spec, the node addresses, the image): a changed node set is a new Job, so
  it runs again; an unchanged one is left alone.
- No secret value is ever in a manifest, nor in any container's environment: each pod mounts the Secret's keys
  it needs as files under /run/secrets (the same paths as Compose's `secrets:`), and the entrypoints, probes,
  the exporter and the hook read them from there. The Secret's keys are the file names (`redis-password`,
  `redis-admin-password`, ...), so `kubectl create secret generic --from-file=<dir>` fills one from the files
  `cache-cluster render secrets` writes.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from .. import acl, addresses, conf
from ..monitoring.operator import render_prometheus_rule, render_service_monitor
from ..plan import CONFIG_FILE_MODE, ENTRYPOINT_PATH, SECRET_FILE_MODE, DeploymentPlan, Role, ServicePlan
from ..spec import BUS_PORT_OFFSET, ClusterSpec

Manifest = dict[str, Any]

ANNOUNCE_ENV = "CACHE_CLUSTER_ANNOUNCE_HOSTNAME"
CLIENT_LABEL = "cache-cluster.io/client"
CONFIG_HASH_ANNOTATION = "cache-cluster.io/config-hash"
# The Job waits longer than Compose's one-shot: pods are scheduled, volumes bound and images pulled first.
HOOK_TIMEOUT_SECONDS = 600
ZONE_KEY = "topology.kubernetes.io/zone"
REDIS_UID = 999  # the uid of the upstream redis images (plan.REDIS_USER)
EXPORTER_UID = 59000  # the uid of the upstream redis_exporter image
HOOK_UID = 65534  # nobody, the hook image's user (plan.HOOK_USER)
EXPORTER_PORT_NAME = "metrics"
SMALL_CPU_REQUEST = "50m"  # sentinels, the exporter and the hook
Component = str  # a Role, or "hook"


@dataclass(frozen=True)
class KubernetesOptions:
    """What the spec does not say because it depends on where the manifests are applied."""

    hook_image: str | None = None  # default: the spec's images.hook
    # An existing Secret with a key per secret file (`secret_keys`: redis-password, ...); default <name>-auth.
    secret_name: str | None = None
    create_namespace: bool = True
    # Labels for the ServiceMonitor and PrometheusRule (spec.monitoring.prometheus_operator), e.g. the one the
    # operator's serviceMonitorSelector / ruleSelector matches (`release: prometheus`).
    operator_labels: Mapping[str, str] = field(default_factory=dict)
    # Let the hook Job read its nodes' zones (a read-only ClusterRole on nodes); without it the Job still reads
    # which Kubernetes node each pod runs on (a namespaced Role) and keeps replicas off their master's node.
    node_zones: bool = True


# -------------------------------------------------------------------------------------------- names and labels


def secret_name(spec: ClusterSpec, options: KubernetesOptions) -> str:
    return options.secret_name or f"{spec.name}-auth"


def secret_keys(deployment: DeploymentPlan) -> list[str]:
    """The Secret's keys: the file name of every secret a pod reads (each user's password, the exporter's map)."""
    return sorted({posixpath.basename(path) for service in deployment.services for path in service.secret_files})


def _image_version(image: str) -> str | None:
    """The tag of a pinned image, when it is a valid label value (a digest is not)."""
    if "@" in image:
        return None
    tag = image.rsplit("/", 1)[-1].rpartition(":")[2]
    return tag[:63] if tag and all(c.isalnum() or c in "._-" for c in tag) else None


_APP_NAMES: dict[Component, str] = {"exporter": "redis-exporter", "hook": "cache-cluster-hook"}


def selector_labels(spec: ClusterSpec, component: Component) -> dict[str, str]:
    """What a Service, PDB or NetworkPolicy selects pods by (immutable in a StatefulSet: keep it small)."""
    return {"app.kubernetes.io/instance": spec.name, "app.kubernetes.io/component": component}


def labels(spec: ClusterSpec, component: Component, image: str | None = None) -> dict[str, str]:
    found = {
        "app.kubernetes.io/name": _APP_NAMES.get(component, "redis"),
        **selector_labels(spec, component),
        "app.kubernetes.io/part-of": "cache-cluster",
        "app.kubernetes.io/managed-by": "cache-cluster",
    }
    version = _image_version(image) if image else None
    if version:
        found["app.kubernetes.io/version"] = version
    return found


def _metadata(spec: ClusterSpec, name: str, component: Component, **extra: Any) -> Manifest:
    return {"name": name, "namespace": spec.kubernetes.namespace, "labels": labels(spec, component), **extra}


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


# ----------------------------------------------------------------------------------------- pod building blocks


def container_security_context() -> Manifest:
    """The Pod Security Standard `restricted` profile, per container."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(uid: int, *, volumes: bool = False) -> Manifest:
    context: Manifest = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if volumes:
        # The PVC must be writable by the redis user; only walk it when its owner is wrong (large volumes).
        context |= {"fsGroup": uid, "fsGroupChangePolicy": "OnRootMismatch"}
    return context


def _downward_env() -> list[Manifest]:
    return [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


def announce_env(spec: ClusterSpec, prefix: str) -> Manifest:
    """The pod's FQDN, expanded by Kubernetes from the downward-API variables declared before it."""
    headless = addresses.headless_service(prefix)
    value = f"$(POD_NAME).{headless}.$(POD_NAMESPACE).svc.{spec.kubernetes.cluster_domain}"
    return {"name": ANNOUNCE_ENV, "value": value}


SECRETS_VOLUME = "secrets"


def secret_volume(service_plan: ServicePlan, secret: str) -> Manifest:
    """Only the keys this container reads (ServicePlan.secret_files), each at its plan path under /run/secrets."""
    names = sorted(posixpath.basename(path) for path in service_plan.secret_files)
    if {posixpath.dirname(path) for path in service_plan.secret_files} - {acl.SECRETS_DIR}:
        raise ValueError(f"{service_plan.name}: every secret file must be in {acl.SECRETS_DIR}")
    return {
        "name": SECRETS_VOLUME,
        "secret": {
            "secretName": secret,
            "defaultMode": SECRET_FILE_MODE,
            "items": [{"key": name, "path": name} for name in names],
        },
    }


def secret_mount() -> Manifest:
    return {"name": SECRETS_VOLUME, "mountPath": acl.SECRETS_DIR, "readOnly": True}


def _resources(memory_mb: int, cpu_request: str, cpu_limit: str | None = None) -> Manifest:
    limits = {"memory": f"{memory_mb}Mi"} | ({"cpu": cpu_limit} if cpu_limit else {})
    return {"requests": {"cpu": cpu_request, "memory": f"{memory_mb}Mi"}, "limits": limits}


def _exec(script: str) -> Manifest:
    return {"exec": {"command": ["sh", "-c", script]}}


def _probe_cli(spec: ClusterSpec, port: int, command: str) -> str:
    """redis-cli as the exporter user (PING, INFO, CLUSTER INFO only), its password on stdin from the file."""
    return f"{conf.cli_as(acl.EXPORTER_USER)} -p {port} {command} < {acl.secret_path(acl.EXPORTER_USER, spec)}"


def ping_script(spec: ClusterSpec, port: int) -> str:
    # redis-cli exits 0 even on NOAUTH or LOADING, so the reply is compared.
    return f'[ "$({_probe_cli(spec, port, "ping")})" = PONG ]'


def cluster_ready_script(spec: ClusterSpec, port: int) -> str:
    """PONG and `cluster_state:ok`: the node is part of a working cluster."""
    return (
        f'{ping_script(spec, port)} && case "$({_probe_cli(spec, port, "cluster info")})" in '
        "*cluster_state:ok*) exit 0 ;; *) exit 1 ;; esac"
    )


def redis_probes(spec: ClusterSpec, port: int, *, cluster: bool) -> Manifest:
    ping = _exec(ping_script(spec, port))
    return {
        # A node loading a large AOF answers LOADING for as long as that takes: up to 10 minutes here.
        "startupProbe": {**ping, "periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 300},
        "livenessProbe": {**ping, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
        "readinessProbe": {
            **(_exec(cluster_ready_script(spec, port)) if cluster else ping),
            "periodSeconds": 2,
            "timeoutSeconds": 2,
            "failureThreshold": 2,
        },
    }


def _config_volumes(config_map: str, service_plan: ServicePlan, secret: str) -> list[Manifest]:
    return [
        {"name": "config", "configMap": {"name": config_map, "defaultMode": CONFIG_FILE_MODE}},
        secret_volume(service_plan, secret),
        # The root filesystem is read-only: the entrypoint's runtime include (auth, announce) lives here.
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]


def _config_mounts(*, data: bool) -> list[Manifest]:
    mounts: list[Manifest] = [
        {"name": "config", "mountPath": conf.CONFIG_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
        secret_mount(),
    ]
    return mounts + ([{"name": "data", "mountPath": conf.DATA_DIR}] if data else [])


def _spread(spec: ClusterSpec, selector: Manifest) -> Manifest:
    """No two pods of a role on one Kubernetes node when enough exist, and even over zones when labelled."""
    return {
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": selector, "topologyKey": spec.kubernetes.topology_key},
                    }
                ]
            }
        },
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector}
        ],
    }


def _pod_spec(
    service_account: str,
    uid: int,
    containers: list[Manifest],
    volumes: list[Manifest],
    *,
    data: bool = False,
    extra: Manifest | None = None,
) -> Manifest:
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(uid, volumes=data),
        "terminationGracePeriodSeconds": 30,
        "containers": containers,
        "volumes": volumes,
        **(extra or {}),
    }


def _volume_claim(spec: ClusterSpec) -> Manifest:
    claim: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.persistence.volume_size}},
    }
    if spec.kubernetes.storage_class:
        claim["storageClassName"] = spec.kubernetes.storage_class
    return {"metadata": {"name": "data"}, "spec": claim}


# ------------------------------------------------------------------------------------------------- objects


def namespace(spec: ClusterSpec) -> Manifest:
    name = spec.kubernetes.namespace
    pod_security = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    metadata = {"name": name, "labels": {**labels(spec, "namespace"), **pod_security}}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def secret(deployment: DeploymentPlan, options: KubernetesOptions) -> Manifest:
    """The Secret without its data: Pulumi fills `stringData` with secret Outputs; `render` uses a generator."""
    spec = deployment.spec
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(spec, secret_name(spec, options), "auth"),
        "type": "Opaque",
    }


def service_account(spec: ClusterSpec, name: str, component: Component, *, api: bool = False) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(spec, name, component),
        # Only the hook talks to the Kubernetes API (to learn where the pods run).
        "automountServiceAccountToken": api,
    }


def hook_access(spec: ClusterSpec, account: str, options: KubernetesOptions) -> list[Manifest]:
    """Read-only RBAC for the hook: pods in its namespace; with `node_zones`, nodes (for their zone label)."""
    rbac = "rbac.authorization.k8s.io/v1"
    namespace = spec.kubernetes.namespace
    subject = [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    objects: list[Manifest] = [
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": _metadata(spec, f"{account}-pods", "hook"),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": _metadata(spec, f"{account}-pods", "hook"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{account}-pods"},
            "subjects": subject,
        },
    ]
    if options.node_zones:
        # Cluster-scoped: named after the namespace too, so two deployments never share one.
        name = f"{namespace}-{account}-nodes"
        metadata = {"name": name, "labels": labels(spec, "hook")}
        objects += [
            {
                "apiVersion": rbac,
                "kind": "ClusterRole",
                "metadata": metadata,
                "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
            },
            {
                "apiVersion": rbac,
                "kind": "ClusterRoleBinding",
                "metadata": metadata,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": subject,
            },
        ]
    return objects


def config_map(spec: ClusterSpec, name: str, component: Component, files: Mapping[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(spec, name, component),
        "data": dict(files),
    }


def _service_port(name: str, port: int) -> Manifest:
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def service(
    spec: ClusterSpec, name: str, component: Component, ports: Sequence[Manifest], *, headless: bool = False
) -> Manifest:
    body: Manifest = {"selector": selector_labels(spec, component), "ports": list(ports)}
    if headless:
        # DNS names for pods that are not ready yet: peers and the hook must find a node before it is ready.
        body = {"clusterIP": "None", "publishNotReadyAddresses": True, **body}
    else:
        body = {"type": "ClusterIP", **body}
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(spec, name, component), "spec": body}


def _stateful_set(
    spec: ClusterSpec,
    *,
    name: str,
    component: Component,
    service_name: str,
    replicas: int,
    pod: Manifest,
    config_hash: str,
    start_ordinal: int | None,
    data: bool,
) -> Manifest:
    body: Manifest = {
        "serviceName": service_name,
        "replicas": replicas,
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate"},
        "selector": {"matchLabels": selector_labels(spec, component)},
        "template": {
            "metadata": {
                "labels": labels(spec, component, spec.images.redis),
                "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
            },
            "spec": pod,
        },
    }
    if start_ordinal is not None:
        body["ordinals"] = {"start": start_ordinal}
    if data:
        body["volumeClaimTemplates"] = [_volume_claim(spec)]
        # The data outlives the set: deleting or scaling down never deletes a node's volume.
        body["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _metadata(spec, name, component), "spec": body}


def _redis_container(
    spec: ClusterSpec,
    service_plan: ServicePlan,
    *,
    port: int,
    cluster: bool,
    announce_prefix: str | None,
    data: bool,
    resources: Manifest | None = None,
) -> Manifest:
    """The Redis container of a pod; `resources` default to the spec's memory and CPU (the data servers)."""
    env = _downward_env()
    if announce_prefix is not None:
        env.append(announce_env(spec, announce_prefix))
    ports = [{"name": "redis", "containerPort": port, "protocol": "TCP"}]
    if cluster:
        ports.append({"name": "bus", "containerPort": port + BUS_PORT_OFFSET, "protocol": "TCP"})
    return {
        "name": "redis",
        "image": spec.images.redis,
        "imagePullPolicy": "IfNotPresent",
        "command": list(service_plan.entrypoint),
        "env": env,
        "ports": ports,
        "volumeMounts": _config_mounts(data=data),
        "resources": resources
        or _resources(spec.memory.container_memory_mb, spec.memory.cpu_request, spec.memory.cpu_limit),
        **redis_probes(spec, port, cluster=cluster),
        "securityContext": container_security_context(),
    }


def _files_by_name(service_plan: ServicePlan) -> dict[str, str]:
    return {posixpath.basename(path): content for path, content in service_plan.files.items()}


@dataclass(frozen=True)
class Workload:
    """One role's objects: what `manifests` lists, in apply order within each kind."""

    config_maps: list[Manifest]
    services: list[Manifest]
    workloads: list[Manifest]
    service_accounts: list[Manifest]


def _config_name(prefix: str) -> str:
    return f"{prefix}-config"


def _named_set(
    spec: ClusterSpec,
    *,
    prefix: str,
    component: Component,
    replicas: int,
    files: Mapping[str, str],
    pod: Manifest,
    ports: list[Manifest],
    data: bool,
) -> Workload:
    """Pods `<prefix>-1..N` from one template: the StatefulSet, its ConfigMap and ServiceAccount, a headless
    Service (the pods' DNS names) and a client Service on the first port (any ready pod)."""
    headless = addresses.headless_service(prefix)
    stateful_set = _stateful_set(
        spec,
        name=prefix,
        component=component,
        service_name=headless,
        replicas=replicas,
        pod=pod,
        config_hash=_digest(files),
        start_ordinal=1,
        data=data,
    )
    return Workload(
        config_maps=[config_map(spec, _config_name(prefix), component, files)],
        services=[
            service(spec, headless, component, ports, headless=True),
            service(spec, prefix, component, ports[:1]),
        ],
        workloads=[stateful_set],
        service_accounts=[service_account(spec, prefix, component)],
    )


def cluster_nodes(deployment: DeploymentPlan, options: KubernetesOptions) -> Workload:
    spec = deployment.spec
    prefix = spec.topology.node_name_prefix
    port = spec.topology.base_port
    files = {
        "redis.conf": conf.render_node_conf(spec, hostname=None, port=port),
        posixpath.basename(ENTRYPOINT_PATH): conf.render_node_entrypoint(spec, port=port, announce_env=ANNOUNCE_ENV),
    }
    node_plan = deployment.service(deployment.nodes[0].name)
    container = _redis_container(
        spec,
        node_plan,
        port=port,
        cluster=True,
        announce_prefix=prefix,
        data=True,
    )
    selector = {"matchLabels": selector_labels(spec, "cluster-node")}
    pod = _pod_spec(
        prefix,
        REDIS_UID,
        [container],
        _config_volumes(_config_name(prefix), node_plan, secret_name(spec, options)),
        data=True,
        # The pause process as pid 1 reaps the entrypoint's background re-meet loop once it ends; under
        # redis-server as pid 1 it would stay a zombie until Redis next forks (Docker's `init: true` does this).
        extra={"shareProcessNamespace": True, **_spread(spec, selector)},
    )
    ports = [_service_port("redis", port), _service_port("bus", port + BUS_PORT_OFFSET)]
    return _named_set(
        spec, prefix=prefix, component="cluster-node", replicas=len(deployment.nodes), files=files, pod=pod,
        ports=ports, data=True,
    )  # fmt: skip


def sentinels(deployment: DeploymentPlan, options: KubernetesOptions) -> Workload:
    spec = deployment.spec
    prefix = spec.sentinels.name_prefix
    port = spec.sentinels.base_port
    files = {
        "sentinel.conf": conf.render_sentinel_conf(spec, hostname=None, port=port),
        posixpath.basename(ENTRYPOINT_PATH): conf.render_sentinel_entrypoint(spec, announce_env=ANNOUNCE_ENV),
    }
    first = next(service for service in deployment.services if service.role == "sentinel")
    container = _redis_container(
        spec,
        first,
        port=port,
        cluster=False,
        announce_prefix=prefix,
        data=False,
        resources=_resources(first.memory_mb or 64, SMALL_CPU_REQUEST),
    )
    spread = _spread(spec, {"matchLabels": selector_labels(spec, "sentinel")})
    volumes = _config_volumes(_config_name(prefix), first, secret_name(spec, options))
    pod = _pod_spec(prefix, REDIS_UID, [container], volumes, extra=spread)
    return _named_set(
        spec, prefix=prefix, component="sentinel", replicas=spec.sentinels.count, files=files, pod=pod,
        ports=[_service_port("redis", port)], data=False,
    )  # fmt: skip


FALLBACK_ROLES: tuple[Role, Role] = ("fallback-primary", "fallback-replica")


def fallback_pair_selector(spec: ClusterSpec) -> Manifest:
    """Both fallback servers (a label selector: the two have different components)."""
    return {
        "matchLabels": {"app.kubernetes.io/instance": spec.name},
        "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In", "values": list(FALLBACK_ROLES)}],
    }


def fallback(deployment: DeploymentPlan, options: KubernetesOptions) -> Workload:
    """The fallback primary and replica: a one-pod StatefulSet each, behind a Service named as on Docker."""
    spec = deployment.spec
    found = Workload([], [], [], [])
    # Keep the pair apart like the cluster nodes: losing one Kubernetes node must not take both.
    pair = fallback_pair_selector(spec)
    for role in FALLBACK_ROLES:
        service_plan = next(s for s in deployment.services if s.role == role)
        port = service_plan.ports[0].container_port
        files = _files_by_name(service_plan)
        config = config_map(spec, _config_name(service_plan.name), role, files)
        container = _redis_container(
            spec,
            service_plan,
            port=port,
            cluster=False,
            announce_prefix=None,
            data=True,
        )
        pod = _pod_spec(
            service_plan.name,
            REDIS_UID,
            [container],
            _config_volumes(config["metadata"]["name"], service_plan, secret_name(spec, options)),
            data=True,
            extra=_spread(spec, pair),
        )
        found.service_accounts.append(service_account(spec, service_plan.name, role))
        found.config_maps.append(config)
        found.services.append(service(spec, service_plan.name, role, [_service_port("redis", port)]))
        found.workloads.append(
            _stateful_set(
                spec,
                name=service_plan.name,
                component=role,
                service_name=service_plan.name,
                replicas=1,
                pod=pod,
                config_hash=_digest(files),
                start_ordinal=None,
                data=True,
            )
        )
    return found


def exporter(deployment: DeploymentPlan, options: KubernetesOptions) -> Workload:
    spec = deployment.spec
    service_plan = next(s for s in deployment.services if s.role == "exporter")
    port = spec.exporter.port
    container = {
        "name": "exporter",
        "image": spec.images.exporter,
        "imagePullPolicy": "IfNotPresent",
        "command": list(service_plan.entrypoint),
        "args": list(service_plan.command),
        "volumeMounts": [secret_mount()],
        "ports": [{"name": EXPORTER_PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "resources": _resources(service_plan.memory_mb or 128, SMALL_CPU_REQUEST),
        "startupProbe": {"tcpSocket": {"port": EXPORTER_PORT_NAME}, "periodSeconds": 2, "failureThreshold": 30},
        "livenessProbe": {"tcpSocket": {"port": EXPORTER_PORT_NAME}, "periodSeconds": 10, "failureThreshold": 6},
        "readinessProbe": {"tcpSocket": {"port": EXPORTER_PORT_NAME}, "periodSeconds": 5, "failureThreshold": 2},
        "securityContext": container_security_context(),
    }
    volumes = [secret_volume(service_plan, secret_name(spec, options))]
    pod = _pod_spec(spec.exporter.name, EXPORTER_UID, [container], volumes)
    deployment_manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, spec.exporter.name, "exporter"),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector_labels(spec, "exporter")},
            "template": {"metadata": {"labels": labels(spec, "exporter", spec.images.exporter)}, "spec": pod},
        },
    }
    return Workload(
        config_maps=[],
        services=[service(spec, spec.exporter.name, "exporter", [_service_port(EXPORTER_PORT_NAME, port)])],
        workloads=[deployment_manifest],
        service_accounts=[service_account(spec, spec.exporter.name, "exporter")],
    )


def pod_disruption_budget(spec: ClusterSpec, name: str, selector: Manifest, max_unavailable: int) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec, name, "disruption-budget"),
        "spec": {"maxUnavailable": max_unavailable, "selector": selector},
    }


def disruption_budgets(spec: ClusterSpec) -> list[Manifest]:
    """At most one pod per role down by choice (drains, upgrades); Kubernetes enforces it, not this code."""
    budgets = [
        pod_disruption_budget(
            spec,
            spec.topology.node_name_prefix,
            {"matchLabels": selector_labels(spec, "cluster-node")},
            spec.kubernetes.pod_disruption_max_unavailable,
        )
    ]
    if spec.fallback.enabled:
        sentinel_pods = {"matchLabels": selector_labels(spec, "sentinel")}
        budgets.append(pod_disruption_budget(spec, spec.sentinels.name_prefix, sentinel_pods, 1))
        budgets.append(pod_disruption_budget(spec, spec.fallback.primary_name, fallback_pair_selector(spec), 1))
    return budgets


def _pods(spec: ClusterSpec, *components: Component) -> list[Manifest]:
    return [{"podSelector": {"matchLabels": selector_labels(spec, component)}} for component in components]


def _clients() -> list[Manifest]:
    """Application pods labelled as clients, in this namespace or in any namespace labelled as a client."""
    label = {"matchLabels": {CLIENT_LABEL: "true"}}
    return [{"podSelector": label}, {"namespaceSelector": label}]


def _port(port: int) -> Manifest:
    return {"protocol": "TCP", "port": port}


def network_policy(spec: ClusterSpec, name: str, selector: Manifest, ingress: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(spec, name, "network-policy"),
        "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": ingress},
    }


def network_policies(spec: ClusterSpec) -> list[Manifest]:
    """Ingress only: client ports from labelled clients (and the hook, the exporter, peers), bus ports between
    cluster nodes only, the exporter's port from the monitoring namespace (and the hook, which checks it)."""
    port = spec.topology.base_port
    policies = [
        network_policy(
            spec,
            spec.topology.node_name_prefix,
            {"matchLabels": selector_labels(spec, "cluster-node")},
            [
                # Nodes dial each other's client port too: replication and the entrypoint's re-meet.
                {"from": _clients() + _pods(spec, "cluster-node", "hook", "exporter"), "ports": [_port(port)]},
                {"from": _pods(spec, "cluster-node"), "ports": [_port(port + BUS_PORT_OFFSET)]},
            ],
        )
    ]
    if spec.fallback.enabled:
        fallback_ports = [_port(spec.fallback.primary_port), _port(spec.fallback.replica_port)]
        policies.append(
            network_policy(
                spec,
                spec.sentinels.name_prefix,
                {"matchLabels": selector_labels(spec, "sentinel")},
                [
                    {
                        "from": _clients() + _pods(spec, "sentinel", "hook", "exporter"),
                        "ports": [_port(spec.sentinels.base_port)],
                    }
                ],
            )
        )
        for role in FALLBACK_ROLES:
            name = spec.fallback.primary_name if role == "fallback-primary" else spec.fallback.replica_name
            policies.append(
                network_policy(
                    spec,
                    name,
                    {"matchLabels": selector_labels(spec, role)},
                    [
                        {
                            "from": _clients() + _pods(spec, *FALLBACK_ROLES, "sentinel", "hook", "exporter"),
                            "ports": fallback_ports,
                        }
                    ],
                )
            )
    if spec.exporter.enabled:
        monitoring = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": spec.kubernetes.monitoring_namespace}}
        }
        policies.append(
            network_policy(
                spec,
                spec.exporter.name,
                {"matchLabels": selector_labels(spec, "exporter")},
                [{"from": [monitoring, *_pods(spec, "hook")], "ports": [_port(spec.exporter.port)]}],
            )
        )
    return policies


def operator_objects(spec: ClusterSpec, options: KubernetesOptions) -> list[Manifest]:
    """The Prometheus Operator's ServiceMonitor and PrometheusRule (monitoring/operator.py): the same scrape jobs,
    labels and rules as prometheus.yml, dialling every instance by its DNS name (addresses.py)."""
    extra = {"app.kubernetes.io/managed-by": "cache-cluster", **options.operator_labels}
    service_monitor = render_service_monitor(
        spec,
        exporter_service_labels=selector_labels(spec, "exporter"),
        port_name=EXPORTER_PORT_NAME,
        labels=extra,
    )
    return [service_monitor, render_prometheus_rule(spec, labels=extra)]


# ---------------------------------------------------------------------------------------------------- hook


def hook_image(deployment: DeploymentPlan, options: KubernetesOptions) -> str:
    return options.hook_image or deployment.spec.images.hook


def hook_service(deployment: DeploymentPlan) -> ServicePlan:
    """The plan's hook (what Compose runs as its one-shot service), with the Job's longer deadline."""
    if deployment.init is None:
        raise ValueError("the plan has no hook service")
    service = deployment.init.service
    command = list(service.command)
    command[command.index("--timeout") + 1] = str(HOOK_TIMEOUT_SECONDS)
    # Where the pods run, from the API: replicas go to another Kubernetes node (zone) than their master.
    command += ["--failure-domains", "kubernetes"]
    return replace(service, command=tuple(command))


def hook_name(deployment: DeploymentPlan, options: KubernetesOptions) -> str:
    """`<name>-init-<digest>`: a new Job (so a new run) whenever the spec, the node set or the image changes."""
    nodes = [node.address for node in deployment.nodes]
    files = hook_service(deployment).files
    return f"{deployment.spec.name}-init-{_digest(files, nodes, hook_image(deployment, options))}"


def hook_objects(deployment: DeploymentPlan, options: KubernetesOptions) -> list[Manifest]:
    """The hook's ServiceAccount, its spec (a ConfigMap) and the Job that runs `cache-cluster init` once."""
    spec = deployment.spec
    name = f"{spec.name}-hook"
    service_plan = hook_service(deployment)
    ((spec_path, spec_text),) = service_plan.files.items()
    spec_config = config_map(spec, f"{name}-spec", "hook", {posixpath.basename(spec_path): spec_text})
    container = {
        "name": "init",
        "image": hook_image(deployment, options),
        "imagePullPolicy": "IfNotPresent",
        "command": list(service_plan.entrypoint),
        "args": list(service_plan.command),
        "env": [{"name": "HOME", "value": "/tmp"}],
        "volumeMounts": [
            {"name": "spec", "mountPath": posixpath.dirname(spec_path), "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            secret_mount(),
        ],
        "resources": _resources(service_plan.memory_mb or 256, SMALL_CPU_REQUEST),
        "securityContext": container_security_context(),
    }
    volumes = [
        {"name": "spec", "configMap": {"name": spec_config["metadata"]["name"], "defaultMode": CONFIG_FILE_MODE}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        secret_volume(service_plan, secret_name(spec, options)),
    ]
    pod = _pod_spec(name, HOOK_UID, [container], volumes) | {
        "restartPolicy": "Never",
        "automountServiceAccountToken": True,
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(spec, hook_name(deployment, options), "hook"),
        "spec": {
            # The hook waits for the servers itself (HOOK_TIMEOUT_SECONDS); a retry covers a pod lost meanwhile.
            "backoffLimit": 2,
            "activeDeadlineSeconds": 3 * HOOK_TIMEOUT_SECONDS,
            "template": {"metadata": {"labels": labels(spec, "hook", hook_image(deployment, options))}, "spec": pod},
        },
    }
    return [service_account(spec, name, "hook", api=True), *hook_access(spec, name, options), spec_config, job]


# ------------------------------------------------------------------------------------------------ together


def workloads(deployment: DeploymentPlan, options: KubernetesOptions) -> list[Workload]:
    spec = deployment.spec
    found = [cluster_nodes(deployment, options)]
    if spec.fallback.enabled:
        found += [fallback(deployment, options), sentinels(deployment, options)]
    if spec.exporter.enabled:
        found.append(exporter(deployment, options))
    return found


def manifests(deployment: DeploymentPlan, options: KubernetesOptions, *, with_secret: bool = True) -> list[Manifest]:
    """Every object, in the order they can be applied; the hook Job comes last.

    `with_secret`: include the (data-less) Secret; `render` leaves it to a generator or an existing Secret.
    """
    spec = deployment.spec
    if spec.target != "kubernetes":
        raise ValueError(f"spec.target is {spec.target!r}; the Kubernetes rendering needs target: kubernetes")
    parts = workloads(deployment, options)
    hook = hook_objects(deployment, options)
    objects: list[Manifest] = [namespace(spec)] if options.create_namespace else []
    objects += [account for part in parts for account in part.service_accounts]
    objects += [item for item in hook if item["kind"] not in ("ConfigMap", "Job")]
    objects += [secret(deployment, options)] if with_secret else []
    objects += [config for part in parts for config in part.config_maps]
    objects += [item for item in hook if item["kind"] == "ConfigMap"]
    objects += [svc for part in parts for svc in part.services]
    objects += [workload for part in parts for workload in part.workloads]
    objects += disruption_budgets(spec)
    objects += network_policies(spec) if spec.kubernetes.network_policy else []
    if spec.monitoring.prometheus_operator and spec.exporter.enabled:
        objects += operator_objects(spec, options)
    return [*objects, hook[-1]]


# ------------------------------------------------------------------------------------- files for GitOps users

RENDER_HEADER = "# Rendered by cache-cluster from {source}. Do not edit: change the spec and render again.\n"
SECRET_DIR = "secrets"  # beside the manifests, git-ignored: `cache-cluster render secrets --dir <it>`


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (the config files in ConfigMaps) as YAML literal blocks, readable in reviews."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # objects share selector dicts; each file spells them out


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_str)


def to_yaml(manifest: Manifest) -> str:
    return yaml.dump(manifest, Dumper=_LiteralDumper, sort_keys=False, width=120)


def file_name(manifest: Manifest) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def render_files(
    deployment: DeploymentPlan, options: KubernetesOptions, *, source: str, generate_secret: bool
) -> dict[str, str]:
    """File name -> text: one file per object, a kustomization.yaml, and for the Secret either a generator
    reading the secret files in `secrets/` (written by `cache-cluster render secrets`, never by this function,
    and git-ignored) or, with `generate_secret=False`, a reference to the existing Secret `options.secret_name`."""
    spec = deployment.spec
    header = RENDER_HEADER.format(source=source)
    objects = manifests(deployment, options, with_secret=False)
    files = {file_name(manifest): header + to_yaml(manifest) for manifest in objects}
    kustomization: Manifest = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(files),
    }
    keys = secret_keys(deployment)
    if generate_secret:
        kustomization["secretGenerator"] = [
            {
                "name": secret_name(spec, options),
                "namespace": spec.kubernetes.namespace,
                "files": [f"{key}={SECRET_DIR}/{key}" for key in keys],
                "options": {"labels": labels(spec, "auth")},
            }
        ]
        files[".gitignore"] = f"{SECRET_DIR}/\n"
        secret_note = (
            f"# The Secret comes from the files in {SECRET_DIR}/ (secretGenerator, git-ignored): write them with\n"
            f"#   cd <this directory> && cache-cluster render secrets {source} --dir {SECRET_DIR} > /dev/null\n"
        )
    else:
        secret_note = f"# The pods read the existing Secret {secret_name(spec, options)!r} (keys: {', '.join(keys)}).\n"
    files["kustomization.yaml"] = header + secret_note + to_yaml(kustomization)
    return files

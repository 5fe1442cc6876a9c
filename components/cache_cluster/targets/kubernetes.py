"""KubernetesCacheCluster: the deployment plan on Kubernetes, with pulumi-kubernetes 4.x.

Every object is built by kubernetes_manifests.py (pure dicts, the same ones `cache-cluster render kubernetes`
writes); this module only registers each as a typed resource parented to the component (a preview lists them
one by one under it), fills the Secret from secret Outputs, and orders things:

- everything after the Namespace; workloads after their ConfigMaps, Secret, ServiceAccounts and Services;
- the hook Job last. `pulumi up` waits for the Job to complete (pulumi-kubernetes' Job await), so a deployment
  whose cluster cannot be formed fails `pulumi up`.
- The cluster nodes' StatefulSet and Services carry `pulumi.com/skipAwait`: their readiness needs a formed
  cluster, which the Job makes; awaiting them before the Job would wait forever.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .. import acl, addresses
from ..plan import plan
from ..spec import ClusterSpec
from .kubernetes_manifests import (
    HOOK_TIMEOUT_SECONDS,
    KubernetesOptions,
    Manifest,
    manifests,
)
from .pulumi_common import (
    DeployInputError,
    acl_passwords,
    cluster_password,
    deployment_secret_files,
    internal_passwords,
    secret_values,
)

TYPE_TOKEN = "cache-cluster:index:KubernetesCacheCluster"
HOOK_IMAGE_ENV = "CACHE_CLUSTER_HOOK_IMAGE"
SKIP_AWAIT = "pulumi.com/skipAwait"

_RESOURCE_TYPES: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
}
_FIRST = ("Namespace",)
_BEFORE_WORKLOADS = ("ServiceAccount", "Secret", "ConfigMap", "Service")
_CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding")
_WORKLOADS = ("StatefulSet", "Deployment")


class _RequiredArgs(TypedDict):
    spec: ClusterSpec


class KubernetesCacheClusterArgs(_RequiredArgs, total=False):
    password: pulumi.Input[str]  # generated (pulumi-random) when left out and the spec has none
    acl_passwords: Mapping[str, pulumi.Input[str]]  # ACL user name -> password; generated when left out
    # The built-in users' passwords (admin, exporter, replication, sentinel); each generated when left out.
    internal_passwords: Mapping[str, pulumi.Input[str]]
    hook_image: str  # default: $CACHE_CLUSTER_HOOK_IMAGE, else the spec's images.hook
    create_namespace: bool  # default true; false: the namespace exists already
    # Labels for the ServiceMonitor and PrometheusRule (spec monitoring.prometheus_operator), e.g. the one the
    # operator's serviceMonitorSelector / ruleSelector matches.
    operator_labels: Mapping[str, str]
    node_zones: bool  # a read-only ClusterRole on nodes so the hook Job sees zones (default true)
    run_hook: bool  # run the hook Job (default true)


# ---------------------------------------------------------------------------------------------- pure helpers


def options_from(args: KubernetesCacheClusterArgs, environ: Mapping[str, str] = os.environ) -> KubernetesOptions:
    return KubernetesOptions(
        hook_image=args.get("hook_image") or environ.get(HOOK_IMAGE_ENV) or None,
        create_namespace=args.get("create_namespace", True),
        operator_labels=dict(args.get("operator_labels", {})),
        node_zones=args.get("node_zones", True),
    )


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def resource_kwargs(manifest: Manifest) -> dict[str, Any]:
    """A manifest's top-level fields as the typed resource's keyword arguments (nested dicts stay camelCase:
    pulumi-kubernetes passes them to the API as they are)."""
    return {_snake(key): value for key, value in manifest.items() if key not in ("apiVersion", "kind")}


def with_skip_await(manifest: Manifest) -> Manifest:
    metadata = manifest["metadata"]
    annotations = {**metadata.get("annotations", {}), SKIP_AWAIT: "true"}
    return {**manifest, "metadata": {**metadata, "annotations": annotations}}


def awaits_formation(manifest: Manifest) -> bool:
    """Objects whose readiness needs a formed cluster (only the Job forms it)."""
    labels = manifest["metadata"].get("labels", {})
    return manifest["kind"] in ("StatefulSet", "Service") and labels.get("app.kubernetes.io/component") == (
        "cluster-node"
    )


def logical_name(name: str, manifest: Manifest) -> str:
    """Pulumi's name of an object: stable across changes of its Kubernetes name (the Job's digest)."""
    if manifest["kind"] == "Job":
        return f"{name}-init"
    return f"{name}-{manifest['kind'].lower()}-{manifest['metadata']['name']}"


# ------------------------------------------------------------------------------------------------ component


class KubernetesCacheCluster(pulumi.ComponentResource):
    """The Redis Cluster, the fallback Redis with its sentinels, the exporter and the hook Job on Kubernetes.

    Outputs: `env` (the applications' env contract with the cluster's DNS names; REDIS_PASSWORD secret),
    `node_endpoints`, `host_address_map` (empty: nothing is published on a host), `exporter_url` (in-cluster),
    `namespace`, `password`, `acl_passwords` and `admin_password` (secret: the hook's user).
    """

    env: dict[str, pulumi.Output[str]]
    node_endpoints: list[str]
    host_address_map: dict[str, str]
    exporter_url: str | None
    namespace: str
    password: pulumi.Output[str]
    acl_passwords: dict[str, pulumi.Output[str]]
    admin_password: pulumi.Output[str]
    resources: dict[str, pulumi.CustomResource]
    hook: pulumi.CustomResource | None

    def __init__(
        self, name: str, args: KubernetesCacheClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args["spec"]
        if spec.target != "kubernetes":
            raise DeployInputError(
                f"spec.target is {spec.target!r}; fix: set target: kubernetes to deploy with KubernetesCacheCluster"
            )
        deployment = plan(spec)
        options = options_from(args)
        child = pulumi.ResourceOptions(parent=self)
        self.password = cluster_password(name, spec, args.get("password"), child)
        self.acl_passwords = acl_passwords(name, spec, args.get("acl_passwords", {}), child)
        internal = internal_passwords(name, spec, args.get("internal_passwords", {}), child)
        self.admin_password = internal["admin"]
        secrets = secret_values(self.password, self.acl_passwords, internal)
        files = deployment_secret_files(deployment, secrets)
        secret_files = {acl.secret_name(kind, spec): content for kind, content in files.items()}

        objects = manifests(deployment, options)
        if not args.get("run_hook", True):
            objects = [manifest for manifest in objects if manifest["kind"] != "Job"]
        self.resources = {}
        self._kinds: dict[str, str] = {}
        self.hook = None
        for manifest in objects:
            resource = self._register(name, manifest, secret_files)
            self.resources[logical_name(name, manifest)] = resource
            self._kinds[logical_name(name, manifest)] = manifest["kind"]
            if manifest["kind"] == "Job":
                self.hook = resource

        contract = deployment.contract
        self.env = {key: pulumi.Output.from_input(value) for key, value in contract.public.items()}
        self.env |= {key: secrets[kind] for key, kind in contract.secret.items()}
        self.node_endpoints = [node.address for node in deployment.nodes]
        self.host_address_map = {}
        self.exporter_url = f"http://{addresses.exporter(spec)}" if spec.exporter.enabled else None
        self.namespace = spec.kubernetes.namespace
        self.register_outputs(
            {
                "env": self.env,
                "node_endpoints": self.node_endpoints,
                "host_address_map": self.host_address_map,
                "exporter_url": self.exporter_url,
                "namespace": self.namespace,
                "password": self.password,
                "acl_passwords": self.acl_passwords,
                "admin_password": self.admin_password,
            }
        )

    def _dependencies(self, kind: str) -> list[pulumi.Resource]:
        def of(kinds: tuple[str, ...]) -> list[pulumi.Resource]:
            return [resource for key, resource in self.resources.items() if self._kinds[key] in kinds]

        if kind in _FIRST + _CLUSTER_SCOPED:
            return []
        if kind in _WORKLOADS:
            return of(_FIRST + _BEFORE_WORKLOADS)
        if kind == "Job":
            return list(self.resources.values())
        return of(_FIRST)

    def _register(
        self,
        name: str,
        manifest: Manifest,
        secret_files: Mapping[str, pulumi.Output[str]],
    ) -> pulumi.CustomResource:
        kind = manifest["kind"]
        if awaits_formation(manifest):
            manifest = with_skip_await(manifest)
        kwargs = resource_kwargs(manifest)
        options = pulumi.ResourceOptions(parent=self, depends_on=self._dependencies(kind))
        if kind == "Secret":
            # One key per secret file the pods mount (redis-password, ..., the exporter's password map).
            kwargs["string_data"] = pulumi.Output.secret(dict(secret_files))
        if kind == "Job":
            # The hook may wait HOOK_TIMEOUT_SECONDS for the servers; image pulls come on top.
            timeout = f"{2 * HOOK_TIMEOUT_SECONDS}s"
            options = pulumi.ResourceOptions.merge(
                options, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout))
            )
        resource_type = _RESOURCE_TYPES.get((manifest["apiVersion"], kind))
        if resource_type is None:  # a custom resource: the ServiceMonitor, the PrometheusRule
            return k8s.apiextensions.CustomResource(
                logical_name(name, manifest), api_version=manifest["apiVersion"], kind=kind, opts=options, **kwargs
            )
        resource: pulumi.CustomResource = resource_type(logical_name(name, manifest), opts=options, **kwargs)
        return resource


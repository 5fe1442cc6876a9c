"""The stack program: stack config -> ClusterSpec -> component -> stack outputs.

Config (Pulumi.<stack>.yaml):
  cache-cluster:cluster        the cluster spec (an object), validated exactly as `cache-cluster check-config` does;
                               its `environment` defaults to the stack name as a DNS label (`prod_eu` -> `prod-eu`).
  cache-cluster:redisPassword  optional secret (`pulumi config set --secret ...`); generated when left out.
  cache-cluster:retainVolumes  optional boolean, default true: the data volumes survive `pulumi destroy`
                               (they are shared by name with the Compose stack); false deletes them with the stack.

Bad input ends the program with a `pulumi.RunError`: Pulumi prints its message (the field, what is wrong, the
fix) and no Python traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pulumi

from cache_cluster.errors import CacheClusterError
from cache_cluster.loader import PROJECT, SPEC_CONFIG_KEY, environment_for_stack, spec_from_mapping
from cache_cluster.spec import ClusterSpec
from cache_cluster.targets.pulumi_common import checked_password


def load_spec(config: pulumi.Config, stack: str) -> ClusterSpec:
    raw: Any = config.require_object("cluster")
    if isinstance(raw, Mapping) and "environment" not in raw:
        raw = {**raw, "environment": environment_for_stack(stack)}
    return spec_from_mapping(raw, source=f"stack {stack!r} (Pulumi.{stack}.yaml)", prefix=f"config.{SPEC_CONFIG_KEY}")


def deploy(spec: ClusterSpec, password: pulumi.Output[str] | None, retain_volumes: bool = True) -> Any:
    """The target's component: the one place that maps `spec.target` to a component (each imported on use)."""
    if spec.target == "docker":
        from cache_cluster.targets.docker import DockerCacheCluster, DockerCacheClusterArgs

        args = DockerCacheClusterArgs(spec=spec, retain_volumes=retain_volumes)
        if password is not None:
            args["password"] = password
        return DockerCacheCluster(spec.name, args)
    from cache_cluster.targets.kubernetes import KubernetesCacheCluster, KubernetesCacheClusterArgs

    kubernetes_args = KubernetesCacheClusterArgs(spec=spec)
    if password is not None:
        kubernetes_args["password"] = password
    return KubernetesCacheCluster(spec.name, kubernetes_args)


def configured_password(config: pulumi.Config) -> pulumi.Output[str] | None:
    password = config.get_secret("redisPassword")
    if password is None:
        return None
    # Checked where its value is known, and named as the user set it; the value itself is never shown.
    return password.apply(functools.partial(checked_password, field=f"{PROJECT}:redisPassword"))


def main() -> None:
    config = pulumi.Config(PROJECT)
    try:
        spec = load_spec(config, pulumi.get_stack())
        retain = config.get_bool("retainVolumes")
        cluster = deploy(spec, configured_password(config), retain_volumes=True if retain is None else retain)
    except CacheClusterError as error:
        raise pulumi.RunError(error.render()) from None
    pulumi.export("env", cluster.env)  # REDIS_PASSWORD is a secret Output, the rest plain
    pulumi.export("node_endpoints", cluster.node_endpoints)
    pulumi.export("host_address_map", cluster.host_address_map)
    pulumi.export("exporter_url", cluster.exporter_url)
    # Secret: the hook's user, for running `cache-cluster status` by hand (pulumi stack output --show-secrets).
    pulumi.export("admin_password", cluster.admin_password)
    if cluster.acl_passwords:
        pulumi.export("acl_passwords", cluster.acl_passwords)


main()

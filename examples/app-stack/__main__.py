"""An application stack: its cache declared with cache-cluster's component, its app container on the cache's network.

The application gets the cache the way every application does: the env contract (`cache.env`, REDIS_PASSWORD a
secret), the node names resolving on the cache's Docker network. One Docker provider, the stack's own, serves both.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from cache_cluster.loader import environment_for_stack
from cache_cluster.spec import ClusterSpec
from cache_cluster.targets.docker import DockerCacheCluster, DockerCacheClusterArgs

config = pulumi.Config()
publish_address = config.require("publishAddress")

engine = docker.Provider("docker", host=config.require("dockerHost"))

# The shop's cache: the brief's topology on its own network, name and ports, so it runs beside other caches.
spec = ClusterSpec.model_validate(
    {
        "name": "shop-cache",
        "environment": environment_for_stack(pulumi.get_stack()),
        "topology": {"base_port": 17001},
        "sentinels": {"base_port": 36379},
        "fallback": {"primary_port": 16380, "replica_port": 16381},
        "exporter": {"port": 19121},
        # Loopback (the default) keeps the cache off the network; a remote Docker host needs an address this
        # machine reaches, for the post-deploy hook to form the cluster.
        "network": {
            "name": "shop-cache",
            "publish_address": publish_address,
            "allow_public_publish": publish_address != "127.0.0.1",
        },
    }
)
cache = DockerCacheCluster(
    "shop-cache",
    DockerCacheClusterArgs(spec=spec),
    opts=pulumi.ResourceOptions(providers=[engine]),
)

# Every contract variable, REDIS_PASSWORD included: Output.all keeps the whole list secret.
app_env = pulumi.Output.all(**cache.env).apply(lambda env: [f"{key}={env[key]}" for key in sorted(env)])
# A stand-in for the application: pings the cluster through the contract's first node, then idles.
ping = (
    'node="${REDIS_CLUSTER_NODES%%,*}"; '
    'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -c -h "${node%:*}" -p "${node##*:}" ping; exec sleep infinity'
)
app_image = docker.RemoteImage(
    "shop-app-image", name=config.require("appImage"), keep_locally=True, opts=pulumi.ResourceOptions(provider=engine)
)
app = docker.Container(
    "shop-app",
    name="shop-app",
    image=app_image.image_id,
    entrypoints=["sh", "-c", ping],
    envs=app_env,
    networks_advanced=[{"name": cache.network_name, "aliases": ["shop-app"]}],
    restart="unless-stopped",
    opts=pulumi.ResourceOptions(
        provider=engine,
        # After the whole cache (its children: every node, and the hook that forms the cluster).
        depends_on=[cache],
        additional_secret_outputs=["envs"],
    ),
)

pulumi.export("cache_env", cache.env)
pulumi.export("app_container", app.name)

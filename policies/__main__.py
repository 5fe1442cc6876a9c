"""The cache-cluster policy pack: the rules (cache_cluster.policy.catalog) by name, nothing else."""

from pulumi_policy import EnforcementLevel, PolicyPack

from cache_cluster.policy.pack import PACK_NAME, policy

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        policy("cluster-topology"),
        policy("cluster-topology-dev-replicas"),
        policy("password-secret"),
        policy("password-set"),
        policy("passwords-as-files"),
        policy("password-never-plain"),
        policy("images-pinned"),
        policy("images-digest-on-dev"),
        policy("no-public-exposure"),
        policy("docker-restart-policy"),
        policy("docker-memory-limit"),
        policy("docker-health-check"),
        policy("docker-graceful-stop"),
        policy("maxmemory-below-limit"),
        policy("persistence-outside-dev"),
        policy("nodes-conf-persistent"),
        policy("sentinel-quorum"),
        policy("exporter-coverage"),
        policy("fallback-chain-order"),
        policy("hook-after-nodes"),
        policy("kubernetes-requests-limits"),
        policy("kubernetes-restricted-profile"),
        policy("kubernetes-spread"),
        policy("kubernetes-pdb"),
        policy("kubernetes-network-policy"),
        policy("kubernetes-node-storage"),
    ],
)

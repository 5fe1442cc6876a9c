"""The renderings of a deployment plan onto a platform.

- `compose`: docker-compose.cache-cluster.yml (pure; `compose_binary` finds the Compose v2 binary).
- `docker`: the Pulumi component on a Docker engine (pulumi-docker).
- `kubernetes`: the Pulumi component on Kubernetes (pulumi-kubernetes).
- `pulumi_common`: what every Pulumi target shares (input errors, passwords, the spec handed to the hook).

Targets import the pure core (spec, plan, conf, contract) and never each other, except through `pulumi_common`.
Nothing is imported here: each target pulls in its own provider SDK only when it is used.
"""

"""Facts about a cluster spec for scripts/up.sh, down.sh and status.sh, one Python start each. Never prints a
secret.

Usage: python scripts/stack_info.py vars SPEC [--check-password]
         shell assignments STACK_NAME, STACK_NETWORK, STACK_COMPOSE (the Compose v2 binary, or empty),
         STACK_EXPORTER_SERVICE and STACK_EXPORTER_URL (its published /metrics; both empty without an exporter);
         with --check-password, exit 2 with the reason when REDIS_PASSWORD breaks the spec's password rules
       python scripts/stack_info.py secrets SPEC
         one line per password of the deployment: `KIND FILE VARIABLE` (acl.py's secret kinds, the secret's
         file name in .cache-cluster/secrets and /run/secrets, the variable Compose reads it from)
       python scripts/stack_info.py connect SPEC [REDIS_IMAGE [DASHBOARD]]
         what `make up` prints at the end: the applications' env contract (password hidden), the host
         address map, redis-cli examples, the exporter's and Prometheus' URLs, the dashboard's path,
         where the secrets are
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from cache_cluster import acl
from cache_cluster.acl import APP_USER
from cache_cluster.environment import SECRETS_STATE_DIR
from cache_cluster.errors import CacheClusterError
from cache_cluster.loader import load_spec_file, password_from_env
from cache_cluster.plan import DeploymentPlan, client_host, plan
from cache_cluster.targets.compose import PASSWORD_FILE
from cache_cluster.targets.compose_binary import compose_binary


def _vars(deployment: DeploymentPlan) -> str:
    spec = deployment.spec
    values = {
        "STACK_NAME": spec.name,
        "STACK_NETWORK": spec.network.name,
        "STACK_COMPOSE": compose_binary() or "",
        "STACK_EXPORTER_SERVICE": spec.exporter.name if spec.exporter.enabled else "",
        "STACK_EXPORTER_URL": "",
    }
    if spec.exporter.enabled:
        address = deployment.host_address_map()[f"{spec.exporter.name}:{spec.exporter.port}"]
        values["STACK_EXPORTER_URL"] = f"http://{address}/metrics"
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def _secrets(deployment: DeploymentPlan) -> str:
    spec = deployment.spec
    return "".join(
        f"{kind} {acl.secret_name(kind, spec)} {acl.secret_env(kind, spec)}\n" for kind in acl.password_kinds(spec)
    )


def _connect(deployment: DeploymentPlan, spec_path: str, redis_image: str, dashboard: str) -> str:
    spec = deployment.spec
    first = deployment.nodes[0]
    published = deployment.host_address_map()
    host_port = published[first.address].rsplit(":", 1)[1]
    publish = client_host(spec.network.publish_address)  # where a host client dials (wildcard: loopback)
    width = max(len(name) for name in published)
    env_lines = deployment.contract.render_dotenv().splitlines()[1:]
    lines = [
        f"Applications' settings (= cache-cluster env {spec_path}; --show-secrets adds the password):",
        *(f"  {line}" for line in env_lines),
        "",
        f"Clients on this host: the nodes announce names that resolve only inside the Docker network "
        f"{spec.network.name!r};",
        f"map name:port -> {publish}:port (e.g. redis-py RedisCluster(address_remap=...)):",
        *(f"  {name.ljust(width)} -> {address}" for name, address in published.items()),
        "",
        "Try it as the application's user (the password is read from its file on stdin, never typed or printed):",
        f"  redis-cli -h {publish} -p {host_port} --user {APP_USER} --askpass cluster info < {PASSWORD_FILE}",
        "  # a cluster client inside the network, following MOVED by name:",
        f"  docker run --rm -i --network {spec.network.name} {redis_image} \\",
        f"    redis-cli -c -h {first.name} -p {first.port} --user {APP_USER} --askpass set greeting hello"
        f" < {PASSWORD_FILE}",
    ]
    if spec.exporter.enabled:
        exporter = published[f"{spec.exporter.name}:{spec.exporter.port}"]
        lines += [
            "",
            f"Prometheus exporter: http://{exporter}/metrics",
            f"  one instance:      http://{exporter}/scrape?target=redis://{first.address}",
        ]
    prometheus = spec.monitoring.prometheus
    if prometheus.enabled:
        url = f"http://{published[f'{prometheus.name}:{prometheus.port}']}"
        lines += [
            "",
            f"Prometheus: {url}  (alerts: {url}/alerts, targets: {url}/targets)",
            f"  Grafana dashboard to import: {dashboard or f'cache-cluster render monitoring {spec_path}'}",
        ]
    lines += [
        "",
        f"Secrets: {SECRETS_STATE_DIR}/ (mode 0600), one file per ACL user, unless the variables were set when",
        f"`make up` ran; the application's is {PASSWORD_FILE} (REDIS_USERNAME={APP_USER}), the hook's admin user's",
        f"{SECRETS_STATE_DIR}/redis-admin-password (REDIS_ADMIN_PASSWORD).",
        f"State: make status SPEC={spec_path}   Stop, keeping the data: make down SPEC={spec_path}",
        f"Delete everything, data volumes included: make destroy SPEC={spec_path}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("vars", "secrets", "connect"):
        print(__doc__, file=sys.stderr)
        return 2
    command, spec_path, rest = argv[1], argv[2], argv[3:]
    try:
        deployment = plan(load_spec_file(Path(spec_path)))
        if command == "vars":
            if "--check-password" in rest:
                password_from_env()
            sys.stdout.write(_vars(deployment))
        elif command == "secrets":
            sys.stdout.write(_secrets(deployment))
        else:
            image = rest[0] if rest and rest[0] else deployment.spec.images.redis
            dashboard = rest[1] if len(rest) > 1 else ""
            sys.stdout.write(_connect(deployment, spec_path, image, dashboard))
    except CacheClusterError as error:
        print(error.render(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

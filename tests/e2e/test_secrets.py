# mypy: disable-error-code="no-untyped-call"
"""No secret where it can leak: a whole stack on the real engine, then every place a password could surface is
searched for every password of the deployment (the ACL users' and the exporter's map): 0 hits.

The stack is tests/e2e/security-stack.yaml (Compose project, network and volumes `cctest-sec`, ports 12001-12006,
bus 22001-22006, sentinels 12479-12481, fallback 12380/12381, exporter 12121), started the way a person does with
plain Compose: `cache-cluster render secrets` (files in a temporary directory, `export` lines that read them),
`cache-cluster render compose`, `docker-compose up -d --wait`, then `init`, `validate --json`, `status` and `env`.
Searched: all their output, `docker inspect` of every container, every container's log, the environment of every
process in every container (/proc/<pid>/environ, read on the host), the rendered Compose file, and every file
committed to the repository. Leftovers of an interrupted run are removed first; the fixture always ends with
`down --volumes`.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis import AuthenticationError, Redis
from redis import ConnectionError as RedisConnectionError
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import NoPermissionError
from redis.retry import Retry

from cache_cluster import acl
from cache_cluster.loader import load_spec_file
from cache_cluster.plan import DeploymentPlan, plan
from cache_cluster.spec import service_ports
from tests.conftest import require
from tests.e2e.test_compose_stack import ROOT, _compose_binary, _docker_available, _image_env, _port_is_free, run

from .rotating_client import PasswordFile, writing
from .waiting import log, wait_for

pytestmark = pytest.mark.e2e

SPEC = ROOT / "tests" / "e2e" / "security-stack.yaml"
CLI = str(ROOT / ".venv" / "bin" / "cache-cluster")
UP_TIMEOUT = 240


@dataclass
class SecureStack:
    deployment: DeploymentPlan
    compose_file: Path
    secrets_dir: Path
    secrets: dict[str, str]  # variable -> value, as `render secrets` exported them
    outputs: dict[str, str] = field(default_factory=dict)  # what each command printed (stdout and stderr)

    @property
    def name(self) -> str:
        return self.deployment.spec.name

    def env_without_secrets(self) -> dict[str, str]:
        return {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")} | _image_env()

    def env(self) -> dict[str, str]:
        return self.env_without_secrets() | self.secrets

    def record(self, label: str, args: list[str], *, timeout: float = 120, env: dict[str, str] | None = None) -> str:
        result = run(args, timeout=timeout, env=env or self.env())
        text = f"$ {shlex.join(args)}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
        self.outputs[label] = text
        return text

    def compose(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return run(
            [_compose_binary(), "-p", self.name, "-f", str(self.compose_file), *args], timeout=timeout, env=self.env()
        )

    def containers(self, *, running: bool = False) -> list[str]:
        listed = run(
            ["docker", "ps", "-q" if running else "-aq", "--filter", f"label=com.docker.compose.project={self.name}"],
            timeout=30,
        )
        return listed.stdout.split()


def _exported(exports: str, directory: Path) -> dict[str, str]:
    """The values the `export VAR="$(cat FILE)"` lines of `render secrets` give, read the same way."""
    values = {}
    for line in exports.splitlines():
        variable, _, reference = line.removeprefix("export ").partition("=")
        path = Path(shlex.split(reference.removeprefix('"$(cat ').removesuffix(')"'))[0])
        assert path.parent == directory, line
        values[variable] = path.read_text(encoding="utf-8")
    return values


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    available, why = _docker_available()
    require(available, why)
    deployment = plan(load_spec_file(SPEC))
    work = tmp_path_factory.mktemp("secure-stack")
    secrets_dir = work / "secrets"
    base_env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    rendered = run([CLI, "render", "secrets", str(SPEC), "--dir", str(secrets_dir)], timeout=60, env=base_env)
    assert rendered.returncode == 0, rendered.stderr
    stack = SecureStack(
        deployment, work / "docker-compose.yml", secrets_dir, _exported(rendered.stdout, secrets_dir)
    )
    stack.outputs["render secrets"] = rendered.stdout + rendered.stderr
    stack.record("render compose", [CLI, "render", "compose", str(SPEC), "--output", str(stack.compose_file)])
    log(f"removing leftovers of Compose project {stack.name}")
    stack.compose("down", "--volumes", "--timeout", "5", timeout=120)
    held = [owned for owned in service_ports(deployment.spec) if not _port_is_free(owned.port)]
    if held:
        pytest.fail("ports the security stack needs are held: " + ", ".join(str(o.port) for o in held), pytrace=False)
    try:
        log(f"docker-compose up -d --wait (deadline {UP_TIMEOUT}s)")
        started = time.monotonic()
        up = stack.compose("up", "-d", "--wait", "--wait-timeout", str(UP_TIMEOUT), timeout=UP_TIMEOUT + 60)
        stack.outputs["compose up"] = up.stdout + up.stderr
        log(f"compose up exited {up.returncode} after {time.monotonic() - started:.1f}s")
        if up.returncode != 0:
            logs = stack.compose("logs", "--tail", "20").stdout
            pytest.fail(f"compose up failed:\n{up.stdout}\n{up.stderr}\n{logs}", pytrace=False)
        yield stack
    finally:
        down = stack.compose("down", "--volumes", "--timeout", "5", timeout=180)
        assert down.returncode == 0, down.stderr
        assert not stack.containers(), "down left containers"


def _remap(stack: SecureStack) -> Callable[[tuple[str, int]], tuple[str, int]]:
    published = stack.deployment.host_address_map()

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        host, _, port = published.get(f"{address[0]}:{address[1]}", f"{address[0]}:{address[1]}").rpartition(":")
        return host, int(port)

    return remap


def _occurrences(text: str, secrets: dict[str, str]) -> list[str]:
    return [variable for variable, value in secrets.items() if value and value in text]


def test_the_stack_works_and_no_secret_is_anywhere_it_could_leak(secure_stack: SecureStack) -> None:
    stack = secure_stack
    spec = str(SPEC)
    init = stack.record("init --json", [CLI, "init", spec, "--via", "published", "--json", "--timeout", "120"],
                        timeout=180)
    assert '"outcome": "healthy"' in init, init
    validate = stack.record("validate --json", [CLI, "validate", spec, "--via", "published", "--json"], timeout=180)
    assert '"outcome": "healthy"' in validate, validate
    status = stack.record("status", [CLI, "status", spec, "--via", "published"])
    assert "exit 0" in status, status
    env_output = stack.record("env", [CLI, "env", spec])
    assert "REDIS_USERNAME=app" in env_output and "REDIS_PASSWORD=********" in env_output

    places: dict[str, str] = dict(stack.outputs)
    containers = stack.containers()
    # Every server, plus the exited one-shot init service (its inspect and log are scanned too).
    assert len(containers) == len(stack.deployment.services) + 1
    for container in containers:
        places[f"docker inspect {container}"] = run(["docker", "inspect", container], timeout=30).stdout
        logs = run(["docker", "logs", container], timeout=30)
        places[f"docker logs {container}"] = logs.stdout + logs.stderr
    running = stack.containers(running=True)
    assert len(running) == len(stack.deployment.services)  # all but the init service, which has exited
    for container in running:
        # Every process of the container, read from the host's /proc (as root here: no ptrace restriction).
        top = run(["docker", "top", container, "-eo", "pid"], timeout=30)
        assert top.returncode == 0, top.stderr
        pids = [line.strip() for line in top.stdout.splitlines()[1:] if line.strip().isdigit()]
        environments = []
        for pid in pids:
            try:
                environments.append(Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace"))
            except FileNotFoundError:
                continue  # a health check's process that ended meanwhile
        # Docker gives every container HOSTNAME: proof the environments were read, not skipped.
        assert pids and any("HOSTNAME=" in text for text in environments), (container, pids)
        places[f"/proc/*/environ of {container}"] = "\n".join(environments)
    places["rendered compose file"] = stack.compose_file.read_text(encoding="utf-8")
    committed = run(["git", "ls-files", "-z"], timeout=30).stdout.split("\0")
    for name in filter(None, committed):
        path = ROOT / name
        if path.is_file():
            places[f"committed {name}"] = path.read_bytes().decode("utf-8", errors="replace")
    assert len(places) > 50

    hits = {place: found for place, text in places.items() if (found := _occurrences(text, stack.secrets))}
    assert hits == {}, f"secrets found in: {hits}"

    # The search can find them: the secrets are where they belong, in the containers' secret files.
    node = f"{stack.name}-{stack.deployment.nodes[0].name}-1"
    inside = run(["docker", "exec", node, "cat", "/run/secrets/redis-admin-password"], timeout=30).stdout
    assert _occurrences(inside, stack.secrets) == ["REDIS_ADMIN_PASSWORD"]
    exporter = run(["docker", "inspect", f"{stack.name}-redis-exporter-1"], timeout=30).stdout
    assert "--redis.password-file=/run/secrets/redis-exporter-password-map" in exporter


def _secret_in(container: str, name: str) -> str | None:
    """/run/secrets/NAME of a container (running or not), read through the engine; None when it has none."""
    copied = subprocess.run(["docker", "cp", f"{container}:/run/secrets/{name}", "-"], capture_output=True,
                            timeout=30, check=False)
    if copied.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
        member = archive.getmember(name)
        assert member.mode & 0o777 == 0o444 and member.uid == 0, (container, name, oct(member.mode), member.uid)
        extracted = archive.extractfile(member)
        assert extracted is not None
        return extracted.read().decode()


def _signs_in(port: int, user: str, password: str) -> bool:
    try:
        with Redis(host="127.0.0.1", port=port, username=user, password=password,
                   retry=Retry(NoBackoff(), 0), socket_timeout=5) as client:
            return bool(client.ping())
    except NoPermissionError:
        return True  # signed in; the user may not PING
    except AuthenticationError:
        return False


def test_rotate_every_password_while_a_client_keeps_writing(secure_stack: SecureStack) -> None:
    """`make rotate-password SECRETS=all` on the running stack: the replication, sentinel, exporter, admin and
    application passwords in turn. The client sees no failed command; afterwards only the new passwords sign in,
    every container's secret files hold them (the exited init service's too), the replica links and the sentinels
    work when forced to reconnect, nothing failed over, the exporter scrapes, and a restarted container keeps
    the new password."""
    stack = secure_stack
    spec = stack.deployment.spec
    files = {kind: acl.secret_name(kind, spec) for kind in acl.password_kinds(spec)}
    assert set(files) == {"password", "admin", "exporter", "replication", "sentinel"}
    old = {kind: (stack.secrets_dir / name).read_text(encoding="utf-8").strip() for kind, name in files.items()}
    password_file = stack.secrets_dir / files["password"]
    first = stack.deployment.nodes[0]
    sentinel_port = spec.sentinels.base_port
    with Redis(host="127.0.0.1", port=sentinel_port, username="admin", password=old["admin"],
               decode_responses=True) as sentinel:
        primary_before = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.sentinels.master_name)
    cluster = RedisCluster(
        host="127.0.0.1", port=first.port, credential_provider=PasswordFile(password_file),
        address_remap=_remap(stack), decode_responses=True, socket_timeout=5,
    )
    started = time.monotonic()
    try:
        with writing(cluster, password_file, prefix="rotate", budget_s=240) as tally:
            env = stack.env_without_secrets() | {
                "CACHE_CLUSTER_SECRETS_DIR": str(stack.secrets_dir), "CACHE_CLUSTER_ROTATE_GRACE": "3",
            }
            log("running scripts/rotate-password.sh SPEC all while a client writes")
            rotated = run(["bash", "scripts/rotate-password.sh", str(SPEC.relative_to(ROOT)), "all"], timeout=300,
                          env=env)
            assert rotated.returncode == 0, rotated.stdout + rotated.stderr
            time.sleep(0.5)
    finally:
        cluster.close()
    writes, failures = tally.writes, tally.failures
    log(f"rotated every password in {time.monotonic() - started:.1f}s; {writes} writes, {len(failures)} failed")
    new = {kind: (stack.secrets_dir / name).read_text(encoding="utf-8").strip() for kind, name in files.items()}
    output = rotated.stdout + rotated.stderr
    assert [kind for kind in files if new[kind] == old[kind]] == []
    assert [kind for kind in files if old[kind] in output or new[kind] in output] == []
    assert failures == [], failures[:5]
    assert writes > 200, f"the client wrote only {writes} times"

    # Every container's secret files hold the new passwords, the exited init service's included; the
    # exporter's map is the one `render secrets` builds from the new exporter password.
    expected = {name: new[kind] for kind, name in files.items()}
    expected[acl.secret_name(acl.EXPORTER_MAP, spec)] = (
        stack.secrets_dir / acl.secret_name(acl.EXPORTER_MAP, spec)).read_text(encoding="utf-8")
    assert new["exporter"] in expected[acl.secret_name(acl.EXPORTER_MAP, spec)]
    found = 0
    for container in stack.containers():
        for name, value in expected.items():
            inside = _secret_in(container, name)
            if inside is not None:
                assert inside.strip() == value.strip(), (container, name)
                found += 1
    assert found > 40, found

    not_redis = (spec.exporter.name, spec.monitoring.prometheus.name)
    published = {owned.owner: owned.port for owned in service_ports(spec) if not owned.bus}
    redis_ports = [port for service, port in published.items() if service not in not_redis]
    data_ports = [port for service, port in published.items()
                  if not service.startswith(spec.sentinels.name_prefix) and service not in not_redis]
    sentinel_ports = [port for service, port in published.items() if service.startswith(spec.sentinels.name_prefix)]
    where = {"replication": data_ports, "sentinel": [spec.fallback.primary_port, spec.fallback.replica_port,
                                                     *sentinel_ports]}
    for kind in files:
        user = "app" if kind == "password" else kind
        ports = where.get(kind, redis_ports)
        assert [_signs_in(port, user, old[kind]) for port in ports] == [False] * len(ports), kind
        assert [_signs_in(port, user, new[kind]) for port in ports] == [True] * len(ports), kind

    def admin(port: int) -> Redis:
        return Redis(host="127.0.0.1", port=port, username="admin", password=new["admin"], decode_responses=True,
                     socket_timeout=5)

    # The replica links reconnect with the new masterauth.
    replicas = [port for port in data_ports if admin(port).info("replication")["role"] == "slave"]
    assert len(replicas) == 4, replicas
    for port in replicas:
        assert admin(port).execute_command("CLIENT", "KILL", "TYPE", "master") == 1, f"{port}: no master link to cut"

    def linked() -> tuple[bool, str]:
        states = {port: admin(port).info("replication")["master_link_status"] for port in replicas}
        return all(state == "up" for state in states.values()), str(states)

    wait_for("every replica linked again with the new replication password", linked, deadline_s=30)
    # The sentinels reconnect with the new auth-pass / sentinel-pass, see the same primary, and never failed over.
    for port in [spec.fallback.primary_port, spec.fallback.replica_port, *sentinel_ports]:
        cut = admin(port).execute_command("CLIENT", "KILL", "USER", "sentinel")
        # The replica is known to the sentinels only after their next INFO of the primary (every 10 s).
        assert cut >= 2 or port == spec.fallback.replica_port, f"{port}: only {cut} sentinel connections to cut"

    def sentinels_agree() -> tuple[bool, str]:
        seen = []
        for port in sentinel_ports:
            client = admin(port)
            master = client.execute_command("SENTINEL", "MASTER", spec.sentinels.master_name)
            pairs = master.items() if isinstance(master, dict) else zip(master[::2], master[1::2], strict=True)
            fields = {str(key): str(value) for key, value in pairs}
            primary = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.sentinels.master_name)
            seen.append((fields["flags"], int(fields["last-ok-ping-reply"]) < 2000, fields["num-other-sentinels"],
                         fields["config-epoch"], client.info("sentinel")["sentinel_tilt"], primary == primary_before))
        return seen == [("master", True, "2", "0", 0, True)] * len(sentinel_ports), str(seen)

    time.sleep(1.5)
    wait_for("every sentinel answering with the new passwords, same primary, no TILT", sentinels_agree,
             deadline_s=20)

    with urllib.request.urlopen(f"http://127.0.0.1:{spec.exporter.port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert "\nredis_up 1\n" in metrics

    replica = stack.deployment.nodes[-1]
    log(f"restarting {replica.name}: its entrypoint must read the new passwords from its secret files")
    restarted = run(["docker", "restart", f"{stack.name}-{replica.name}-1"], timeout=60)
    assert restarted.returncode == 0, restarted.stderr

    def accepts_the_new_password() -> tuple[bool, str]:
        try:
            return _signs_in(replica.port, "app", new["password"]), "refused"
        except RedisConnectionError as error:
            return False, str(error)  # still starting: the published port resets the connection

    wait_for(f"{replica.name} to accept the new password after a restart", accepts_the_new_password, deadline_s=30)
    assert not _signs_in(replica.port, "app", old["password"])
    wait_for(f"{replica.name} linked to its master with the new replication password",
             lambda: (admin(replica.port).info("replication").get("master_link_status") == "up", "down"),
             deadline_s=30)

"""Real redis-server / redis-sentinel / redis_exporter processes on 127.0.0.1, started from the configs the
project renders (`conf.render_*`), on free ports. Used by the integration tests and by bench/formation.py.

Nodes announce hostnames such as `redis-node-1`, which do not resolve on the host: the hook reaches them
through an address map `redis-node-1:<port> -> 127.0.0.1:<port>`, exactly as it does for Docker from the host.
Every process is started by us and killed by its Popen (never by name); `atexit` is a last resort.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cache_cluster import acl, conf, tls
from cache_cluster.hook.connect import tls_arguments
from cache_cluster.hook.endpoints import AddressMap, Targets, targets_from_spec
from cache_cluster.plan import plan
from cache_cluster.spec import BUS_PORT_OFFSET, ClusterSpec

BINARIES = ("redis-server", "redis-sentinel", "redis-cli", "prometheus-redis-exporter")
START_TIMEOUT = 15.0
_LIVE: set[Server] = set()


def missing_binaries(names: Sequence[str] = BINARIES) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def binaries_present(names: Sequence[str]) -> bool:
    """For the benchmarks: False, after saying on stderr what is missing and how to install it."""
    missing = missing_binaries(names)
    if missing:
        print(f"missing: {', '.join(missing)}; run scripts/install-system.sh", file=sys.stderr)
    return not missing


def new_password() -> str:
    return "itest-" + secrets.token_hex(12)


def new_passwords() -> dict[str, str]:
    """A password for each built-in user's secret kind (acl.py): password (the application's), admin, ..."""
    kinds = ("password", acl.ADMIN_USER, acl.EXPORTER_USER, acl.REPLICATION_USER, acl.SENTINEL_USER)
    return {kind: f"itest-{kind}-{secrets.token_hex(10)}" for kind in kinds}


# ---------------------------------------------------------------------------------------------------- ports
_TAKEN: set[int] = set()


def _port_free(port: int) -> bool:
    if port in _TAKEN or not 1024 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


LOWEST_PORT = 10000


def ephemeral_from(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """The first port the kernel hands out as the local end of outgoing connections (Linux: 32768)."""
    try:
        return int(path.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def harness_ports() -> range:
    """Every port free_block may hand out (the exporters' password maps key each of them)."""
    return range(LOWEST_PORT, min(ephemeral_from(), 65536))


def free_block(count: int, *, bus: bool = False) -> int:
    """First port of `count` contiguous free ports (and their +10000 bus ports when `bus`), reserved in-process.

    Every port, bus ports included, stays below the kernel's ephemeral range: a server restarted on its port
    (`replace_node`, a drill) must find it free, and a port in that range may meanwhile be the local end of any
    outgoing connection (seen: a restarted node's bus port taken, "bind: Address already in use"). Other
    engineers' and tests' servers may be running, so every candidate is checked by binding it."""
    top = min(ephemeral_from(), 65536) - (BUS_PORT_OFFSET if bus else 0) - count
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(500):
        base = rng.randrange(LOWEST_PORT, top)
        ports = list(range(base, base + count))
        if bus:
            ports += [port + BUS_PORT_OFFSET for port in ports]
        if all(_port_free(port) for port in ports):
            _TAKEN.update(ports)
            return base
    raise RuntimeError(f"no block of {count} free ports found")


# ---------------------------------------------------------------------------------------------------- servers
@dataclass(eq=False)
class Server:
    name: str
    port: int
    argv: list[str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        _LIVE.add(self)

    def stop(self) -> None:
        """SIGKILL by pid: a crash, as a lost container would be."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        _LIVE.discard(self)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop_all_live() -> None:
    for server in list(_LIVE):
        server.stop()


atexit.register(_stop_all_live)


def wait_redis(
    server: Server,
    password: str | None,
    *,
    username: str | None = None,
    timeout: float = START_TIMEOUT,
    tls_files: tls.ClientFiles | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis(
        host="127.0.0.1",
        port=server.port,
        username=username,
        password=password,
        socket_timeout=1,
        socket_connect_timeout=1,
        **tls_arguments(tls_files),
    )
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.AuthenticationError:
                return  # up, with another password: the test meant it
            except redis.RedisError:
                pass
            if not server.running:
                raise RuntimeError(f"{server.name} exited:\n{server.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{server.name} did not answer on {server.port} within {timeout} s")
            time.sleep(0.01)
    finally:
        client.close()


def wait_http(server: Server, *, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=1):
                return
        except OSError:
            if not server.running:
                raise RuntimeError(f"{server.name} exited:\n{server.tail()}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{server.name} did not answer on {server.port}") from None
            time.sleep(0.02)


def host_copy(rendered: str, data_dir: Path) -> str:
    """The rendered config with its `dir` pointed at a test directory.

    redis-server changes into `dir` while it reads the file, so the rendered `dir /data` (the container's
    volume) fails on the host before a `--dir` argument could override it."""
    return "\n".join(
        f"dir {data_dir}" if line == f"dir {conf.DATA_DIR}" else line for line in rendered.splitlines()
    ) + "\n"


# ---------------------------------------------------------------------------------------------------- deployment
@dataclass
class TierPorts:
    primary: int
    replica: int
    sentinel_base: int
    exporter: int

    @classmethod
    def allocate(cls, sentinels: int = 3) -> TierPorts:
        return cls(free_block(1), free_block(1), free_block(sentinels), free_block(1))


def make_spec(
    *,
    masters: int = 3,
    replicas: int = 1,
    base_port: int,
    tier: TierPorts | None = None,
    node_timeout_ms: int = 1000,
    **overrides: Any,
) -> ClusterSpec:
    """The project's spec with test ports; `tier=None` turns the fallback tier and the exporter off."""
    data: dict[str, Any] = {
        "environment": "dev",
        "topology": {
            "masters": masters,
            "replicas_per_master": replicas,
            "base_port": base_port,
            "node_timeout_ms": node_timeout_ms,
        },
    }
    if tier is None:
        data["fallback"] = {"enabled": False}
        data["exporter"] = {"enabled": False}
    else:
        data["fallback"] = {"primary_port": tier.primary, "replica_port": tier.replica}
        data["sentinels"] = {"base_port": tier.sentinel_base}
        data["exporter"] = {"port": tier.exporter}
    data.update(overrides)
    return ClusterSpec.model_validate(data)


class Deployment:
    """Processes for one spec: its cluster nodes, and (with a tier) the fallback pair, sentinels, exporter.

    Every server gets the users the entrypoints would write (acl.auth_directives, with the values instead of
    the shell references); `password` is the admin user's (the hook's), `passwords` every kind's."""

    def __init__(
        self,
        root: Path,
        spec: ClusterSpec,
        passwords: dict[str, str],
        *,
        with_tier: bool = True,
        tls_dir: Path | None = None,
    ) -> None:
        """`tls_dir`: with spec.tls.enabled, a directory holding the TLS files under their /run/secrets names
        (redis-tls-ca, ...); the rendered configs' /run/secrets paths point there."""
        if spec.tls.enabled and tls_dir is None:
            raise ValueError("spec.tls.enabled needs tls_dir")
        self.tls_dir = tls_dir
        self.root = root
        self.spec = spec
        self.passwords = passwords
        self.password = passwords[acl.ADMIN_USER]
        self.deployment = plan(spec)
        self.root.mkdir(parents=True, exist_ok=True)
        self.auth_include = self._auth_include("cluster-node")
        self.fallback_auth_include = self._auth_include("fallback")
        self.nodes: dict[str, Server] = {}
        self.tier: dict[str, Server] = {}
        for node in self.deployment.nodes:
            self.nodes[node.name] = self._node_server(node.name, node.port)
        if with_tier and spec.fallback.enabled:
            self._add_tier()

    # -- building
    def _host_paths(self, text: str) -> str:
        """The TLS file paths of a rendered config, as they are on this host."""
        if self.tls_dir is None:
            return text
        return text.replace(f"{acl.SECRETS_DIR}/redis-tls-", f"{self.tls_dir}/redis-tls-")

    @property
    def tls_files(self) -> tls.ClientFiles | None:
        """The client's files (CA, client certificate and key) on this host; None without TLS."""
        files = tls.client_files(self.spec)
        if files is None or self.tls_dir is None:
            return None
        return tls.ClientFiles(
            ca=self._host_paths(files.ca),
            cert=None if files.cert is None else self._host_paths(files.cert),
            key=None if files.key is None else self._host_paths(files.key),
        )

    def _auth_include(self, role: acl.ServerRole) -> Path:
        path = self.root / f"auth-{role}.conf"
        path.write_text("\n".join(acl.auth_directives(self.spec, role, self.passwords.__getitem__)) + "\n")
        path.chmod(0o600)
        return path

    def _node_server(self, name: str, port: int) -> Server:
        workdir = self.root / name
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "redis.conf"
        rendered = conf.render_node_conf(self.spec, hostname=name, port=port, auth_include=str(self.auth_include))
        config.write_text(self._host_paths(host_copy(rendered, workdir / "data")))
        (workdir / "data").mkdir(exist_ok=True)
        argv = ["redis-server", str(config), "--bind", "127.0.0.1", "--dir", str(workdir / "data"),
                "--daemonize", "no"]
        return Server(name, port, argv, workdir)

    def _add_tier(self) -> None:
        spec, fallback = self.spec, self.spec.fallback
        for name, port, replica_of in (
            (fallback.primary_name, fallback.primary_port, None),
            (fallback.replica_name, fallback.replica_port, (fallback.primary_name, fallback.primary_port)),
        ):
            workdir = self.root / name
            (workdir / "data").mkdir(parents=True, exist_ok=True)
            config = workdir / "redis.conf"
            rendered = conf.render_fallback_conf(
                spec, hostname=name, port=port, replica_of=replica_of, auth_include=str(self.fallback_auth_include)
            )
            config.write_text(self._host_paths(host_copy(rendered, workdir / "data")))
            argv = ["redis-server", str(config), "--bind", "127.0.0.1", "--dir", str(workdir / "data"),
                    "--daemonize", "no", "--replica-announce-ip", "127.0.0.1"]
            if replica_of is not None:
                # The rendered `replicaof redis-fallback <port>` names a host that resolves only in Docker.
                argv += ["--replicaof", "127.0.0.1", str(fallback.primary_port)]
            self.tier[name] = Server(name, port, argv, workdir)
        sentinels = spec.sentinels
        for index in range(sentinels.count):
            name, port = f"{sentinels.name_prefix}-{index + 1}", sentinels.base_port + index
            workdir = self.root / name
            workdir.mkdir(parents=True, exist_ok=True)
            rendered = conf.render_sentinel_conf(spec, hostname=name, port=port)
            lines = []
            for line in rendered.splitlines():
                # Test-only rewrite: the monitored primary and our own announced address must be 127.0.0.1,
                # because the Docker service names in the rendered file do not resolve on the host.
                if line.startswith(f"sentinel monitor {sentinels.master_name} "):
                    line = (f"sentinel monitor {sentinels.master_name} 127.0.0.1 {fallback.primary_port} "
                            f"{sentinels.quorum}")
                elif line.startswith("sentinel announce-ip "):
                    line = "sentinel announce-ip 127.0.0.1"
                lines.append(line)
            # What the sentinel entrypoint appends at container start (conf._auth_writer).
            lines += acl.auth_directives(spec, "sentinel", self.passwords.__getitem__)
            config = workdir / "sentinel.conf"
            config.write_text(self._host_paths("\n".join(lines) + "\n"))
            config.chmod(0o600)
            argv = ["redis-sentinel", str(config), "--bind", "127.0.0.1", "--dir", str(workdir)]
            self.tier[name] = Server(name, port, argv, workdir)
        if spec.exporter.enabled:
            exporter = spec.exporter
            workdir = self.root / exporter.name
            workdir.mkdir(parents=True, exist_ok=True)
            # The plan's command, with the addresses this exporter (on the host) reaches; the map file keys
            # every target it may be asked to scrape, as the container's does.
            password_map = workdir / "password-map.json"
            scheme = tls.scheme(spec)
            addresses = [f"{scheme}://127.0.0.1:{port}" for port in harness_ports()]
            password_map.write_text(acl.exporter_password_map(addresses, self.passwords[acl.EXPORTER_USER]))
            password_map.chmod(0o600)
            planned = self.deployment.service(exporter.name).command
            argv = [
                "prometheus-redis-exporter",
                f"--web.listen-address=127.0.0.1:{exporter.port}",
                f"--redis.addr={scheme}://127.0.0.1:{fallback.primary_port}",
                "--include-system-metrics=false",
                f"--redis.user={acl.EXPORTER_USER}",
                f"--redis.password-file={password_map}",
                "--config-command=-",
                # The plan's TLS flags (none without TLS), with this host's paths.
                *(self._host_paths(option) for option in planned if option.startswith("--tls-")),
            ]
            self.tier[exporter.name] = Server(exporter.name, exporter.port, argv, workdir)

    # -- running
    def start(self, *, nodes: bool = True, tier: bool = True) -> Deployment:
        servers = [*(self.nodes.values() if nodes else ()), *(self.tier.values() if tier else ())]
        for server in servers:
            server.start()
        for server in servers:
            self.wait(server)
        return self

    def wait(self, server: Server) -> None:
        if server.name == self.spec.exporter.name:
            wait_http(server)
        else:
            wait_redis(server, self.password, username=acl.ADMIN_USER, tls_files=self.tls_files)

    def stop(self) -> None:
        for server in [*self.nodes.values(), *self.tier.values()]:
            server.stop()

    def replace_node(self, name: str) -> None:
        """A lost container replaced by an empty one: kill, wipe the data dir, start fresh on the same port."""
        server = self.nodes[name]
        server.stop()
        data = server.workdir / "data"
        shutil.rmtree(data)
        data.mkdir()
        server.start()
        self.wait(server)

    # -- addressing
    @property
    def address_map(self) -> dict[str, str]:
        return {address: f"127.0.0.1:{address.rsplit(':', 1)[1]}" for address in self.deployment.host_address_map()}

    @property
    def exporter_targets(self) -> tuple[str, ...]:
        """The plan's targets, as this exporter process (on the host) can reach them."""
        return tuple(
            f"{tls.scheme(self.spec)}://127.0.0.1:" + target.rsplit(":", 1)[1]
            for target in self.deployment.exporter_targets
        )

    def targets(self) -> Targets:
        return targets_from_spec(
            self.spec,
            address_map=AddressMap(self.address_map),
            exporter_targets=self.exporter_targets,
            tls=self.tls_files,
        )

    def node_port(self, name: str) -> int:
        return self.nodes[name].port

    def client(self, name: str) -> redis.Redis:
        server = self.nodes.get(name) or self.tier[name]
        return redis.Redis(
            port=server.port,
            username=acl.ADMIN_USER,
            password=self.password,
            decode_responses=True,
            socket_timeout=5,
            **tls_arguments(self.tls_files),
        )

    def client_as(self, name: str, username: str, password: str) -> redis.Redis:
        """A client signed in as `username`; a refused sign-in raises at once (no retries with back-off)."""
        server = self.nodes.get(name) or self.tier[name]
        return redis.Redis(
            port=server.port,
            username=username,
            password=password,
            decode_responses=True,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
            **tls_arguments(self.tls_files),
        )

    def address_map_arg(self) -> str:
        return ",".join(f"{source}={target}" for source, target in self.address_map.items())


@contextlib.contextmanager
def running(
    root: Path, spec: ClusterSpec, passwords: dict[str, str], *, with_tier: bool = True, tls_dir: Path | None = None
) -> Iterator[Deployment]:
    deployment = Deployment(root, spec, passwords, with_tier=with_tier, tls_dir=tls_dir)
    try:
        yield deployment.start()
    finally:
        deployment.stop()

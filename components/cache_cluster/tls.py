"""TLS on the wire (spec.tls): which files each process needs, where they are, and what the configs say. Pure.

With tls.enabled every Redis server and sentinel listens on TLS only (`port 0`, `tls-port <its port>`): clients,
replication (`tls-replication yes`), the cluster bus (`tls-cluster yes`) and the sentinels' links to the servers
and to each other. One CA signs two certificates:

- the server certificate (`tls-server-*`): every server and sentinel presents it, and uses it as its client
  certificate towards the others (replication, bus, sentinel links), so it carries both serverAuth and
  clientAuth; its names cover every service (`server_dns_names`) plus localhost / 127.0.0.1 for published ports;
- the client certificate (`tls-client-*`): the hook, the exporter and applications present it when the servers
  ask for one (`tls.client_certificates`).

The files are mounted like the passwords (plan.py's `secret_files`, /run/secrets/<name>); the keys are secrets,
the certificates are not, but travel the same way so that every target has one mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import addresses
from .acl import SECRETS_DIR, SecretKind
from .environment import TLS_ENV, secret_file_name
from .spec import WILDCARD_ADDRESSES, ClusterSpec

CA = "tls-ca"
SERVER_CERT = "tls-server-cert"
SERVER_KEY = "tls-server-key"
CLIENT_CERT = "tls-client-cert"
CLIENT_KEY = "tls-client-key"
KINDS: tuple[SecretKind, ...] = (CA, SERVER_CERT, SERVER_KEY, CLIENT_CERT, CLIENT_KEY)
# The private keys; the certificates are public.
KEY_KINDS: tuple[SecretKind, ...] = (SERVER_KEY, CLIENT_KEY)
_AUTH_CLIENTS = {"required": "yes", "optional": "optional", "none": "no"}


def path(kind: SecretKind) -> str:
    """Where a TLS file is in every container: /run/secrets/redis-tls-ca, ..."""
    return f"{SECRETS_DIR}/{secret_file_name(TLS_ENV[kind])}"


@dataclass(frozen=True)
class ClientFiles:
    """What a client presents and trusts: the CA always, its own certificate and key when it has one."""

    ca: str
    cert: str | None = None
    key: str | None = None


def server_kinds(spec: ClusterSpec) -> tuple[SecretKind, ...]:
    """The TLS files a server or sentinel needs (none without TLS)."""
    return (CA, SERVER_CERT, SERVER_KEY) if spec.tls.enabled else ()


def client_kinds(spec: ClusterSpec) -> tuple[SecretKind, ...]:
    """The TLS files a client of the deployment (hook, exporter, application) needs."""
    if not spec.tls.enabled:
        return ()
    if spec.tls.client_certificates == "none":
        return (CA,)
    return (CA, CLIENT_CERT, CLIENT_KEY)


def client_files(spec: ClusterSpec) -> ClientFiles | None:
    """The client's files as mounted in a container (None without TLS)."""
    kinds = client_kinds(spec)
    if not kinds:
        return None
    with_cert = CLIENT_CERT in kinds
    return ClientFiles(
        ca=path(CA), cert=path(CLIENT_CERT) if with_cert else None, key=path(CLIENT_KEY) if with_cert else None
    )


def scheme(spec: ClusterSpec) -> str:
    """`rediss` with TLS (redis-py, the exporter and most clients read it as "TLS on"), else `redis`."""
    return "rediss" if spec.tls.enabled else "redis"


def listen_directives(spec: ClusterSpec, port: int, *, cluster_bus: bool) -> list[str]:
    """The `port` line of a server or sentinel: the port itself, or TLS on it and the plain port off."""
    if not spec.tls.enabled:
        return [f"port {port}"]
    directives = [
        "port 0",
        f"tls-port {port}",
        f"tls-cert-file {path(SERVER_CERT)}",
        f"tls-key-file {path(SERVER_KEY)}",
        f"tls-ca-cert-file {path(CA)}",
        f"tls-auth-clients {_AUTH_CLIENTS[spec.tls.client_certificates]}",
        # Replicas to their master, sentinels to servers and to each other.
        "tls-replication yes",
    ]
    if cluster_bus:
        directives.append("tls-cluster yes")
    return directives


def redis_cli_options(spec: ClusterSpec) -> str:
    """redis-cli's TLS options inside a server's container (the server's certificate doubles as a client's)."""
    if not spec.tls.enabled:
        return ""
    return f" --tls --cacert {path(CA)} --cert {path(SERVER_CERT)} --key {path(SERVER_KEY)}"


def server_dns_names(spec: ClusterSpec) -> tuple[str, ...]:
    """Every name the server certificate must cover: each server's and sentinel's service name and the host it
    announces (a DNS name on Kubernetes), localhost, and the spec's extra names."""
    found: list[str] = []
    for address in addresses.servers(spec):
        found += [address.name, address.host]
    found += ["localhost", *spec.tls.extra_dns_names]
    return tuple(dict.fromkeys(found))


def server_ip_addresses(spec: ClusterSpec) -> tuple[str, ...]:
    """The IP addresses the server certificate covers: loopback (published ports) and the publish address."""
    published = spec.network.publish_address
    extra = [] if published in WILDCARD_ADDRESSES else [published]
    return tuple(dict.fromkeys(["127.0.0.1", "::1", *extra]))

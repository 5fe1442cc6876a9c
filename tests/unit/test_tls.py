"""tls.enabled: the servers listen on TLS only, every process gets its files, the clients are told how to dial.

Expectations are written out literally: the directives a Redis 7 server needs for TLS on clients, replication
and the cluster bus (redis.io/docs/management/security/encryption), and the file paths under /run/secrets.
"""

from __future__ import annotations

from typing import Any

import pytest

from cache_cluster import conf, tls
from cache_cluster.contract import env_contract
from cache_cluster.plan import plan
from cache_cluster.spec import ClusterSpec


def spec_of(**fields: Any) -> ClusterSpec:
    return ClusterSpec.model_validate(fields)


TLS_SPEC = spec_of(tls={"enabled": True})
SERVER_TLS = [
    "port 0",
    "tls-port 7001",
    "tls-cert-file /run/secrets/redis-tls-server-cert",
    "tls-key-file /run/secrets/redis-tls-server-key",
    "tls-ca-cert-file /run/secrets/redis-tls-ca",
    "tls-auth-clients yes",
    "tls-replication yes",
]


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_a_cluster_node_listens_on_tls_only_with_the_bus_and_replication_on_tls() -> None:
    rendered = lines(conf.render_node_conf(TLS_SPEC, hostname="redis-node-1", port=7001))
    assert rendered[: len(SERVER_TLS) + 1] == [*SERVER_TLS, "tls-cluster yes"]
    assert "port 7001" not in rendered


def test_without_tls_the_plain_port_and_no_tls_directive() -> None:
    rendered = lines(conf.render_node_conf(spec_of(), hostname="redis-node-1", port=7001))
    assert rendered[0] == "port 7001"
    assert not [line for line in rendered if line.startswith("tls-")]


def test_the_fallback_server_has_tls_but_no_cluster_bus() -> None:
    rendered = lines(conf.render_fallback_conf(TLS_SPEC, hostname="redis-fallback", port=6380, replica_of=None))
    assert rendered[:7] == [line.replace("7001", "6380") for line in SERVER_TLS]
    assert "tls-cluster yes" not in rendered


def test_a_sentinel_listens_on_tls_and_dials_servers_and_peers_over_tls() -> None:
    rendered = lines(conf.render_sentinel_conf(TLS_SPEC, hostname="redis-sentinel-1", port=26379))
    assert rendered[:7] == [line.replace("7001", "26379") for line in SERVER_TLS]


@pytest.mark.parametrize(("mode", "directive"), [("optional", "optional"), ("none", "no"), ("required", "yes")])
def test_client_certificates_map_to_tls_auth_clients(mode: str, directive: str) -> None:
    spec = spec_of(tls={"enabled": True, "client_certificates": mode})
    assert f"tls-auth-clients {directive}" in lines(conf.render_node_conf(spec, hostname="n", port=7001))


def test_health_checks_and_the_rejoin_loop_use_redis_cli_over_tls() -> None:
    deployment = plan(TLS_SPEC)
    tls_cli = (
        "--tls --cacert /run/secrets/redis-tls-ca --cert /run/secrets/redis-tls-server-cert "
        "--key /run/secrets/redis-tls-server-key"
    )
    check = deployment.service("redis-node-1").healthcheck
    assert check is not None
    assert check.test == (
        "CMD-SHELL",
        f'[ "$(redis-cli --no-auth-warning --user exporter --askpass {tls_cli} -p 7001 ping '
        '< /run/secrets/redis-exporter-password)" = PONG ]',
    )
    entrypoint = deployment.service("redis-node-1").files["/etc/cache-cluster/entrypoint.sh"]
    assert f"cli() {{ redis-cli --no-auth-warning --user admin --askpass {tls_cli} \"$@\"" in entrypoint


def test_servers_and_sentinels_mount_the_server_files_clients_the_client_files() -> None:
    deployment = plan(TLS_SPEC)
    server_files = {
        "/run/secrets/redis-tls-ca": "tls-ca",
        "/run/secrets/redis-tls-server-cert": "tls-server-cert",
        "/run/secrets/redis-tls-server-key": "tls-server-key",
    }
    client_files = {
        "/run/secrets/redis-tls-ca": "tls-ca",
        "/run/secrets/redis-tls-client-cert": "tls-client-cert",
        "/run/secrets/redis-tls-client-key": "tls-client-key",
    }
    for name in ("redis-node-1", "redis-fallback", "redis-fallback-replica", "redis-sentinel-2"):
        service = deployment.service(name)
        assert {path: kind for path, kind in service.secret_files.items() if kind.startswith("tls-")} == server_files
    exporter = deployment.service("redis-exporter")
    assert {path: kind for path, kind in exporter.secret_files.items() if kind.startswith("tls-")} == client_files
    assert deployment.init is not None
    init = deployment.init.service
    assert {path: kind for path, kind in init.secret_files.items() if kind.startswith("tls-")} == client_files


def test_the_exporter_dials_rediss_with_its_client_certificate() -> None:
    deployment = plan(TLS_SPEC)
    command = deployment.service("redis-exporter").command
    assert command[0] == "--redis.addr=rediss://redis-node-1:7001"
    assert command[-3:] == (
        "--tls-ca-cert-file=/run/secrets/redis-tls-ca",
        "--tls-client-cert-file=/run/secrets/redis-tls-client-cert",
        "--tls-client-key-file=/run/secrets/redis-tls-client-key",
    )
    assert deployment.exporter_targets[0] == "rediss://redis-node-1:7001"
    assert deployment.exporter_targets[-1] == "rediss://redis-sentinel-3:26381"


def test_without_client_certificates_the_exporter_and_hook_only_trust_the_ca() -> None:
    deployment = plan(spec_of(tls={"enabled": True, "client_certificates": "none"}))
    assert deployment.service("redis-exporter").command[-1] == "--tls-ca-cert-file=/run/secrets/redis-tls-ca"
    assert deployment.init is not None
    assert deployment.init.service.command[-2:] == ("--tls-ca-cert", "/run/secrets/redis-tls-ca")


def test_the_init_service_runs_the_hook_over_tls() -> None:
    deployment = plan(TLS_SPEC)
    assert deployment.init is not None
    assert deployment.init.service.command[-6:] == (
        "--tls-ca-cert",
        "/run/secrets/redis-tls-ca",
        "--tls-cert",
        "/run/secrets/redis-tls-client-cert",
        "--tls-key",
        "/run/secrets/redis-tls-client-key",
    )


def test_the_server_certificate_names_every_server_and_sentinel() -> None:
    assert tls.server_dns_names(TLS_SPEC) == (
        "redis-node-1",
        "redis-node-2",
        "redis-node-3",
        "redis-node-4",
        "redis-node-5",
        "redis-node-6",
        "redis-fallback",
        "redis-fallback-replica",
        "redis-sentinel-1",
        "redis-sentinel-2",
        "redis-sentinel-3",
        "localhost",
    )
    assert tls.server_ip_addresses(TLS_SPEC) == ("127.0.0.1", "::1")


def test_on_kubernetes_the_certificate_names_the_pods_dns_names() -> None:
    spec = spec_of(
        target="kubernetes", environment="dev", tls={"enabled": True, "extra_dns_names": ["cache.example.com"]}
    )
    names = tls.server_dns_names(spec)
    assert "redis-node-1.redis-node-headless.cache.svc.cluster.local" in names
    assert "redis-fallback.cache.svc.cluster.local" in names
    assert "redis-sentinel-3.redis-sentinel-headless.cache.svc.cluster.local" in names
    assert names[-2:] == ("localhost", "cache.example.com")


def test_the_env_contract_tells_applications_to_use_tls_and_where_the_files_are() -> None:
    public = env_contract(TLS_SPEC).public
    assert public["REDIS_TLS"] == "true"
    assert public["REDIS_TLS_CA_FILE"] == "/run/secrets/redis-tls-ca"
    assert public["REDIS_TLS_CERT_FILE"] == "/run/secrets/redis-tls-client-cert"
    assert public["REDIS_TLS_KEY_FILE"] == "/run/secrets/redis-tls-client-key"
    without = env_contract(spec_of()).public
    assert not [name for name in without if name.startswith("REDIS_TLS")]


def test_generated_certificates_chain_to_the_ca_with_the_names_and_usages_written_out() -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from cache_cluster import certs

    ca = certs.new_ca(TLS_SPEC)
    server = certs.server_certificate(ca, TLS_SPEC)
    client = certs.client_certificate(ca, TLS_SPEC)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    server_cert = x509.load_pem_x509_certificate(server.cert_pem.encode())
    client_cert = x509.load_pem_x509_certificate(client.cert_pem.encode())
    server_cert.verify_directly_issued_by(ca_cert)
    client_cert.verify_directly_issued_by(ca_cert)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert certs.covered_names(server.cert_pem) == {
        "redis-node-1", "redis-node-2", "redis-node-3", "redis-node-4", "redis-node-5", "redis-node-6",
        "redis-fallback", "redis-fallback-replica", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3",
        "localhost", "127.0.0.1", "::1",
    }
    assert list(server_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert list(client_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert certs.server_certificate_is_current(server.cert_pem, TLS_SPEC)
    more = spec_of(tls={"enabled": True, "extra_dns_names": ["cache.internal"]})
    assert not certs.server_certificate_is_current(server.cert_pem, more)
    assert "PRIVATE KEY" in server.key_pem and "PRIVATE KEY" not in server.cert_pem


def test_the_hook_takes_pem_text_from_the_environment_into_private_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import stat
    from pathlib import Path

    from cache_cluster.cli.hook import HookOptions

    monkeypatch.setenv("REDIS_TLS_CA", "CA PEM")
    monkeypatch.setenv("REDIS_TLS_CLIENT_CERT", "CLIENT PEM")
    monkeypatch.setenv("REDIS_TLS_CLIENT_KEY", "KEY PEM")
    files = HookOptions().tls_files(TLS_SPEC)
    assert files is not None and files.cert is not None and files.key is not None
    assert Path(files.ca).read_text() == "CA PEM\n"
    assert Path(files.key).read_text() == "KEY PEM\n"
    assert stat.S_IMODE(Path(files.key).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(files.key).parent.stat().st_mode) == 0o700


def test_the_hook_says_how_to_get_missing_tls_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from cache_cluster.cli.hook import HookOptions
    from cache_cluster.errors import CacheClusterError

    monkeypatch.delenv("REDIS_TLS_CA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CacheClusterError, match=r"\.cache-cluster/tls/ca\.crt does not exist; fix: run `cache-cluster "
                       r"render tls-certs SPEC`"):
        HookOptions().tls_files(TLS_SPEC)
    with pytest.raises(CacheClusterError, match="--tls-cert and --tls-key go together"):
        HookOptions(tls_ca_cert=tmp_path, tls_cert=tmp_path).tls_files(TLS_SPEC)
    assert HookOptions().tls_files(spec_of()) is None

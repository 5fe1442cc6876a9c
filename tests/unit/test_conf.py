"""The rendered redis.conf, sentinel.conf and entrypoints: the right directives, valid sh, and never a secret."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cache_cluster import acl, conf
from cache_cluster.loader import load_spec_file
from cache_cluster.plan import DeploymentPlan, plan
from cache_cluster.spec import ClusterSpec

PASSWORD = "conf-test-password-0123456789"
ACL_RULES = "~app:* &* +@read +@write -@dangerous"


def spec_of(**fields: Any) -> ClusterSpec:
    return ClusterSpec.model_validate(fields)


@pytest.fixture(scope="module")
def secret_spec() -> ClusterSpec:
    """A spec that carries a password and ACL users: none of it may reach a rendered file."""
    return spec_of(
        auth={"password": PASSWORD, "acl_users": [{"name": "billing", "rules": ACL_RULES}, {"name": "report-reader"}]},
        memory={"container_memory_mb": 1024, "maxmemory_mb": 768, "maxmemory_policy": "allkeys-lfu"},
    )


@pytest.fixture(scope="module")
def deployment(secret_spec: ClusterSpec) -> DeploymentPlan:
    return plan(secret_spec)


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# redis.conf of a cluster node


def test_node_conf_directives(secret_spec: ClusterSpec) -> None:
    text = conf.render_node_conf(secret_spec, hostname="redis-node-2", port=7002)
    assert text.startswith(conf.HEADER)
    lines = directives(text)
    for expected in (
        "port 7002",
        "cluster-enabled yes",
        "cluster-config-file nodes.conf",
        "cluster-node-timeout 5000",
        "cluster-announce-hostname redis-node-2",
        "cluster-preferred-endpoint-type hostname",
        "cluster-require-full-coverage no",
        "maxmemory 768mb",
        "maxmemory-policy allkeys-lfu",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "dir /data",
        f"include {conf.AUTH_INCLUDE}",
    ):
        assert expected in lines, expected
    # The auth include comes last, so nothing after it can override the password.
    assert lines[-1] == f"include {conf.AUTH_INCLUDE}"
    # The password itself is never a directive here: requirepass and masterauth live in the include.
    assert not any(line.startswith(("requirepass", "masterauth", "user ")) for line in lines)


def test_node_conf_follows_the_spec() -> None:
    spec = spec_of(
        topology={"node_timeout_ms": 15000, "require_full_coverage": True, "allow_reads_when_down": True},
        persistence={"appendonly": False, "appendfsync": "always", "rdb_snapshots": True},
        memory={"maxmemory_policy": "noeviction"},
    )
    lines = directives(conf.render_node_conf(spec, hostname="redis-node-1", port=7001))
    for expected in (
        "cluster-node-timeout 15000",
        "cluster-require-full-coverage yes",
        "cluster-allow-reads-when-down yes",
        "appendonly no",
        "appendfsync always",
        "maxmemory 384mb",
        "maxmemory-policy noeviction",
    ):
        assert expected in lines, expected
    assert any(line.startswith("save 3600") for line in lines)


def test_each_planned_node_announces_its_own_name_and_port(deployment: DeploymentPlan) -> None:
    for node in deployment.nodes:
        lines = directives(deployment.service(node.name).files[f"{conf.CONFIG_DIR}/redis.conf"])
        assert f"port {node.port}" in lines
        assert f"cluster-announce-hostname {node.name}" in lines


# The fallback single Redis


def test_fallback_conf(deployment: DeploymentPlan) -> None:
    primary = directives(deployment.service("redis-fallback").files[f"{conf.CONFIG_DIR}/redis.conf"])
    replica = directives(deployment.service("redis-fallback-replica").files[f"{conf.CONFIG_DIR}/redis.conf"])
    assert "port 6380" in primary and "port 6381" in replica
    assert "replica-announce-ip redis-fallback" in primary
    assert not any(line.startswith("replicaof") for line in primary)
    assert "replicaof redis-fallback 6380" in replica
    assert "replica-read-only yes" in replica
    for lines in (primary, replica):
        assert not any(line.startswith("cluster-") for line in lines)
        assert "maxmemory 768mb" in lines
        assert lines[-1] == f"include {conf.AUTH_INCLUDE}"


# sentinel.conf


def test_sentinel_conf_monitors_the_fallback_primary(deployment: DeploymentPlan) -> None:
    for index, port in enumerate((26379, 26380, 26381), start=1):
        name = f"redis-sentinel-{index}"
        lines = directives(deployment.service(name).files[f"{conf.CONFIG_DIR}/sentinel.conf"])
        assert f"port {port}" in lines
        assert "sentinel monitor cache-fallback redis-fallback 6380 2" in lines
        assert f"sentinel announce-ip {name}" in lines
        assert "sentinel resolve-hostnames yes" in lines
        assert "sentinel announce-hostnames yes" in lines
        assert "sentinel down-after-milliseconds cache-fallback 5000" in lines
        assert "sentinel failover-timeout cache-fallback 60000" in lines
        # The auth lines are appended at start by the entrypoint, never rendered.
        assert not any("auth-pass" in line or "requirepass" in line for line in lines)


def test_sentinel_conf_quorum_and_names_follow_the_spec() -> None:
    spec = spec_of(
        sentinels={"count": 5, "quorum": 3, "master_name": "fallback-main", "down_after_ms": 2000},
        fallback={"primary_name": "cache-primary", "primary_port": 6390, "replica_port": 6391},
    )
    lines = directives(conf.render_sentinel_conf(spec, hostname="redis-sentinel-5", port=26383))
    assert "sentinel monitor fallback-main cache-primary 6390 3" in lines
    assert "sentinel down-after-milliseconds fallback-main 2000" in lines
    assert "port 26383" in lines


# Entrypoints


def test_node_entrypoint_reads_the_users_from_secret_files(secret_spec: ClusterSpec) -> None:
    script = conf.render_node_entrypoint(secret_spec, port=7003)
    assert script.startswith("#!/bin/sh\n")
    assert "set -eu" in script
    assert "umask 077" in script
    assert f"> {conf.AUTH_INCLUDE}" in script
    for line in (
        "secret_password=$(secret /run/secrets/redis-password)",
        "secret_admin=$(secret /run/secrets/redis-admin-password)",
        "secret_exporter=$(secret /run/secrets/redis-exporter-password)",
        "secret_replication=$(secret /run/secrets/redis-replication-password)",
        "secret_acl_billing=$(secret /run/secrets/redis-acl-billing-password)",
        "secret_acl_report_reader=$(secret /run/secrets/redis-acl-report-reader-password)",
        f'  "user billing reset on >${{secret_acl_billing}} {ACL_RULES}" \\',
        '  "masterauth ${secret_replication}" \\',
        # The rejoin loop signs in as admin with the password on stdin, never in argv or the environment.
        'cli() { redis-cli --no-auth-warning --user admin --askpass "$@" < /run/secrets/redis-admin-password; }',
        "(rejoin 7003 &)",
    ):
        assert line in script.splitlines(), line
    assert "REDIS_PASSWORD" not in script and "REDISCLI_AUTH" not in script and "export " not in script
    assert "secret_sentinel" not in script, "cluster nodes have no sentinel user"
    assert script.rstrip().endswith(f"exec redis-server {conf.CONFIG_DIR}/redis.conf")
    assert "__ROUNDS__" not in script


def test_sentinel_entrypoint_runs_a_writable_copy(secret_spec: ClusterSpec) -> None:
    script = conf.render_sentinel_entrypoint(secret_spec)
    assert '  "sentinel auth-pass cache-fallback ${secret_sentinel}" \\' in script.splitlines()
    assert f"cat {conf.CONFIG_DIR}/sentinel.conf {conf.AUTH_INCLUDE} > {conf.RUNTIME_DIR}/sentinel.conf" in script
    assert f"rm -f {conf.AUTH_INCLUDE}" in script
    assert script.rstrip().endswith(f"exec redis-server {conf.RUNTIME_DIR}/sentinel.conf --sentinel")
    # Sentinels do not serve the applications' ACL users, and replicate nothing.
    assert "acl-billing" not in script and "replication" not in script


def test_server_entrypoint(secret_spec: ClusterSpec) -> None:
    script = conf.render_server_entrypoint(secret_spec)
    assert '  "masterauth ${secret_replication}" \\' in script.splitlines()
    assert "secret_sentinel=$(secret /run/secrets/redis-sentinel-password)" in script.splitlines()
    assert "rejoin" not in script
    assert script.rstrip().endswith(f"exec redis-server {conf.CONFIG_DIR}/redis.conf")


def _secret_files(directory: Path, values: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, value in values.items():
        (directory / name).write_text(value, encoding="utf-8")
    return directory


SECRET_VALUES = {
    "redis-password": PASSWORD,
    "redis-admin-password": "admin-password-0123456789",
    "redis-exporter-password": "exporter-password-0123456789",
    "redis-replication-password": "replication-password-0123456789",
    "redis-sentinel-password": "sentinel-password-0123456789",
}


def _runnable(script: str, tmp_path: Path, secrets: Path) -> Path:
    body = (
        script.replace(conf.RUNTIME_DIR, str(tmp_path / "runtime"))
        .replace(conf.CONFIG_DIR, str(tmp_path / "etc"))
        .replace(acl.SECRETS_DIR, str(secrets))
        .replace("exec redis-server", "echo would-run")
    )
    path = tmp_path / "entrypoint.sh"
    path.write_text(body, encoding="utf-8")
    return path


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    # An empty environment: the entrypoint needs nothing from it.
    return subprocess.run(
        ["sh", str(path)], capture_output=True, text=True, timeout=30, check=False, env={"PATH": "/usr/bin:/bin"}
    )


def test_sentinel_auth_writer_reads_the_files_at_start(tmp_path: Path) -> None:
    """Run the sentinel entrypoint's auth lines: the passwords reach the runtime file, nowhere else."""
    script = conf.render_sentinel_entrypoint(spec_of())
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "sentinel.conf").write_text("port 26379\n", encoding="utf-8")
    result = _run(_runnable(script, tmp_path, _secret_files(tmp_path / "secrets", SECRET_VALUES)))
    assert result.returncode == 0, result.stderr
    for value in SECRET_VALUES.values():
        assert value not in result.stdout + result.stderr
    runtime = tmp_path / "runtime"
    app = "allchannels -@all +ping +role +info +client|setname +client|getname +subscribe +psubscribe +unsubscribe " \
        "+punsubscribe +sentinel|get-master-addr-by-name +sentinel|master +sentinel|masters +sentinel|replicas " \
        "+sentinel|slaves +sentinel|sentinels +sentinel|myid"
    assert (runtime / "sentinel.conf").read_text(encoding="utf-8").splitlines() == [
        "port 26379",
        f"user default reset on >{PASSWORD} {app}",
        f"user app reset on >{PASSWORD} {app}",
        "user admin reset on >admin-password-0123456789 ~* &* +@all -shutdown",
        "user exporter reset on >exporter-password-0123456789 -@all +ping +info +client|setname +sentinel|masters "
        "+sentinel|master +sentinel|sentinels +sentinel|slaves +sentinel|replicas +sentinel|ckquorum",
        "user sentinel reset on >sentinel-password-0123456789 allchannels -@all +ping +publish +client|setname "
        "+client|kill +sentinel|is-master-down-by-addr +role +info",
        "sentinel auth-user cache-fallback sentinel",
        "sentinel auth-pass cache-fallback sentinel-password-0123456789",
        "sentinel sentinel-user sentinel",
        "sentinel sentinel-pass sentinel-password-0123456789",
    ]
    assert not (runtime / "auth.conf").exists(), "the auth file is removed once merged"
    assert oct((runtime / "sentinel.conf").stat().st_mode & 0o777) == oct(0o600)


def test_entrypoint_refuses_to_start_without_a_secret_file(tmp_path: Path) -> None:
    values = {name: value for name, value in SECRET_VALUES.items() if name != "redis-replication-password"}
    path = _runnable(conf.render_server_entrypoint(spec_of()), tmp_path, _secret_files(tmp_path / "s", values))
    result = _run(path)
    assert result.returncode != 0
    assert "cannot read the secret file" in result.stderr and "redis-replication-password" in result.stderr
    assert not (tmp_path / "runtime" / "auth.conf").exists()


@pytest.mark.parametrize("bad", ["", "has space-0123456789", "quote'0123456789abc"])
def test_entrypoint_refuses_a_secret_file_with_bad_content(bad: str, tmp_path: Path) -> None:
    values = SECRET_VALUES | {"redis-admin-password": bad}
    path = _runnable(conf.render_server_entrypoint(spec_of()), tmp_path, _secret_files(tmp_path / "s", values))
    result = _run(path)
    assert result.returncode != 0
    assert "redis-admin-password is empty or has characters other than" in result.stderr
    assert not (tmp_path / "runtime" / "auth.conf").exists()


def test_default_user_disabled() -> None:
    script = conf.render_server_entrypoint(spec_of(auth={"default_user": "disabled"}))
    assert '  "user default reset off" \\' in script.splitlines()


def _entrypoints(deployment: DeploymentPlan) -> dict[str, str]:
    return {service.name: service.files[f"{conf.CONFIG_DIR}/entrypoint.sh"]
            for service in deployment.services if f"{conf.CONFIG_DIR}/entrypoint.sh" in service.files}


SHELLS = ["sh", *(["dash"] if shutil.which("dash") else [])]


@pytest.mark.parametrize("shell", SHELLS)
def test_entrypoints_are_valid_posix_sh(shell: str, deployment: DeploymentPlan, tmp_path: Path) -> None:
    scripts = _entrypoints(deployment)
    # Six nodes, the fallback primary and replica, three sentinels: three distinct scripts in all kinds.
    assert len(scripts) == 11
    for name, script in scripts.items():
        path = tmp_path / f"{name}.sh"
        path.write_text(script, encoding="utf-8")
        result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, f"{shell} -n {name}: {result.stderr}"


def test_sh_n_catches_a_broken_script(tmp_path: Path) -> None:
    """The syntax check above can fail: a truncated entrypoint is rejected."""
    script = conf.render_node_entrypoint(spec_of(), port=7001)
    path = tmp_path / "broken.sh"
    path.write_text(script[: script.index("done < ")], encoding="utf-8")
    result = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0


# No secret anywhere


def _strings(value: Any) -> list[str]:
    """Every string inside a plan object: dataclass fields, mappings, sequences."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [text for item in dataclasses.fields(value) for text in _strings(getattr(value, item.name))]
    if isinstance(value, dict) or hasattr(value, "items"):
        return [text for key, item in value.items() for text in (*_strings(key), *_strings(item))]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [text for item in value for text in _strings(item)]
    return []


def test_password_is_absent_from_every_rendered_file(deployment: DeploymentPlan) -> None:
    files = [text for service in deployment.services for text in service.files.values()]
    assert len(files) == 2 * 11  # a config and an entrypoint for every Redis and sentinel service
    for text in files:
        assert PASSWORD not in text


def test_password_is_absent_from_every_service_plan_field(deployment: DeploymentPlan) -> None:
    texts = [text for service in deployment.services for text in _strings(service)]
    assert any("cluster-enabled yes" in text for text in texts), "the walk reaches the rendered files"
    assert any(text == "/run/secrets/redis-password" for text in texts), "the walk reaches the secret files"
    for text in texts:
        assert PASSWORD not in text
    for node in deployment.nodes:
        assert PASSWORD not in repr(node)
    assert PASSWORD not in repr(deployment.contract)
    assert PASSWORD not in "\n".join(deployment.exporter_targets)
    # The spec itself keeps it only as a SecretStr.
    assert PASSWORD not in repr(deployment.spec)
    assert PASSWORD not in deployment.spec.model_dump_json()


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_example_entrypoints_are_valid_sh(example: Path, tmp_path: Path) -> None:
    deployment = plan(load_spec_file(example))
    scripts = _entrypoints(deployment)
    assert scripts
    for name, script in scripts.items():
        path = tmp_path / f"{name}.sh"
        path.write_text(script, encoding="utf-8")
        result = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, f"{example.name} {name}: {result.stderr}"


def test_acl_rules_reach_the_auth_file_unchanged(tmp_path: Path) -> None:
    """Run the fallback entrypoint's auth lines: each ACL user gets its own password and its rules verbatim."""
    rules = "~* &* +@read +@write +@connection +cluster|slots -@dangerous"
    spec = spec_of(auth={"acl_users": [{"name": "billing", "rules": rules}, {"name": "report-reader"}]})
    acl_values = {
        "redis-acl-billing-password": "billing-password-0123456789",
        "redis-acl-report-reader-password": "reader-password-0123456789",
    }
    secrets = _secret_files(tmp_path / "secrets", SECRET_VALUES | acl_values)
    path = _runnable(conf.render_server_entrypoint(spec), tmp_path, secrets)
    result = _run(path)
    assert result.returncode == 0, result.stderr
    app = "~* &* +@all -@dangerous +info +role"
    assert (tmp_path / "runtime" / "auth.conf").read_text(encoding="utf-8").splitlines() == [
        f"user default reset on >{PASSWORD} {app}",
        f"user app reset on >{PASSWORD} {app}",
        "user admin reset on >admin-password-0123456789 ~* &* +@all -flushall -flushdb -debug -shutdown -monitor "
        "-cluster|reset -cluster|flushslots -swapdb",
        "user exporter reset on >exporter-password-0123456789 -@all +ping +info +client|setname +cluster|info "
        "+slowlog|len +slowlog|get +latency|latest +latency|histogram",
        "user replication reset on >replication-password-0123456789 -@all +psync +replconf +ping",
        "user sentinel reset on >sentinel-password-0123456789 allchannels -@all +multi +slaveof +ping +exec "
        "+subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill",
        f"user billing reset on >billing-password-0123456789 {rules}",
        "user report-reader reset on >reader-password-0123456789 ~* &* +@all -@dangerous",
        "masteruser replication",
        "masterauth replication-password-0123456789",
    ]
    (secrets / "redis-acl-billing-password").unlink()
    missing = _run(path)
    assert missing.returncode != 0
    assert "redis-acl-billing-password" in missing.stderr

"""Invalid cluster specs fail with the field's path, the reason and a fix, through the library and the CLI.

Every case is checked through `loader.spec_from_mapping`; a representative subset also runs the real
`cache-cluster check-config FILE` as a subprocess (exit 2, the path and "fix:" on stderr, no traceback, no secret).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cache_cluster.cli.common import resolve_spec
from cache_cluster.errors import CacheClusterError
from cache_cluster.loader import load_spec_file, spec_from_mapping
from cache_cluster.spec import ClusterSpec
from tests.unit.clirun import Invocation, run_cli_many

# A password that is too short (14 characters): recognisable, so a leak shows up in any output.
BAD_SECRET = "short-secret-1"
# A valid password carried by the cases that are about something else: it must never be printed either.
GOOD_SECRET = "good-secret-value-0123456789"
SECRETS = (BAD_SECRET, GOOD_SECRET)


@dataclass(frozen=True)
class Case:
    id: str
    data: Any
    path: str  # the field path a problem must name
    says: str = ""  # a fragment the problem's message must contain
    hidden: tuple[str, ...] = ()  # values that must not appear anywhere in the error


def _pw(value: Any) -> dict[str, Any]:
    return {"auth": {"password": value}}


CASES = [
    # topology
    Case("two-masters", {"topology": {"masters": 2}}, "topology.masters", "greater than or equal to 3"),
    Case("one-master", {"topology": {"masters": 1}}, "topology.masters", "greater than or equal to 3"),
    Case(
        "no-replicas-in-prod",
        {"environment": "prod", "topology": {"replicas_per_master": 0}},
        "topology.replicas_per_master",
        "allowed only in 'dev'",
    ),
    Case(
        "no-replicas-in-staging",
        {"environment": "staging", "topology": {"replicas_per_master": 0}},
        "topology.replicas_per_master",
        "'staging'",
    ),
    Case("too-many-replicas", {"topology": {"replicas_per_master": 6}}, "topology.replicas_per_master", "5"),
    Case("masters-as-word", {"topology": {"masters": "three"}}, "topology.masters", "whole number"),
    Case("masters-as-float", {"topology": {"masters": 3.5}}, "topology.masters", "whole number"),
    Case("node-timeout-too-low", {"topology": {"node_timeout_ms": 100}}, "topology.node_timeout_ms", "500"),
    Case("prefix-uppercase", {"topology": {"node_name_prefix": "Redis-Node"}}, "topology.node_name_prefix", "DNS"),
    Case("prefix-underscore", {"topology": {"node_name_prefix": "redis_node"}}, "topology.node_name_prefix", "DNS"),
    # ports
    Case("base-port-zero", {"topology": {"base_port": 0}}, "topology.base_port", "greater than or equal to 1"),
    Case("base-port-70000", {"topology": {"base_port": 70000}}, "topology.base_port", "less than or equal to 65535"),
    Case("exporter-port-zero", {"exporter": {"port": 0}}, "exporter.port", "greater than or equal to 1"),
    Case("negative-port", {"fallback": {"primary_port": -1}}, "fallback.primary_port", "greater than or equal to 1"),
    Case("bus-port-overflow", {"topology": {"base_port": 60000}}, "topology.base_port", "bus port 70005"),
    Case(
        "sentinel-ports-overflow",
        {"sentinels": {"base_port": 65535}},
        "sentinels.base_port",
        "above port 65535",
    ),
    Case(
        "fallback-on-node-port",
        {"fallback": {"primary_port": 7003}},
        "fallback.primary_port",
        "port 7003 is used by both redis-node-3 and redis-fallback",
    ),
    Case(
        "sentinel-on-bus-port",
        {"sentinels": {"base_port": 17002}},
        "sentinels.base_port",
        "redis-node-2 (cluster bus)",
    ),
    Case(
        "exporter-on-sentinel-port",
        {"exporter": {"port": 26380}},
        "exporter.port",
        "port 26380 is used by both redis-sentinel-2 and redis-exporter",
    ),
    Case(
        "fallback-primary-equals-replica",
        {"fallback": {"replica_port": 6380}},
        "fallback.replica_port",
        "redis-fallback and redis-fallback-replica",
    ),
    Case(
        "service-name-clash",
        {"fallback": {"primary_name": "redis-node-1"}},
        "fallback",
        "redis-node-1",
    ),
    # sentinels
    Case("quorum-above-count", {"sentinels": {"count": 3, "quorum": 4}}, "sentinels.quorum", "above the sentinel"),
    Case("quorum-not-majority", {"sentinels": {"count": 5, "quorum": 2}}, "sentinels.quorum", "not a majority"),
    Case("quorum-one-of-three", {"sentinels": {"count": 3, "quorum": 1}}, "sentinels.quorum", "at least 2"),
    Case("even-sentinels", {"sentinels": {"count": 4, "quorum": 3}}, "sentinels.count", "even"),
    Case("sentinels-as-list", {"sentinels": [1, 2]}, "sentinels", "mapping"),
    # auth
    Case("empty-password", _pw(""), "auth.password", "0 characters"),
    Case("short-password", _pw(BAD_SECRET), "auth.password", "fewer than 16", (BAD_SECRET,)),
    Case("password-with-space", _pw("has space in it 0123456789"), "auth.password", "characters other",
         ("has space in it",)),
    Case("password-with-quote", _pw("quote'in-it-0123456789"), "auth.password", "characters other",
         ("quote'in-it",)),
    Case("password-with-dollar", _pw("dollar$in-it-0123456789"), "auth.password", "characters other",
         ("dollar$in-it",)),
    Case("password-as-number", _pw(12345678901234567890), "auth.password", "string", ("12345678901234567890",)),
    # A password written where the auth mapping belongs must not be echoed back as "got ...".
    Case("auth-as-password", {"auth": BAD_SECRET}, "auth", "mapping", (BAD_SECRET,)),
    Case("acl-bad-name", {"auth": {"acl_users": [{"name": "bad name"}]}}, "auth.acl_users.0.name", "ACL user name"),
    Case("acl-default-user", {"auth": {"acl_users": [{"name": "default"}]}}, "auth.acl_users.0.name",
         "none of the built-in users"),
    Case("acl-built-in-user", {"auth": {"acl_users": [{"name": "admin"}]}}, "auth.acl_users.0.name",
         "none of the built-in users ['default', 'app', 'admin', 'exporter', 'replication', 'sentinel']"),
    Case("acl-rules-nopass", {"auth": {"acl_users": [{"name": "billing", "rules": "nopass ~*"}]}},
         "auth.acl_users.0.rules", "rules set or clear a password"),
    Case("acl-rules-shell-quote", {"auth": {"acl_users": [{"name": "billing", "rules": '~* +@all" $(id)'}]}},
         "auth.acl_users.0.rules", "contain a quote, '$'"),
    Case("default-user-off-as-yaml-bool", {"auth": {"default_user": False}}, "auth.default_user", "'disabled'"),
    Case(
        "acl-rules-with-password",
        {"auth": {"acl_users": [{"name": "billing", "rules": f"on >{BAD_SECRET} ~* +@all"}]}},
        "auth.acl_users.0.rules",
        "REDIS_ACL_<NAME>_PASSWORD",
        (BAD_SECRET,),
    ),
    Case(
        "acl-rules-with-hash",
        {"auth": {"acl_users": [{"name": "billing", "rules": "#" + "a" * 64 + " ~*"}]}},
        "auth.acl_users.0.rules",
        "rules set or clear a password",
    ),
    Case(
        "acl-rules-as-list",
        {"auth": {"acl_users": [{"name": "billing", "rules": [f">{BAD_SECRET}", "~*"]}]}},
        "auth.acl_users.0.rules",
        "string",
        (BAD_SECRET,),
    ),
    Case(
        "acl-duplicate-users",
        {"auth": {"acl_users": [{"name": "billing"}, {"name": "billing"}]}},
        "auth.acl_users",
        "declared twice",
    ),
    Case("acl-unknown-field", {"auth": {"acl_users": [{"name": "app", "rule": "~*"}]}}, "auth.acl_users.0.rule",
         "did you mean 'rules'"),
    # images
    Case("image-latest", {"images": {"redis": "redis:latest"}}, "images.redis", "moving tag 'latest'"),
    Case("image-without-tag", {"images": {"exporter": "oliver006/redis_exporter"}}, "images.exporter", "no tag"),
    Case("image-registry-port-no-tag", {"images": {"redis": "registry:5000/redis"}}, "images.redis", "no tag"),
    Case("image-empty-tag", {"images": {"redis": "redis:"}}, "images.redis", "empty tag"),
    # unknown fields and wrong types
    Case("unknown-top-level", {"topologyy": {"masters": 3}}, "topologyy", "did you mean 'topology'"),
    Case("unknown-nested", {"topology": {"master": 3}}, "topology.master", "did you mean 'masters'"),
    Case("bool-as-word", {"persistence": {"appendonly": "maybe"}}, "persistence.appendonly", "true or false"),
    Case("tiers-as-string", {"fallback": {"tiers": "cluster"}}, "fallback.tiers", "list"),
    # memory and persistence
    Case(
        "maxmemory-equals-container",
        {"memory": {"container_memory_mb": 512, "maxmemory_mb": 512}},
        "memory.maxmemory_mb",
        "not below container_memory_mb 512",
    ),
    Case(
        "maxmemory-over-container",
        {"memory": {"container_memory_mb": 512, "maxmemory_mb": 1024}},
        "memory.maxmemory_mb",
        "about 75%",
    ),
    Case("unknown-eviction-policy", {"memory": {"maxmemory_policy": "lru"}}, "memory.maxmemory_policy", "allkeys-lru"),
    Case("volume-size-unit", {"persistence": {"volume_size": "1GB"}}, "persistence.volume_size", "pattern"),
    Case("appendfsync-value", {"persistence": {"appendfsync": "sometimes"}}, "persistence.appendfsync", "everysec"),
    # network
    Case("publish-wildcard", {"network": {"publish_address": "0.0.0.0"}}, "network.publish_address",
         "allow_public_publish"),
    Case("publish-ipv6-wildcard", {"network": {"publish_address": "::"}}, "network.publish_address",
         "every interface"),
    Case("publish-hostname", {"network": {"publish_address": "localhost"}}, "network.publish_address",
         "not an IP address"),
    Case("one-sentinel-in-prod", {"environment": "prod", "sentinels": {"count": 1, "quorum": 1}},
         "sentinels.count", "3 sentinels"),
    Case("publish-public-ip", {"network": {"publish_address": "203.0.113.5"}}, "network.publish_address",
         "exposes Redis on 203.0.113.5"),
    # fallback tiers
    Case(
        "tiers-reordered",
        {"fallback": {"tiers": ["cluster", "memory", "single", "database"]}},
        "fallback.tiers",
        "not reordered",
    ),
    Case("tiers-without-cluster", {"fallback": {"tiers": ["single", "memory", "database"]}}, "fallback.tiers",
         "start with 'cluster'"),
    Case("tiers-without-database", {"fallback": {"tiers": ["cluster", "single"]}}, "fallback.tiers",
         "end with 'database'"),
    Case("tiers-duplicated", {"fallback": {"tiers": ["cluster", "single", "single", "database"]}},
         "fallback.tiers", "fallback order"),
    Case("tiers-unknown", {"fallback": {"tiers": ["cluster", "disk", "database"]}}, "fallback.tiers.1", "'memory'"),
    Case("tiers-empty", {"fallback": {"tiers": []}}, "fallback.tiers", "start with 'cluster'"),
    # the rest of the model
    Case("tls-enabled", {"tls": {"enabled": True}}, "tls.enabled", "no rendering"),
    Case("environment-uppercase", {"environment": "Prod"}, "environment", "DNS label"),
    Case("name-uppercase", {"name": "Cache"}, "name", "DNS label"),
    Case("unknown-target", {"target": "nomad"}, "target", "'kubernetes'"),
    Case("namespace-uppercase", {"kubernetes": {"namespace": "Cache"}}, "kubernetes.namespace", "DNS label"),
    Case("sentinel-prefix-underscore", {"sentinels": {"name_prefix": "redis_sentinel"}}, "sentinels.name_prefix",
         "DNS label"),
    Case("fallback-name-dot", {"fallback": {"primary_name": "redis.fallback"}}, "fallback.primary_name", "DNS label"),
    Case("fallback-replica-trailing-dash", {"fallback": {"replica_name": "fallback-"}}, "fallback.replica_name",
         "DNS label"),
    Case("exporter-name-uppercase", {"exporter": {"name": "Exporter"}}, "exporter.name", "DNS label"),
    Case("environment-too-long", {"environment": "e" * 43}, "environment", "at most 42 characters"),
]

CASE_IDS = [case.id for case in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "case ids must be distinct"

# The subset also run through the CLI: at least one of each kind of failure.
CLI_CASE_IDS = (
    "two-masters",
    "no-replicas-in-prod",
    "sentinel-on-bus-port",
    "bus-port-overflow",
    "quorum-not-majority",
    "short-password",
    "password-with-dollar",
    "auth-as-password",
    "acl-rules-with-password",
    "image-latest",
    "unknown-nested",
    "masters-as-word",
    "maxmemory-equals-container",
    "publish-wildcard",
)
CLI_CASES = [case for case in CASES if case.id in CLI_CASE_IDS]
assert len(CLI_CASES) == len(CLI_CASE_IDS)


def _with_password(data: Any) -> Any:
    """Carry a valid password in the cases that are not about auth, to prove it is never printed."""
    if isinstance(data, dict) and "auth" not in data:
        return {**data, "auth": {"password": GOOD_SECRET}}
    return data


def _error_text(error: CacheClusterError) -> str:
    return "\n".join([error.render(), str(error), *(repr(problem) for problem in error.problems)])


def test_there_are_at_least_thirty_distinct_invalid_inputs() -> None:
    inputs = {yaml.safe_dump(case.data, sort_keys=True) for case in CASES}
    assert len(inputs) == len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_library_names_the_field_and_the_fix(case: Case) -> None:
    with pytest.raises(CacheClusterError) as raised:
        spec_from_mapping(_with_password(case.data), source="cluster.yaml")
    error = raised.value
    by_path = {problem.path: problem for problem in error.problems}
    assert case.path in by_path, f"expected a problem at {case.path!r}, got {[str(p) for p in error.problems]}"
    problem = by_path[case.path]
    assert "fix:" in problem.message
    assert case.says in problem.message
    assert "cluster.yaml is not a valid cluster spec" in error.render()
    text = _error_text(error)
    for secret in (*SECRETS, *case.hidden):
        assert secret not in text


def _assert_clean_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for secret in SECRETS:
        assert secret not in output


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.id for case in CLI_CASES])
def test_cli_check_config_names_the_field_and_the_fix(
    case: Case, cli_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = cli_results[case.id]
    _assert_clean_failure(result, f"{case.path}:", "fix:", case.says)
    for hidden in case.hidden:
        assert hidden not in result.stderr


# Accepted: the boundaries of the rules above.


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"environment": "dev", "topology": {"replicas_per_master": 0}}, id="no-replicas-in-dev"),
        pytest.param({"network": {"publish_address": "0.0.0.0", "allow_public_publish": True}}, id="public-opt-in"),
        pytest.param({"network": {"publish_address": "::1"}}, id="ipv6-loopback"),
        pytest.param({"fallback": {"tiers": ["cluster", "database"]}}, id="tiers-subset"),
        pytest.param({"fallback": {"tiers": ["cluster", "memory", "database"]}}, id="tiers-without-single"),
        pytest.param({"sentinels": {"count": 5, "quorum": 3}}, id="five-sentinels"),
        pytest.param({"sentinels": {"count": 1, "quorum": 1}}, id="one-sentinel-in-dev"),
        pytest.param({"fallback": {"enabled": False}, "exporter": {"port": 26379}}, id="no-sentinels-without-fallback"),
        pytest.param({"topology": {"base_port": 55530}}, id="highest-base-port"),
        pytest.param({"memory": {"container_memory_mb": 512, "maxmemory_mb": 511}}, id="maxmemory-just-below"),
        pytest.param({"images": {"redis": "registry:5000/redis:7.2.5"}}, id="registry-with-port"),
        pytest.param({"images": {"redis": "redis@sha256:" + "0" * 64}}, id="digest"),
        pytest.param({"exporter": {"enabled": False, "port": 6380}}, id="disabled-exporter-port-free"),
        pytest.param({"auth": {"password": "A-valid.pass_word~+=0123"}}, id="password-allowed-characters"),
    ],
)
def test_boundaries_are_accepted(data: dict[str, Any]) -> None:
    spec = spec_from_mapping(data, source="cluster.yaml")
    assert isinstance(spec, ClusterSpec)


def test_public_publish_address_is_used_once_opted_in() -> None:
    spec = spec_from_mapping(
        {"network": {"publish_address": "0.0.0.0", "allow_public_publish": True}}, source="cluster.yaml"
    )
    assert spec.network.publish_address == "0.0.0.0"


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(CacheClusterError) as raised:
        spec_from_mapping(
            {"topology": {"masters": 2, "base_port": 0}, "images": {"redis": "redis:latest"}}, source="cluster.yaml"
        )
    paths = {problem.path for problem in raised.value.problems}
    assert {"topology.masters", "topology.base_port", "images.redis"} <= paths


def test_library_rejects_a_mapping_that_is_not_a_mapping() -> None:
    with pytest.raises(CacheClusterError) as raised:
        spec_from_mapping(["masters", 3], source="cluster.yaml")  # type: ignore[arg-type]
    assert "must hold a mapping of fields, not a list" in raised.value.render()


# File-level failures: the YAML, the stack files, the command line.


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


FILE_CASES = {
    "list-document": ("cluster.yaml", "- masters: 3\n- replicas: 1\n", ["must hold a mapping of fields, not a list"]),
    "scalar-document": ("cluster.yaml", "just a string\n", ["must hold a mapping of fields, not a str"]),
    "invalid-yaml": (
        "cluster.yaml",
        "topology:\n  masters: 3\n  replicas_per_master: [1\n",
        ["is not valid YAML at line 4"],
    ),
    "tab-indented-yaml": ("cluster.yaml", "topology:\n\tmasters: 3\n", ["is not valid YAML at line 2", "'\\t'"]),
    "alias-looking-password": (
        "cluster.yaml",
        f"auth:\n  password: *{BAD_SECRET}\n",
        ["is not valid YAML at line 2", "undefined alias"],
    ),
    "stack-without-cluster-key": (
        "Pulumi.qa.yaml",
        "config:\n  cache-cluster:redisPassword: x\n",
        ["has no 'cache-cluster:cluster' entry", "fix:"],
    ),
    "stack-config-not-mapping": ("Pulumi.qa.yaml", "config: [1, 2]\n", ["'config' must be a mapping"]),
    "stack-cluster-not-mapping": (
        "Pulumi.qa.yaml",
        "config:\n  cache-cluster:cluster: [1]\n",
        ["config.cache-cluster:cluster must be a mapping"],
    ),
    "stack-unknown-nested": (
        "Pulumi.qa.yaml",
        "config:\n  cache-cluster:cluster:\n    topology:\n      master: 3\n",
        ["config.cache-cluster:cluster.topology.master:", "did you mean 'masters'"],
    ),
    # The environment defaults to the stack's name, so a prod stack file may not drop the replicas.
    "prod-stack-without-replicas": (
        "Pulumi.prod.yaml",
        "config:\n  cache-cluster:cluster:\n    topology:\n      replicas_per_master: 0\n",
        ["config.cache-cluster:cluster.topology.replicas_per_master:", "'prod'", "fix:"],
    ),
}


# The file-level failures also run through the CLI.
CLI_FILE_CASE_IDS = [
    "list-document",
    "invalid-yaml",
    "alias-looking-password",
    "stack-without-cluster-key",
    "prod-stack-without-replicas",
]


@pytest.mark.parametrize("case_id", list(FILE_CASES))
def test_load_spec_file_rejects(case_id: str, tmp_path: Path) -> None:
    name, text, fragments = FILE_CASES[case_id]
    path = _write(tmp_path / name, text)
    with pytest.raises(CacheClusterError) as raised:
        load_spec_file(path)
    rendered = raised.value.render()
    for fragment in fragments:
        assert fragment in rendered
    assert BAD_SECRET not in rendered


@pytest.mark.parametrize("case_id", CLI_FILE_CASE_IDS)
def test_cli_rejects_bad_files(case_id: str, cli_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    _name, _text, fragments = FILE_CASES[case_id]
    _assert_clean_failure(cli_results[f"file:{case_id}"], *fragments)


def test_dev_stack_file_allows_no_replicas(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "Pulumi.dev.yaml", "config:\n  cache-cluster:cluster:\n    topology:\n      replicas_per_master: 0\n"
    )
    spec = load_spec_file(path)
    assert spec.environment == "dev"
    assert spec.topology.node_count == 3


def test_missing_file(tmp_path: Path, cli_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    with pytest.raises(CacheClusterError, match="does not exist; fix:"):
        load_spec_file(tmp_path / "nope.yaml")
    _assert_clean_failure(cli_results["missing-file"], "nope.yaml does not exist", "fix:")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(CacheClusterError, match="cannot read"):
        load_spec_file(tmp_path)


def test_no_such_stack(tmp_path: Path, cli_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    with pytest.raises(CacheClusterError, match=r"no stack file Pulumi\.nope\.yaml"):
        resolve_spec(None, "nope", tmp_path)
    _assert_clean_failure(cli_results["no-such-stack"], "Pulumi.nope.yaml", "fix:")


def test_file_and_stack_together(tmp_path: Path, cli_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    path = _write(tmp_path / "cluster.yaml", "environment: dev\n")
    with pytest.raises(CacheClusterError, match="not both"):
        resolve_spec(path, "dev", tmp_path)
    _assert_clean_failure(cli_results["file-and-stack"], "either FILE or --stack, not both")


def test_unknown_option_is_a_usage_error_without_traceback(
    cli_results: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = cli_results["unknown-option"]
    assert result.returncode == 2
    assert "--bogus" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every `cache-cluster` run this module asserts on, started together (each costs an interpreter start)."""
    directory = tmp_path_factory.mktemp("cli-cases")
    invocations: dict[str, Invocation] = {}
    for case in CLI_CASES:
        path = _write(directory / f"{case.id}.yaml", yaml.safe_dump(_with_password(case.data)))
        invocations[case.id] = Invocation(("check-config", str(path)))
    for case_id in CLI_FILE_CASE_IDS:
        name, text, _fragments = FILE_CASES[case_id]
        (directory / case_id).mkdir()
        path = _write(directory / case_id / name, text)
        invocations[f"file:{case_id}"] = Invocation(("check-config", str(path)))
    plain = _write(directory / "plain.yaml", "environment: dev\n")
    empty_project = directory / "empty-project"
    empty_project.mkdir()
    invocations |= {
        "missing-file": Invocation(("check-config", str(directory / "nope.yaml"))),
        "no-such-stack": Invocation(("check-config", "--stack", "nope", "--project-dir", str(empty_project))),
        "file-and-stack": Invocation(("check-config", str(plain), "--stack", "dev", "--project-dir", str(directory))),
        "unknown-option": Invocation(("check-config", "--bogus")),
    }
    return run_cli_many(invocations)

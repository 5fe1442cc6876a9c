"""DockerCacheCluster under Pulumi's mocks: the resource graph, secrets, published addresses and the hook."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker
import pytest

from tests.unit import pulumi_mocks as pm

# Pulumi's documented pattern: mocks first, then the module that declares resources.
pm.install()

from cache_cluster.engine_address import engine_host, reachable_address_map  # noqa: E402
from cache_cluster.plan import plan  # noqa: E402
from cache_cluster.spec import ClusterSpec  # noqa: E402
from cache_cluster.targets.docker import (  # noqa: E402
    DockerCacheCluster,
    DockerCacheClusterArgs,
    container_args,
    env_entries,
    exporter_url,
    hook_command,
    program_python,
    rolling_order,
    rolling_predecessors,
)
from cache_cluster.targets.pulumi_common import DeployInputError, spec_json  # noqa: E402

PASSWORD = "Given-password.0123456789"
ACL_PASSWORD = "App-user-password.0123456789"
ADMIN_PASSWORD = "Admin-user-password.0123456789"
NAME = "cache"


@dataclass
class Deployed:
    mocks: pm.RecordingMocks
    component: DockerCacheCluster
    secret_outputs: dict[str, bool]
    resolved: dict[str, Any]  # the component's Output-valued outputs, resolved

    def one(self, type_: str, name: str) -> pm.Registered:
        return next(r for r in pm.of_type(self.mocks, type_) if r.name == name)

    @property
    def containers(self) -> list[pm.Registered]:
        return pm.of_type(self.mocks, pm.CONTAINER)


async def _secretness(component: DockerCacheCluster) -> dict[str, bool]:
    found = {"password": await component.password.is_secret()}
    found |= {f"env.{key}": await value.is_secret() for key, value in component.env.items()}
    found |= {f"acl.{user}": await value.is_secret() for user, value in component.acl_passwords.items()}
    found["admin_password"] = await component.admin_password.is_secret()
    return found


def deploy(args: DockerCacheClusterArgs, opts: pulumi.ResourceOptions | None = None) -> Deployed:
    mocks = pm.install()
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        component = DockerCacheCluster(NAME, args, opts)
        holder["component"] = component
        secretness = pulumi.Output.from_input(_secretness(component))
        resolved = pulumi.Output.all(
            host_address_map=component.host_address_map,
            exporter_url=component.exporter_url,
            network_name=component.network_name,
        )
        return pulumi.Output.all(secretness, resolved).apply(
            lambda both: holder.update(secret=both[0], resolved=both[1])
        )

    run()
    return Deployed(mocks, holder["component"], holder["secret"], holder["resolved"])


@pytest.fixture(scope="module")
def generated() -> Deployed:
    """The dev stack's spec (the defaults), no password given: one is generated."""
    return deploy({"spec": ClusterSpec()})


def acl_spec() -> ClusterSpec:
    return ClusterSpec.model_validate({"auth": {"acl_users": [{"name": "billing"}, {"name": "reporting"}]}})


# -------------------------------------------------------------------------------------------- resource graph


def test_resource_graph_has_every_resource_once(generated: Deployed) -> None:
    counts: dict[str, int] = {}
    for resource in generated.mocks.resources:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    assert counts == {
        pm.COMPONENT: 1,
        pm.RANDOM_PASSWORD: 5,  # the application's, admin, exporter, replication, sentinel
        pm.NETWORK: 1,
        pm.VOLUME: 8,  # 6 nodes + fallback primary and replica
        pm.REMOTE_IMAGE: 2,  # redis, exporter
        pm.CONTAINER: 12,  # 6 nodes + 2 fallback + 3 sentinels + 1 exporter
        pm.COMMAND: 1,
    }


def test_every_child_is_parented_to_the_component(generated: Deployed) -> None:
    component = generated.one(pm.COMPONENT, NAME)
    children = [resource for resource in generated.mocks.resources if resource is not component]
    assert children
    for child in children:
        assert child.parent == component.urn, child.name
        assert f"{pm.COMPONENT}${child.type}::" in child.urn


def test_names_follow_the_plan_and_compose(generated: Deployed) -> None:
    deployment = plan(ClusterSpec())
    assert sorted(r.name for r in generated.containers) == sorted(f"{NAME}-{s.name}" for s in deployment.services)
    assert {r.inputs["name"] for r in generated.containers} == {f"cache-cluster-{s.name}" for s in deployment.services}
    assert generated.one(pm.NETWORK, f"{NAME}-network").inputs["name"] == "cache-cluster"
    assert {r.inputs["name"] for r in pm.of_type(generated.mocks, pm.VOLUME)} == {
        f"cache-cluster_{volume}" for volume in deployment.volumes
    }
    fixed = [*generated.containers, *pm.of_type(generated.mocks, pm.VOLUME), *pm.of_type(generated.mocks, pm.NETWORK)]
    assert all(r.delete_before_replace for r in fixed), "fixed names need delete-before-replace"
    hostnames = {r.inputs["hostname"] for r in generated.containers}
    assert hostnames == {s.name for s in deployment.services}


def test_containers_use_image_ids_of_kept_images(generated: Deployed) -> None:
    images = pm.of_type(generated.mocks, pm.REMOTE_IMAGE)
    assert all(image.inputs["keepLocally"] is True for image in images)
    image_ids = {image.inputs["name"]: image.outputs["image_id"] for image in images}
    assert set(image_ids) == {"redis:7.2.5", "oliver006/redis_exporter:v1.62.0"}
    for container in generated.containers:
        expected = "oliver006/redis_exporter:v1.62.0" if "exporter" in container.name else "redis:7.2.5"
        assert container.inputs["image"] == image_ids[expected]


def test_containers_run_under_tini_with_limits_and_restart(generated: Deployed) -> None:
    for container in generated.containers:
        assert container.inputs["init"] is True
        assert container.inputs["restart"] == "unless-stopped"
        assert container.inputs["memory"] > 0


def test_every_container_with_a_health_check_is_waited_for_and_the_exporter_is_not(generated: Deployed) -> None:
    waited = {r.name for r in generated.containers if r.inputs.get("wait")}
    assert waited == {r.name for r in generated.containers} - {f"{NAME}-redis-exporter"}
    for container in generated.containers:
        if container.inputs.get("wait"):
            # 5 s start period + 15 retries x 2 s + 30 s margin
            assert container.inputs["waitTimeout"] == 65, container.name
    primary = generated.one(pm.CONTAINER, f"{NAME}-redis-fallback")
    for dependant in ("redis-fallback-replica", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"):
        assert primary.urn in generated.one(pm.CONTAINER, f"{NAME}-{dependant}").dependencies
    exporter = generated.one(pm.CONTAINER, f"{NAME}-redis-exporter")
    for index in range(1, 7):
        assert generated.one(pm.CONTAINER, f"{NAME}-redis-node-{index}").urn in exporter.dependencies


# ------------------------------------------------------------------------------------- rolling replacement

# The brief's topology: masters redis-node-1..3, replicas 4..6, node-4 follows node-1, 5 follows 2, 6 follows 3.
ROLLING_ORDER = [
    "redis-node-4", "redis-node-1", "redis-node-5", "redis-node-2", "redis-node-6", "redis-node-3",
    "redis-fallback", "redis-fallback-replica", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3",
    "redis-exporter",
]


def test_containers_form_one_chain_replica_before_master_each_waited_for(generated: Deployed) -> None:
    """The engine replaces one container at a time only if each depends on the one before (the SDK registers a
    resource after its dependencies are done) and each is waited for until healthy (`wait`)."""
    by_urn = {container.urn: container.name.removeprefix(f"{NAME}-") for container in generated.containers}
    registered = [container.name.removeprefix(f"{NAME}-") for container in generated.containers]
    assert registered == ROLLING_ORDER
    for before, after in itertools.pairwise(ROLLING_ORDER):
        follower = generated.one(pm.CONTAINER, f"{NAME}-{after}")
        assert generated.one(pm.CONTAINER, f"{NAME}-{before}").urn in follower.dependencies, after
        assert generated.one(pm.CONTAINER, f"{NAME}-{before}").inputs["wait"] is True, before
    # Nothing depends on a container later in the chain: no cycle, no second path around the order.
    for container in generated.containers:
        position = ROLLING_ORDER.index(container.name.removeprefix(f"{NAME}-"))
        for urn in container.dependencies:
            if urn in by_urn:
                assert ROLLING_ORDER.index(by_urn[urn]) < position, (container.name, by_urn[urn])


def test_the_rolling_order_keeps_every_replica_before_its_master() -> None:
    deployment = plan(ClusterSpec.model_validate({"topology": {"masters": 3, "replicas_per_master": 2}}))
    assert rolling_order(deployment)[:9] == [
        "redis-node-4", "redis-node-7", "redis-node-1",
        "redis-node-5", "redis-node-8", "redis-node-2",
        "redis-node-6", "redis-node-9", "redis-node-3",
    ]
    assert rolling_predecessors(deployment)["redis-node-1"] == "redis-node-7"
    assert "redis-node-4" not in rolling_predecessors(deployment)


def test_containers_stop_gracefully_on_replace_and_destroy(generated: Deployed) -> None:
    for container in generated.containers:
        assert container.inputs["destroyGraceSeconds"] == 30, container.name
        assert container.inputs["stopTimeout"] == 30, container.name
    assert all(container.delete_before_replace for container in generated.containers)


# ---------------------------------------------------------------------------------------------------- volumes


def test_data_volumes_survive_destroy_unless_told_otherwise(generated: Deployed) -> None:
    volumes = pm.of_type(generated.mocks, pm.VOLUME)
    assert len(volumes) == 8 and all(volume.retain_on_delete for volume in volumes)
    assert not any(resource.retain_on_delete for resource in generated.mocks.resources if resource.type != pm.VOLUME)
    throwaway = deploy({"spec": ClusterSpec(), "retain_volumes": False})
    assert not any(volume.retain_on_delete for volume in pm.of_type(throwaway.mocks, pm.VOLUME))


# -------------------------------------------------------------------------------------------------------- cpu


def test_cpu_limit_becomes_docker_cpus_on_the_redis_servers_only() -> None:
    deployed = deploy({"spec": ClusterSpec.model_validate({"memory": {"cpu_limit": "500m"}})})
    cpus = {container.name.removeprefix(f"{NAME}-"): container.inputs.get("cpus") for container in deployed.containers}
    assert {name for name, value in cpus.items() if value == "0.5"} == {
        *(f"redis-node-{index}" for index in range(1, 7)), "redis-fallback", "redis-fallback-replica"
    }
    assert cpus["redis-sentinel-1"] is None and cpus["redis-exporter"] is None


def test_without_a_cpu_limit_no_container_is_limited(generated: Deployed) -> None:
    assert not any("cpus" in container.inputs for container in generated.containers)


def test_settings_docker_cannot_apply_are_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, **_: warned.append(message))
    deploy({"spec": ClusterSpec.model_validate({"persistence": {"volume_size": "20Gi"}})})
    assert len(warned) == 1 and warned[0].startswith("persistence.volume_size '20Gi' has no effect on Docker")
    warned.clear()
    deploy({"spec": ClusterSpec()})
    assert warned == []


# --------------------------------------------------------------------------------------------------- secrets


def test_generated_password_is_random_letters_and_digits(generated: Deployed) -> None:
    password = generated.one(pm.RANDOM_PASSWORD, f"{NAME}-password")
    assert password.inputs["length"] == 32
    assert password.inputs["special"] is False


@pytest.mark.parametrize("given", ["nothing", "a secret", "a plain string"])
def test_every_input_carrying_the_password_is_secret(given: str) -> None:
    # The ACL password is given as a plain string: the component makes it secret all the same.
    args: DockerCacheClusterArgs = {
        "spec": acl_spec(),
        "acl_passwords": {"billing": ACL_PASSWORD},
        "internal_passwords": {"admin": ADMIN_PASSWORD},
    }
    if given != "nothing":
        args["password"] = pulumi.Output.secret(PASSWORD) if given == "a secret" else PASSWORD
    password_given = given != "nothing"
    deployed = deploy(args)
    password = PASSWORD if password_given else pm.GENERATED_PASSWORD
    carriers = 0
    for resource in deployed.mocks.resources:
        for secret in (password, ACL_PASSWORD, ADMIN_PASSWORD, pm.GENERATED_PASSWORD):
            carrying = resource.carries(secret)
            carriers += len(carrying)
            assert carrying <= resource.secret, f"{resource.name}: {carrying - resource.secret} carry a password"
            # What the provider echoes back as an output is secret in the state too.
            if resource.type in (pm.CONTAINER, pm.COMMAND):
                assert carrying <= {_camel(name) for name in resource.additional_secret_outputs}
    assert carriers >= 12 + 1  # every container's secret files, the hook's environment
    generated_names = {r.name for r in pm.of_type(deployed.mocks, pm.RANDOM_PASSWORD)}
    expected = {f"{NAME}-acl-reporting-password", f"{NAME}-exporter-password", f"{NAME}-replication-password",
                f"{NAME}-sentinel-password"} | (set() if password_given else {f"{NAME}-password"})
    assert generated_names == expected


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_password_outputs_are_secret_and_public_env_is_not() -> None:
    deployed = deploy({"spec": acl_spec(), "password": PASSWORD})  # even a plain-string password
    secret = deployed.secret_outputs
    assert secret["password"] and secret["env.REDIS_PASSWORD"]
    assert secret["acl.billing"] and secret["acl.reporting"]
    public = {key for key, is_secret in secret.items() if key.startswith("env.") and not is_secret}
    assert public == {f"env.{key}" for key in plan(acl_spec()).contract.public}
    assert "env.REDIS_CLUSTER_NODES" in public


def test_plain_outputs(generated: Deployed) -> None:
    component = generated.component
    assert component.node_endpoints == [f"redis-node-{index}:{7000 + index}" for index in range(1, 7)]
    assert generated.resolved["host_address_map"]["redis-node-1:7001"] == "127.0.0.1:7001"
    assert generated.resolved["exporter_url"] == "http://127.0.0.1:9121"
    assert generated.resolved["network_name"] == "cache-cluster"


def test_containers_get_secret_files_and_no_environment() -> None:
    deployed = deploy({
        "spec": acl_spec(),
        "password": PASSWORD,
        "acl_passwords": {"billing": ACL_PASSWORD},
        "internal_passwords": {"admin": ADMIN_PASSWORD},
    })
    for container in deployed.containers:
        assert "envs" not in container.inputs, container.name
    node = deployed.one(pm.CONTAINER, f"{NAME}-redis-node-1")
    secrets = {upload["file"]: upload for upload in node.inputs["uploads"] if upload["file"].startswith("/run/")}
    assert {path: upload["content"] for path, upload in secrets.items()} == {
        "/run/secrets/redis-password": PASSWORD,
        "/run/secrets/redis-admin-password": ADMIN_PASSWORD,
        "/run/secrets/redis-exporter-password": pm.GENERATED_PASSWORD,
        "/run/secrets/redis-replication-password": pm.GENERATED_PASSWORD,
        "/run/secrets/redis-acl-billing-password": ACL_PASSWORD,
        "/run/secrets/redis-acl-reporting-password": pm.GENERATED_PASSWORD,
    }
    assert {upload["permissions"] for upload in secrets.values()} == {"0444"}
    exporter = deployed.one(pm.CONTAINER, f"{NAME}-redis-exporter")
    (password_map,) = exporter.inputs["uploads"]
    assert password_map["file"] == "/run/secrets/redis-exporter-password-map"
    assert json.loads(password_map["content"])["redis://redis-sentinel-3:26381"] == pm.GENERATED_PASSWORD
    assert len(json.loads(password_map["content"])) == 11


def test_a_weak_password_fails_with_the_rule_and_without_the_value() -> None:
    weak = "short"
    with pytest.raises(pulumi.RunError) as raised:
        deploy({"spec": ClusterSpec(), "password": pulumi.Output.secret(weak)})
    message = str(raised.value)
    assert message.startswith("error: password is not acceptable")
    assert "fewer than 16" in message and "fix:" in message
    assert weak not in message


def test_bad_arguments_are_clean_errors() -> None:
    with pytest.raises(DeployInputError, match="hook_via 'ssh'"):
        deploy({"spec": ClusterSpec(), "hook_via": "ssh"})
    with pytest.raises(DeployInputError, match=r"acl_passwords names users \['nobody'\]") as raised:
        deploy({"spec": acl_spec(), "acl_passwords": {"nobody": ACL_PASSWORD}})
    assert isinstance(raised.value, pulumi.RunError)  # Pulumi prints it without a traceback
    assert str(raised.value).startswith("error: ")


# --------------------------------------------------------------------------------------------------- network


def test_ports_are_published_on_loopback_only(generated: Deployed) -> None:
    published = []
    for container in generated.containers:
        assert not container.inputs.get("publishAllPorts")
        for port in container.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", container.name
            assert port["external"] == port["internal"]  # the same port inside and out (MOVED by name)
            published.append(int(port["external"]))
    assert sorted(published) == [*range(6380, 6382), *range(7001, 7007), 9121, *range(26379, 26382)]


def test_every_container_is_on_the_network_under_its_name(generated: Deployed) -> None:
    for container in generated.containers:
        (network,) = container.inputs["networksAdvanced"]
        assert network == {"name": "cache-cluster", "aliases": [container.inputs["hostname"]]}


# ------------------------------------------------------------------------------------------------------ hook


def test_hook_runs_once_after_every_container(generated: Deployed) -> None:
    (hook,) = pm.of_type(generated.mocks, pm.COMMAND)
    containers = generated.containers
    assert sorted(hook.inputs["triggers"]) == sorted(container.id for container in containers)
    assert {container.urn for container in containers} <= set(hook.dependencies)
    assert hook.inputs["create"].endswith("-m cache_cluster.cli init /dev/stdin --via published --json")
    assert hook.inputs["addPreviousOutputInEnv"] is False


def test_hook_gets_the_spec_on_stdin_and_the_password_in_its_environment(generated: Deployed) -> None:
    (hook,) = pm.of_type(generated.mocks, pm.COMMAND)
    assert ClusterSpec.model_validate(json.loads(hook.inputs["stdin"])) == ClusterSpec()
    assert hook.inputs["environment"] == {"REDIS_ADMIN_PASSWORD": pm.GENERATED_PASSWORD}
    assert "environment" in hook.secret
    for visible in ("create", "stdin", "triggers"):
        assert pm.GENERATED_PASSWORD not in json.dumps(hook.inputs[visible])


def test_hook_gets_the_admin_password_only() -> None:
    deployed = deploy({
        "spec": acl_spec(),
        "password": PASSWORD,
        "acl_passwords": {"billing": ACL_PASSWORD},
        "internal_passwords": {"admin": ADMIN_PASSWORD},
    })
    (hook,) = pm.of_type(deployed.mocks, pm.COMMAND)
    assert hook.inputs["environment"] == {"REDIS_ADMIN_PASSWORD": ADMIN_PASSWORD}
    assert ACL_PASSWORD not in json.dumps(hook.inputs) and PASSWORD not in json.dumps(hook.inputs)
    assert ADMIN_PASSWORD not in hook.inputs["create"] and ADMIN_PASSWORD not in hook.inputs["stdin"]
    assert deployed.secret_outputs["admin_password"]


def test_unknown_internal_password_is_a_clean_error() -> None:
    with pytest.raises(DeployInputError, match=r"internal_passwords names users \['root'\]"):
        deploy({"spec": ClusterSpec(), "internal_passwords": {"root": ADMIN_PASSWORD}})


def test_the_hook_reads_no_acl_password() -> None:
    """What the hook would read: REDIS_ACL_<NAME>_PASSWORD through AclUser.password_env. Nothing it runs does."""
    package = Path(__import__("cache_cluster").__file__).parent
    readers = [
        path.relative_to(package).as_posix()
        for path in [*sorted((package / "hook").glob("*.py")), package / "cli" / "hook.py"]
        if "password_env" in path.read_text() or "REDIS_ACL_" in path.read_text()
    ]
    assert readers == []


def test_hook_interpreter_is_relative_to_the_programs_directory(generated: Deployed) -> None:
    (hook,) = pm.of_type(generated.mocks, pm.COMMAND)
    assert not hook.inputs["create"].startswith("/")
    assert hook.inputs["create"].startswith(program_python() + " -m cache_cluster.cli")
    # Two checkouts of the same layout read the same command: the engine sees no change from either.
    first = program_python("/home/ana/cache-cluster/.venv/bin/python", cwd="/home/ana/cache-cluster/infra")
    second = program_python("/ci/build/42/.venv/bin/python", cwd="/ci/build/42/infra")
    assert first == second == "../.venv/bin/python"
    assert program_python("/srv/app/venv/bin/python", cwd="/srv/app") == "./venv/bin/python"


def test_hook_can_be_left_out_or_go_direct() -> None:
    assert not pm.of_type(deploy({"spec": ClusterSpec(), "run_hook": False}).mocks, pm.COMMAND)
    (hook,) = pm.of_type(deploy({"spec": ClusterSpec(), "hook_via": "direct"}).mocks, pm.COMMAND)
    assert "--via direct" in hook.inputs["create"]


# ------------------------------------------------------------------------------------- remote Docker engines

REMOTE = "ssh://deploy@cache-host.example:2222"
PUBLIC = {"network": {"publish_address": "0.0.0.0", "allow_public_publish": True}}


def deploy_on(host: str, spec: ClusterSpec, **args: Any) -> tuple[pm.RecordingMocks, dict[str, Any]]:
    """The component given its own docker Provider (as an application stack passes one)."""
    mocks = pm.install()
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        engine = docker.Provider("engine", host=host)
        component = DockerCacheCluster(
            NAME, {"spec": spec, **args}, pulumi.ResourceOptions(providers=[engine])  # type: ignore[typeddict-item]
        )
        outputs = pulumi.Output.all(component.host_address_map, component.exporter_url)
        return outputs.apply(lambda both: resolved.update(host_address_map=both[0], exporter_url=both[1]))

    run()
    return mocks, resolved


def test_every_docker_resource_goes_to_the_given_provider() -> None:
    mocks, _ = deploy_on(REMOTE, ClusterSpec.model_validate(PUBLIC))
    (engine,) = pm.of_type(mocks, pm.DOCKER_PROVIDER)
    docker_resources = [r for r in mocks.resources if r.type.startswith("docker:")]
    assert len(docker_resources) == 1 + 8 + 2 + 12  # network, volumes, images, containers
    assert {r.provider for r in docker_resources} == {f"{engine.urn}::{engine.id}"}


def test_a_remote_engine_is_dialled_at_its_host() -> None:
    mocks, resolved = deploy_on(REMOTE, ClusterSpec.model_validate(PUBLIC))
    assert resolved["host_address_map"]["redis-node-1:7001"] == "cache-host.example:7001"
    assert resolved["host_address_map"]["redis-sentinel-3:26381"] == "cache-host.example:26381"
    assert resolved["exporter_url"] == "http://cache-host.example:9121"
    (hook,) = pm.of_type(mocks, pm.COMMAND)
    assert "--via" not in hook.inputs["create"]
    assert "--address-map redis-node-1:7001=cache-host.example:7001," in hook.inputs["create"]
    assert "127.0.0.1" not in hook.inputs["create"]


def test_a_remote_engines_loopback_is_reached_from_nowhere_and_the_hook_says_so() -> None:
    with pytest.raises(pulumi.RunError) as raised:
        deploy_on(REMOTE, ClusterSpec())
    message = str(raised.value)
    assert message.startswith("error: the Docker provider points at ssh://deploy@cache-host.example:2222")
    assert "network.publish_address" in message and "fix:" in message
    # Without the hook the stack deploys; the outputs promise no address this machine cannot reach.
    mocks, resolved = deploy_on(REMOTE, ClusterSpec(), run_hook=False)
    assert resolved == {"host_address_map": {}, "exporter_url": None}
    assert len(pm.of_type(mocks, pm.CONTAINER)) == 12


@pytest.mark.parametrize(
    ("docker_host", "expected"),
    [
        (None, None),
        ("", None),
        ("unix:///var/run/docker.sock", None),
        ("npipe:////./pipe/docker_engine", None),
        ("tcp://127.0.0.1:2375", None),
        ("tcp://localhost:2375", None),
        ("tcp://10.0.0.5:2376", "10.0.0.5"),
        ("ssh://deploy@cache-host.example", "cache-host.example"),
        ("ssh://deploy@[2001:db8::5]:22", "2001:db8::5"),
    ],
)
def test_engine_host(docker_host: str | None, expected: str | None) -> None:
    assert engine_host(docker_host) == expected


def test_reachable_address_map_on_a_remote_host() -> None:
    bound = ClusterSpec.model_validate({"network": {"publish_address": "10.1.2.3", "allow_public_publish": True}})
    assert reachable_address_map(plan(bound), "cache-host.example")["redis-node-2:7002"] == "10.1.2.3:7002"
    ipv6 = plan(ClusterSpec.model_validate({"network": {"publish_address": "::", "allow_public_publish": True}}))
    assert reachable_address_map(ipv6, "2001:db8::5")["redis-node-1:7001"] == "[2001:db8::5]:7001"
    assert reachable_address_map(plan(ClusterSpec()), None)["redis-node-1:7001"] == "127.0.0.1:7001"
    assert reachable_address_map(plan(ClusterSpec()), "cache-host.example") == {}


# ------------------------------------------------------------------------------------------- pure helpers


def test_container_args_for_a_node_without_pulumi() -> None:
    spec = ClusterSpec()
    node = plan(spec).service("redis-node-1")
    args = container_args(spec, node, network="net", volumes={"redis-node-1-data": "vol"})
    assert args["name"] == "cache-cluster-redis-node-1"
    assert args["ports"] == [{"internal": 7001, "external": 7001, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert args["volumes"] == [{"volume_name": "vol", "container_path": "/data"}]
    assert args["networks_advanced"] == [{"name": "net", "aliases": ["redis-node-1"]}]
    assert args["healthcheck"]["interval"] == "2s" and args["healthcheck"]["retries"] == 15
    assert args["command"] is None  # the entrypoint script takes no arguments; none are inherited from the image
    modes = {upload["file"]: upload["permissions"] for upload in args["uploads"]}
    assert modes == {"/etc/cache-cluster/redis.conf": "0444", "/etc/cache-cluster/entrypoint.sh": "0555"}
    assert args["envs"] is None
    with_secrets = container_args(
        spec, node, network="net", volumes={"redis-node-1-data": "vol"},
        secret_contents={"password": "p", "admin": "a", "exporter": "e", "replication": "r"},
    )
    assert [(u["file"], u["content"]) for u in with_secrets["uploads"][2:]] == [
        ("/run/secrets/redis-password", "p"),
        ("/run/secrets/redis-admin-password", "a"),
        ("/run/secrets/redis-exporter-password", "e"),
        ("/run/secrets/redis-replication-password", "r"),
    ]


def test_env_entries_and_urls() -> None:
    spec = acl_spec()
    node = plan(spec).service("redis-node-1")
    assert env_entries(node) == []
    assert exporter_url(plan(ClusterSpec())) == "http://127.0.0.1:9121"
    ipv6 = ClusterSpec.model_validate({"network": {"publish_address": "::1"}})
    assert exporter_url(plan(ipv6)) == "http://[::1]:9121"
    public = ClusterSpec.model_validate({"network": {"publish_address": "0.0.0.0", "allow_public_publish": True}})
    assert exporter_url(plan(public)) == "http://127.0.0.1:9121"
    assert exporter_url(plan(ClusterSpec.model_validate({"exporter": {"enabled": False}}))) is None


def test_spec_json_leaves_the_password_out() -> None:
    spec = ClusterSpec.model_validate({"auth": {"password": PASSWORD}})
    text = spec_json(spec)
    assert PASSWORD not in text and "password" not in json.loads(text)["auth"]
    assert hook_command("published", python="/opt/my venv/bin/python").startswith("'/opt/my venv/bin/python' -m ")


def _uploads_changed(first: Deployed, second: Deployed) -> list[str]:
    before = {r.name: r.inputs.get("uploads") for r in first.containers}
    return sorted(r.name for r in second.containers if r.inputs.get("uploads") != before[r.name])


@pytest.mark.parametrize(
    ("changed", "replaced"),
    [
        ("replication", [*(f"redis-node-{i}" for i in range(1, 7)), "redis-fallback", "redis-fallback-replica"]),
        ("sentinel", ["redis-fallback", "redis-fallback-replica", "redis-sentinel-1", "redis-sentinel-2",
                      "redis-sentinel-3"]),
        ("exporter", [*(f"redis-node-{i}" for i in range(1, 7)), "redis-exporter", "redis-fallback",
                      "redis-fallback-replica", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"]),
    ],
)
def test_a_changed_password_changes_the_uploads_of_exactly_the_containers_holding_it(
    changed: str, replaced: list[str]
) -> None:
    """pulumi-docker replaces a container whose `upload` changes (ForceNew in kreuzwerker/terraform-provider-docker
    internal/provider/resource_docker_container.go): a Pulumi password change is a rolling replacement of these
    containers, which is why README says to run `cache-cluster rotate-password --phase add` first."""
    passwords = {"admin": ADMIN_PASSWORD, "exporter": "Exporter-password.0123456789",
                 "replication": "Replication-password.0123456789", "sentinel": "Sentinel-password.0123456789"}
    first = deploy({"spec": ClusterSpec(), "password": PASSWORD, "internal_passwords": passwords})
    second = deploy({"spec": ClusterSpec(), "password": PASSWORD,
                     "internal_passwords": passwords | {changed: "Rotated-password.0123456789"}})
    assert _uploads_changed(first, second) == [f"{NAME}-{service}" for service in sorted(replaced)]
    hook_before, hook_after = (d.one(pm.COMMAND, f"{NAME}-init").inputs["environment"] for d in (first, second))
    assert hook_before == hook_after, "the hook's environment holds the admin password alone"

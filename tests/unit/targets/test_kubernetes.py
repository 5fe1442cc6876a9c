"""The Kubernetes target: the pure manifests, the Pulumi component under mocks, and `render kubernetes`.

Every object, as the mocks receive it and as `render kubernetes` writes it, validates strictly (unknown fields
rejected) with kubernetes-validate against the oldest and the newest Kubernetes minor this target supports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pytest
import yaml

from tests.unit import pulumi_mocks as pm

pm.install()

from cache_cluster.plan import plan  # noqa: E402
from cache_cluster.spec import ClusterSpec  # noqa: E402
from cache_cluster.targets.kubernetes import (  # noqa: E402
    KubernetesCacheCluster,
    KubernetesCacheClusterArgs,
    options_from,
)
from cache_cluster.targets.kubernetes_manifests import (  # noqa: E402
    KubernetesOptions,
    hook_name,
    manifests,
    render_files,
)
from tests.unit.clirun import run_cli  # noqa: E402

# The oldest minor: StatefulSet start ordinals are on by default since 1.27 (beta) and GA in 1.31; 1.29 is the
# oldest minor still given to customers by the large managed offerings when this was written. The newest: the
# newest schema kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "Given-password.0123456789"
ACL_PASSWORD = "Reports-user-password.0123456789"
INTERNAL = {
    "admin": "Admin-user-password.0123456789",
    "exporter": "Exporter-user-password.0123456789",
    "replication": "Replication-password.0123456789",
    "sentinel": "Sentinel-user-password.0123456789",
}
COMPONENT = "cache-cluster:index:KubernetesCacheCluster"
CUSTOM_RESOURCE_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs: no schema in kubernetes-validate
OPERATOR_ON = {"prometheus_operator": True}
RECOMMENDED_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
}


def prod_spec(**changes: Any) -> ClusterSpec:
    data = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["cache-cluster:cluster"]
    return ClusterSpec.model_validate({**data, **changes})


def objects(spec: ClusterSpec | None = None, **options: Any) -> list[dict[str, Any]]:
    return manifests(plan(spec or prod_spec()), KubernetesOptions(**options))


def one(found: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(item for item in found if item["kind"] == kind and item["metadata"]["name"] == name)


def pod_templates(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{item['kind']}/{item['metadata']['name']}": item["spec"]["template"]
        for item in found
        if item["kind"] in ("StatefulSet", "Deployment", "Job")
    }


def validation_errors(manifest: dict[str, Any]) -> list[str]:
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{version} {manifest['kind']}/{manifest['metadata']['name']}: {error.message}")
    return errors


# ---------------------------------------------------------------------------------------------- the manifests


def test_the_validator_is_strict() -> None:
    service = one(objects(), "Service", "redis-node")
    assert validation_errors(service) == []
    assert validation_errors({**service, "spec": {**service["spec"], "clusterIp": "None"}})  # misspelled field


def test_every_object_validates_strictly_on_the_oldest_and_newest_minor() -> None:
    spec = prod_spec(auth={"acl_users": [{"name": "reports"}]}, monitoring=OPERATOR_ON)
    found = objects(spec)
    checked = [item for item in found if item["kind"] not in CUSTOM_RESOURCE_KINDS]
    assert [error for item in checked for error in validation_errors(item)] == []
    assert {item["kind"] for item in found} == {
        "Namespace", "ServiceAccount", "Secret", "ConfigMap", "Service", "StatefulSet", "Deployment",
        "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule", "Job",
        "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
    }  # fmt: skip


def test_objects_carry_the_recommended_labels_and_selectors_match_their_pods() -> None:
    found = objects(prod_spec(monitoring=OPERATOR_ON))
    unlabelled = [item["metadata"]["name"] for item in found if RECOMMENDED_LABELS - set(item["metadata"]["labels"])]
    assert unlabelled == []
    templates = pod_templates(found)
    for name, template in templates.items():
        assert set(template["metadata"]["labels"]) >= RECOMMENDED_LABELS, name
    for item in found:
        if item["kind"] in ("StatefulSet", "Deployment"):
            selector = item["spec"]["selector"]["matchLabels"]
            assert selector.items() <= item["spec"]["template"]["metadata"]["labels"].items()
        if item["kind"] == "Service":
            selector = item["spec"]["selector"]
            matched = [name for name, t in templates.items() if selector.items() <= t["metadata"]["labels"].items()]
            assert len(matched) == 1, (item["metadata"]["name"], matched)
    cluster_scoped = ("Namespace", "ClusterRole", "ClusterRoleBinding")
    assert all(item["metadata"]["namespace"] == "cache" for item in found if item["kind"] not in cluster_scoped)


def test_every_pod_meets_the_restricted_pod_security_standard() -> None:
    namespace = one(objects(), "Namespace", "cache")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    templates = pod_templates(objects())
    assert len(templates) == 6  # 4 StatefulSets, the exporter, the hook Job
    for name, template in templates.items():
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod), name
        for volume in pod["volumes"]:
            assert set(volume) - {"name"} <= {"configMap", "emptyDir", "secret"}, (name, volume)
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            }, name
            assert "ports" not in container or all("hostPort" not in port for port in container["ports"]), name
            assert container["resources"]["limits"]["memory"].endswith("Mi"), name


def test_cluster_nodes_are_one_stateful_set_that_announces_each_pods_dns_name() -> None:
    found = objects()
    nodes = one(found, "StatefulSet", "redis-node")["spec"]
    assert nodes["replicas"] == 6 and nodes["ordinals"] == {"start": 1}
    assert nodes["podManagementPolicy"] == "Parallel"
    assert nodes["serviceName"] == "redis-node-headless"
    claim = nodes["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "standard" and claim["resources"]["requests"]["storage"] == "2Gi"
    container = nodes["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert (
        env["CACHE_CLUSTER_ANNOUNCE_HOSTNAME"]["value"]
        == "$(POD_NAME).redis-node-headless.$(POD_NAMESPACE).svc.cluster.local"
    )
    assert set(env) == {"POD_NAME", "POD_NAMESPACE", "CACHE_CLUSTER_ANNOUNCE_HOSTNAME"}  # no password
    assert {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True} in container["volumeMounts"]
    secrets = next(v for v in nodes["template"]["spec"]["volumes"] if v["name"] == "secrets")["secret"]
    assert secrets["secretName"] == "cache-cluster-auth" and secrets["defaultMode"] == 0o444
    assert [item["key"] for item in secrets["items"]] == [
        "redis-admin-password", "redis-exporter-password", "redis-password", "redis-replication-password",
    ]  # fmt: skip
    assert all(item["path"] == item["key"] for item in secrets["items"])
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    config = one(found, "ConfigMap", "redis-node-config")["data"]
    assert "cluster-announce-hostname" not in config["redis.conf"]
    assert "cluster-preferred-endpoint-type hostname" in config["redis.conf"]
    assert "cluster-config-file nodes.conf" in config["redis.conf"] and "dir /data" in config["redis.conf"]
    assert "cluster-announce-hostname %s" in config["entrypoint.sh"]
    # maxmemory stays below the memory limit.
    assert "maxmemory 768mb" in config["redis.conf"]
    assert container["resources"]["limits"]["memory"] == "1024Mi"
    headless = one(found, "Service", "redis-node-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert [port["port"] for port in headless["ports"]] == [7001, 17001]
    assert [port["port"] for port in one(found, "Service", "redis-node")["spec"]["ports"]] == [7001]


def test_probes_ping_and_readiness_needs_a_formed_cluster() -> None:
    container = one(objects(), "StatefulSet", "redis-node")["spec"]["template"]["spec"]["containers"][0]
    ping = (
        '[ "$(redis-cli --no-auth-warning --user exporter --askpass -p 7001 ping '
        '< /run/secrets/redis-exporter-password)" = PONG ]'
    )
    assert container["livenessProbe"]["exec"]["command"] == ["sh", "-c", ping]
    assert container["startupProbe"]["exec"]["command"] == ["sh", "-c", ping]
    readiness = container["readinessProbe"]["exec"]["command"][2]
    assert readiness.startswith(ping + " && ") and "cluster_state:ok" in readiness
    sentinel = one(objects(), "StatefulSet", "redis-sentinel")["spec"]["template"]["spec"]["containers"][0]
    assert sentinel["readinessProbe"]["exec"]["command"] == [
        "sh",
        "-c",
        '[ "$(redis-cli --no-auth-warning --user exporter --askpass -p 26379 ping '
        '< /run/secrets/redis-exporter-password)" = PONG ]',
    ]


def test_placement_spreads_pods_over_kubernetes_nodes_and_zones() -> None:
    spec = prod_spec(kubernetes={"topology_key": "example.com/rack"})
    pod = one(objects(spec), "StatefulSet", "redis-node")["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "example.com/rack"
    assert term["podAffinityTerm"]["labelSelector"] == {
        "matchLabels": {"app.kubernetes.io/instance": "cache-cluster", "app.kubernetes.io/component": "cluster-node"}
    }
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_disruption_budgets_allow_one_pod_per_role() -> None:
    budgets = {item["metadata"]["name"]: item["spec"] for item in objects() if item["kind"] == "PodDisruptionBudget"}
    assert {name: spec["maxUnavailable"] for name, spec in budgets.items()} == {
        "redis-node": 1,
        "redis-sentinel": 1,
        "redis-fallback": 1,
    }
    assert budgets["redis-fallback"]["selector"]["matchExpressions"][0]["values"] == [
        "fallback-primary",
        "fallback-replica",
    ]


def test_network_policies_open_bus_ports_between_nodes_only() -> None:
    found = objects()
    node_policy = one(found, "NetworkPolicy", "redis-node")["spec"]
    client_rule, bus_rule = node_policy["ingress"]
    assert bus_rule["ports"] == [{"protocol": "TCP", "port": 17001}]
    assert bus_rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "cache-cluster",
                                         "app.kubernetes.io/component": "cluster-node"}}}
    ]  # fmt: skip
    assert {"namespaceSelector": {"matchLabels": {"cache-cluster.io/client": "true"}}} in client_rule["from"]
    exporter = one(found, "NetworkPolicy", "redis-exporter")["spec"]["ingress"][0]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in exporter["from"]
    assert not any(item["kind"] == "NetworkPolicy" for item in objects(prod_spec(kubernetes={"network_policy": False})))


def test_the_exporter_scrapes_every_instance_through_one_deployment() -> None:
    found = objects(prod_spec(monitoring=OPERATOR_ON), operator_labels={"release": "prometheus"})
    container = one(found, "Deployment", "redis-exporter")["spec"]["template"]["spec"]["containers"][0]
    assert "--redis.addr=redis://redis-node-1.redis-node-headless.cache.svc.cluster.local:7001" in container["args"]
    monitor = one(found, "ServiceMonitor", "cache-cluster-redis")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/instance": "cache-cluster",
        "app.kubernetes.io/component": "exporter",
    }
    exporter_service = one(found, "Service", "redis-exporter")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= exporter_service["metadata"]["labels"].items()
    assert [port["name"] for port in exporter_service["spec"]["ports"]] == ["metrics"]
    endpoints = monitor["spec"]["endpoints"]
    assert {endpoint["port"] for endpoint in endpoints} == {"metrics"}
    targets = [endpoint["params"]["target"][0] for endpoint in endpoints if endpoint["path"] == "/scrape"]
    # Every node listens on the one base port on Kubernetes, reached by its pod's DNS name.
    assert targets == [
        *(f"redis://redis-node-{n}.redis-node-headless.cache.svc.cluster.local:7001" for n in range(1, 7)),
        "redis://redis-fallback.cache.svc.cluster.local:6380",
        "redis://redis-fallback-replica.cache.svc.cluster.local:6381",
        *(f"redis://redis-sentinel-{n}.redis-sentinel-headless.cache.svc.cluster.local:26379" for n in range(1, 4)),
    ]
    rule = one(found, "PrometheusRule", "cache-cluster-alerts")
    assert rule["metadata"]["namespace"] == "cache" and rule["spec"]["groups"]
    assert not any(item["kind"] in CUSTOM_RESOURCE_KINDS for item in objects())  # off by default


def test_the_hook_job_reruns_only_when_what_it_acts_on_changes() -> None:
    found = objects()
    job = found[-1]
    assert job["kind"] == "Job"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "cache-cluster/hook:0.1.0"  # the spec's images.hook
    assert container["command"] == ["cache-cluster"]
    assert container["args"] == [
        "init", "/etc/cache-cluster/cluster.yaml", "--via", "direct",
        "--password-file", "/run/secrets/redis-admin-password", "--timeout", "600",
        "--failure-domains", "kubernetes",
    ]  # fmt: skip
    assert container["env"] == [{"name": "HOME", "value": "/tmp"}]
    volumes = {volume["name"]: volume for volume in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["secrets"]["secret"]["items"] == [{"key": "redis-admin-password", "path": "redis-admin-password"}]
    assert {"name": "spec", "mountPath": "/etc/cache-cluster", "readOnly": True} in container["volumeMounts"]
    same = hook_name(plan(prod_spec()), KubernetesOptions())
    assert job["metadata"]["name"] == same
    assert re.fullmatch(r"cache-cluster-init-[0-9a-f]{10}", same)
    bigger = hook_name(plan(prod_spec(topology={"masters": 4, "replicas_per_master": 1})), KubernetesOptions())
    other_image = hook_name(plan(prod_spec()), KubernetesOptions(hook_image="registry.example/hook:2"))
    assert len({same, bigger, other_image}) == 3
    spec_text = yaml.safe_load(one(found, "ConfigMap", "cache-cluster-hook-spec")["data"]["cluster.yaml"])
    assert spec_text["target"] == "kubernetes" and "password" not in spec_text["auth"]


def test_only_the_hook_reads_the_api_and_only_where_pods_run() -> None:
    found = objects()
    accounts = {item["metadata"]["name"]: item["automountServiceAccountToken"] for item in found
                if item["kind"] == "ServiceAccount"}  # fmt: skip
    assert [name for name, mounted in accounts.items() if mounted] == ["cache-cluster-hook"]
    role = one(found, "Role", "cache-cluster-hook-pods")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    cluster_role = one(found, "ClusterRole", "cache-cache-cluster-hook-nodes")
    assert cluster_role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
    binding = one(found, "ClusterRoleBinding", "cache-cache-cluster-hook-nodes")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cache-cluster-hook", "namespace": "cache"}]
    without_zones = objects(node_zones=False)
    assert {item["kind"] for item in without_zones} >= {"Role", "RoleBinding"}
    assert not {item["kind"] for item in without_zones} & {"ClusterRole", "ClusterRoleBinding"}


def test_a_docker_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="target: kubernetes"):
        objects(ClusterSpec())


# ------------------------------------------------------------------------------------------- under the mocks


@dataclass
class Deployed:
    mocks: pm.RecordingMocks
    component: KubernetesCacheCluster
    env_secret: bool

    def registered(self, type_: str, name: str) -> pm.Registered:
        return next(r for r in pm.of_type(self.mocks, type_) if r.name == name)


def deploy(args: KubernetesCacheClusterArgs) -> Deployed:
    mocks = pm.install("prod")
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        component = KubernetesCacheCluster("cache", args)
        holder["component"] = component
        secret = pulumi.Output.from_input(component.env["REDIS_PASSWORD"].is_secret())
        return secret.apply(lambda found: holder.update(secret=found))

    run()
    return Deployed(mocks, holder["component"], holder["secret"])


@pytest.fixture(scope="module")
def deployed() -> Deployed:
    spec = prod_spec(auth={"acl_users": [{"name": "reports"}]}, monitoring=OPERATOR_ON)
    return deploy(
        {"spec": spec, "password": PASSWORD, "acl_passwords": {"reports": ACL_PASSWORD}, "internal_passwords": INTERNAL}
    )


def _kubernetes(deployed: Deployed) -> list[pm.Registered]:
    return [r for r in deployed.mocks.resources if r.type.startswith("kubernetes:")]


def _as_manifest(record: pm.Registered) -> dict[str, Any]:
    """The inputs as the API would get them (the mocks carry numbers as floats, as protobuf does)."""

    def ints(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {key: ints(item) for key, item in value.items()}
        if isinstance(value, list):
            return [ints(item) for item in value]
        return value

    return ints(record.inputs)


def test_every_registered_object_validates_strictly(deployed: Deployed) -> None:
    records = _kubernetes(deployed)
    assert len(records) == 40  # the ServiceMonitor and PrometheusRule among them, as CustomResources
    checked = [_as_manifest(r) for r in records if r.inputs["kind"] not in CUSTOM_RESOURCE_KINDS]
    assert [error for item in checked for error in validation_errors(item)] == []


def test_children_are_parented_to_the_component(deployed: Deployed) -> None:
    (component,) = [r for r in deployed.mocks.resources if r.type == COMPONENT]
    assert {r.parent for r in deployed.mocks.resources if r.type != COMPONENT} == {component.urn}


def test_the_password_is_only_in_the_secret_and_stays_secret(deployed: Deployed) -> None:
    secret = deployed.registered("kubernetes:core/v1:Secret", "cache-secret-cache-cluster-auth")
    data = dict(secret.inputs["stringData"])
    exporter_map = json.loads(data.pop("redis-exporter-password-map"))
    assert data == {
        "redis-password": PASSWORD,
        "redis-acl-reports-password": ACL_PASSWORD,
        "redis-admin-password": "Admin-user-password.0123456789",
        "redis-exporter-password": "Exporter-user-password.0123456789",
        "redis-replication-password": "Replication-password.0123456789",
        "redis-sentinel-password": "Sentinel-user-password.0123456789",
    }
    # The exporter signs in everywhere it scrapes (6 nodes, the fallback pair, 3 sentinels) with its own password.
    assert len(exporter_map) == 11 and set(exporter_map.values()) == {"Exporter-user-password.0123456789"}
    assert exporter_map["redis://redis-sentinel-3.redis-sentinel-headless.cache.svc.cluster.local:26379"]
    assert "stringData" in secret.secret
    passwords = [PASSWORD, ACL_PASSWORD, *INTERNAL.values()]
    carriers = {r.name for r in deployed.mocks.resources if any(r.carries(password) for password in passwords)}
    assert carriers == {"cache-secret-cache-cluster-auth"}
    assert deployed.env_secret is True


def test_the_hook_job_comes_last_and_waits_for_everything(deployed: Deployed) -> None:
    job = deployed.registered("kubernetes:batch/v1:Job", "cache-init")
    others = {r.urn for r in _kubernetes(deployed) if r.name != "cache-init"}
    assert set(job.dependencies) == others
    nodes = deployed.registered("kubernetes:apps/v1:StatefulSet", "cache-statefulset-redis-node")
    assert nodes.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert set(nodes.dependencies) >= {
        deployed.registered("kubernetes:core/v1:ConfigMap", "cache-configmap-redis-node-config").urn,
        deployed.registered("kubernetes:core/v1:Secret", "cache-secret-cache-cluster-auth").urn,
    }
    fallback = deployed.registered("kubernetes:apps/v1:StatefulSet", "cache-statefulset-redis-fallback")
    assert "annotations" not in fallback.inputs["metadata"]  # ready on PONG alone: awaited as usual


def test_outputs_use_the_cluster_dns_names(deployed: Deployed) -> None:
    component = deployed.component
    assert component.node_endpoints[5] == "redis-node-6.redis-node-headless.cache.svc.cluster.local:7001"
    assert component.exporter_url == "http://redis-exporter.cache.svc.cluster.local:9121"
    assert component.namespace == "cache" and component.host_address_map == {}


def test_the_hook_image_comes_from_the_args_or_the_environment() -> None:
    spec = prod_spec()
    assert options_from({"spec": spec}, {}).hook_image is None  # the spec's images.hook
    assert options_from({"spec": spec}, {"CACHE_CLUSTER_HOOK_IMAGE": "local/hook:1"}).hook_image == "local/hook:1"
    given = options_from({"spec": spec, "hook_image": "given/hook:2"}, {"CACHE_CLUSTER_HOOK_IMAGE": "local/hook:1"})
    assert given.hook_image == "given/hook:2"


def test_a_docker_spec_is_a_clean_deploy_error() -> None:
    with pytest.raises(pulumi.RunError, match="fix: set target: kubernetes"):
        deploy({"spec": ClusterSpec()})


# ------------------------------------------------------------------------------------------ render kubernetes


def test_render_writes_every_object_and_a_kustomization_without_secrets(tmp_path: Path) -> None:
    spec_file = tmp_path / "cluster.yaml"
    spec_file.write_text(
        yaml.safe_dump({**yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["cache-cluster:cluster"],
                        "auth": {"password": PASSWORD}})
    )  # fmt: skip
    out = tmp_path / "manifests"
    result = run_cli(*["render", "kubernetes", str(spec_file), "--output", str(out)])
    assert result.returncode == 0, result.stdout + result.stderr
    written = {path.name: path.read_text() for path in out.iterdir()}
    assert [name for name, text in written.items() if PASSWORD in text] == []
    assert written[".gitignore"] == "secrets/\n" and "secrets" not in written
    kustomization = yaml.safe_load(written["kustomization.yaml"])
    assert sorted(kustomization["resources"]) == sorted(
        name for name in written if name.endswith(".yaml") and name != "kustomization.yaml"
    )
    assert kustomization["secretGenerator"][0]["name"] == "cache-cluster-auth"
    assert kustomization["secretGenerator"][0]["files"] == [
        "redis-admin-password=secrets/redis-admin-password",
        "redis-exporter-password=secrets/redis-exporter-password",
        "redis-exporter-password-map=secrets/redis-exporter-password-map",
        "redis-password=secrets/redis-password",
        "redis-replication-password=secrets/redis-replication-password",
        "redis-sentinel-password=secrets/redis-sentinel-password",
    ]
    assert "cache-cluster render secrets ../cluster.yaml --dir secrets" in written["kustomization.yaml"]
    documents = [yaml.safe_load(written[name]) for name in kustomization["resources"]]
    assert len(documents) == 37  # every object but the Secret (and no operator objects unless the spec asks)
    assert [error for item in documents for error in validation_errors(item)] == []


def test_render_with_an_existing_secret_and_no_namespace(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    args = ["render", "kubernetes", "Pulumi.prod.yaml", "-o", str(out), "--existing-secret", "my-redis-auth"]
    result = run_cli(*args, "--no-namespace", "--project-dir", str(ROOT), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kustomization and not (out / ".gitignore").exists()
    assert "namespace-cache.yaml" not in kustomization["resources"]
    for name in ("statefulset-redis-node.yaml", "deployment-redis-exporter.yaml"):
        pod = yaml.safe_load((out / name).read_text())["spec"]["template"]["spec"]
        assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == ["my-redis-auth"], name


def test_render_refuses_a_docker_spec(tmp_path: Path) -> None:
    result = run_cli(*["render", "kubernetes", "Pulumi.dev.yaml", "-o", str(tmp_path)], cwd=ROOT)
    assert result.returncode == 2
    assert "fix: set target: kubernetes" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_render_files_are_stable_and_replace_their_own_stale_files(tmp_path: Path) -> None:
    deployment = plan(prod_spec())
    first = render_files(deployment, KubernetesOptions(), source="x", generate_secret=True)
    assert first == render_files(deployment, KubernetesOptions(), source="x", generate_secret=True)
    out = tmp_path / "m"
    assert run_cli(*["render", "kubernetes", "Pulumi.prod.yaml", "-o", str(out)], cwd=ROOT).returncode == 0
    (out / "mine.yaml").write_text("kind: Mine\n")
    stale = out / "job-cache-cluster-init-0000000000.yaml"
    stale.write_text("# Rendered by cache-cluster from x.\nkind: Job\n")
    assert run_cli(*["render", "kubernetes", "Pulumi.prod.yaml", "-o", str(out)], cwd=ROOT).returncode == 0
    assert (out / "mine.yaml").exists() and not stale.exists()


def test_render_compose_refuses_a_kubernetes_spec(tmp_path: Path) -> None:
    result = run_cli("render", "compose", "Pulumi.prod.yaml", "--output", str(tmp_path / "c.yml"), cwd=ROOT)
    assert result.returncode == 2
    assert "fix: use `cache-cluster render kubernetes`" in result.stderr
    assert not (tmp_path / "c.yml").exists()

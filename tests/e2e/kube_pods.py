"""Run rendered Kubernetes pod templates as containers on the real Docker engine (no API server here).

A pod becomes one container (every pod template here has one container) with:
- the template's image, `command` as the entrypoint and `args` after it;
- its env: plain values, downward-API fields (`metadata.name`, `metadata.namespace`), `secretKeyRef`s from
  the Secrets the test holds, and `$(VAR)` references expanded from the variables declared before, as the
  kubelet does;
- ConfigMap volumes, and Secret volumes (their `items`, from the Secrets the test holds), as read-only bind
  mounts of the files (with the volume's defaultMode),
  emptyDir as tmpfs, and a named Docker volume per PVC (`volumeClaimTemplates`), kept when the pod goes;
- its DNS names as network aliases: `<pod>.<headless service>.<namespace>.svc.<domain>` for a StatefulSet's
  pod, and `<service>` / `<service>.<namespace>.svc.<domain>` for every Service that selects it;
- the pod's security context (user, read-only root filesystem, no capabilities, no new privileges) and
  memory limit; `shareProcessNamespace` (a pause process as pid 1 that reaps orphans) as Docker's `--init`;
- `restartPolicy: Always` as Docker's restart policy, so a container that exits is started again.

Probes are not run by a kubelet: `probe(pod, kind)` runs a probe's exec command with `docker exec`, which sees
the container's env. What only a real cluster shows (scheduling, anti-affinity, PDBs, NetworkPolicy
enforcement, Service virtual IPs) is not emulated. Only cluster nodes are also published on 127.0.0.1 (the test
reads its keys from the host through them); nothing else is reachable from outside the Docker network.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]
VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} ... exited {result.returncode}: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class Pod:
    name: str
    owner: Manifest  # the StatefulSet, Deployment or Job
    template: Manifest

    @property
    def container(self) -> Manifest:
        (container,) = self.template["spec"]["containers"]
        return dict(container)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.template["metadata"].get("labels", {}))


def stateful_pods(manifests: Sequence[Manifest]) -> list[Pod]:
    """The pods every StatefulSet makes: `<set>-<ordinal>` from `ordinals.start`."""
    pods = []
    for item in manifests:
        if item["kind"] == "StatefulSet":
            start = item["spec"].get("ordinals", {}).get("start", 0)
            for ordinal in range(start, start + item["spec"]["replicas"]):
                pods.append(Pod(f"{item['metadata']['name']}-{ordinal}", item, item["spec"]["template"]))
    return pods


def deployment_pods(manifests: Sequence[Manifest]) -> tuple[list[Pod], list[Pod], Pod]:
    """The cluster nodes' pods; every other long-running pod (the StatefulSets', then the exporter Deployment's
    one pod, last); and the hook Job's pod."""
    every = stateful_pods(manifests)
    nodes = [pod for pod in every if pod.labels["app.kubernetes.io/component"] == "cluster-node"]
    exporter = next(item for item in manifests if item["kind"] == "Deployment")
    job = next(item for item in manifests if item["kind"] == "Job")
    exporter_pod = Pod(f"{exporter['metadata']['name']}-0", exporter, exporter["spec"]["template"])
    others = [pod for pod in every if pod not in nodes] + [exporter_pod]
    return nodes, others, Pod(job["metadata"]["name"], job, job["spec"]["template"])


def expand(value: str, known: Mapping[str, str]) -> str:
    """`$(VAR)` as the kubelet expands it: a declared variable's value, anything else left as written."""
    return VARIABLE.sub(lambda match: known.get(match.group(1), match.group(0)), value)


@dataclass
class PodsOnDocker:
    prefix: str  # container, volume and network names start with it
    network: str
    namespace: str
    cluster_domain: str
    manifests: Sequence[Manifest]
    secrets: Mapping[str, Mapping[str, str]]  # Secret name -> key -> value
    files_dir: Path  # where ConfigMap files are written for bind mounts
    published: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # pod -> (container port, host port)
    extra_mounts: Mapping[str, Sequence[str]] = field(default_factory=dict)  # pod -> docker -v values

    def fqdn(self, pod: Pod) -> str:
        """A StatefulSet pod's DNS name: `<pod>.<headless service>.<namespace>.svc.<domain>`."""
        return f"{pod.name}.{pod.owner['spec']['serviceName']}.{self.namespace}.svc.{self.cluster_domain}"

    def remap(self, pods: Sequence[Pod]) -> Callable[[tuple[str, int]], tuple[str, int]]:
        """For a client on the host: a published pod's announced name:port -> 127.0.0.1:<its host port>."""
        by_name = {self.fqdn(pod): self.published[pod.name][1] for pod in pods if pod.name in self.published}

        def remap(address: tuple[str, int]) -> tuple[str, int]:
            return ("127.0.0.1", by_name[address[0]]) if address[0] in by_name else address

        return remap

    def container_name(self, pod: str) -> str:
        return f"{self.prefix}-{pod}"

    def volume_name(self, claim: str, pod: str) -> str:
        return f"{self.prefix}-{claim}-{pod}"

    # ---------------------------------------------------------------------------------------- translation

    def env(self, pod: Pod) -> dict[str, str]:
        values: dict[str, str] = {}
        for item in pod.container.get("env", []):
            source = item.get("valueFrom")
            if source is None:
                values[item["name"]] = expand(item["value"], values)
            elif "fieldRef" in source:
                path = source["fieldRef"]["fieldPath"]
                values[item["name"]] = {"metadata.name": pod.name, "metadata.namespace": self.namespace}[path]
            else:
                ref = source["secretKeyRef"]
                values[item["name"]] = self.secrets[ref["name"]][ref["key"]]
        return values

    def aliases(self, pod: Pod) -> list[str]:
        suffix = f"{self.namespace}.svc.{self.cluster_domain}"
        found = []
        if pod.owner["kind"] == "StatefulSet":
            found.append(self.fqdn(pod))
        services = [
            item["metadata"]["name"]
            for item in self.manifests
            if item["kind"] == "Service"
            and item["spec"].get("clusterIP") != "None"
            and item["spec"]["selector"].items() <= pod.labels.items()
        ]
        for service in services:
            found += [service, f"{service}.{suffix}"]
        return found

    def _config_map(self, name: str) -> Manifest:
        return next(i for i in self.manifests if i["kind"] == "ConfigMap" and i["metadata"]["name"] == name)

    def _files(self, pod: Pod, volume: str, files: Mapping[str, str], mode: int) -> Path:
        directory = self.files_dir / pod.name / volume
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        for file_name, content in files.items():
            target = directory / file_name
            if target.exists():
                target.chmod(0o644)
            target.write_text(content, encoding="utf-8")
            target.chmod(mode)
        return directory

    def mounts(self, pod: Pod) -> list[str]:
        volumes = {volume["name"]: volume for volume in pod.template["spec"].get("volumes", [])}
        claims = {claim["metadata"]["name"] for claim in pod.owner["spec"].get("volumeClaimTemplates", [])}
        args: list[str] = []
        for mount in pod.container.get("volumeMounts", []):
            name, path = mount["name"], mount["mountPath"]
            if name in claims:
                args += ["--mount", f"type=volume,source={self.volume_name(name, pod.name)},destination={path}"]
                continue
            volume = volumes[name]
            if "emptyDir" in volume:
                args += ["--mount", f"type=tmpfs,destination={path},tmpfs-mode=1777"]
            elif "configMap" in volume:
                config = self._config_map(volume["configMap"]["name"])
                mode = volume["configMap"].get("defaultMode", 0o644)
                directory = self._files(pod, name, config["data"], mode)
                args += ["--mount", f"type=bind,source={directory},destination={path},readonly"]
            elif "secret" in volume:
                source = volume["secret"]
                data = self.secrets[source["secretName"]]
                items = source.get("items") or [{"key": key, "path": key} for key in data]
                files = {item["path"]: data[item["key"]] for item in items}
                directory = self._files(pod, name, files, source.get("defaultMode", 0o644))
                args += ["--mount", f"type=bind,source={directory},destination={path},readonly"]
            else:
                raise ValueError(f"{pod.name}: volume {name} is not a PVC, an emptyDir, a ConfigMap or a Secret")
        return args

    def run_args(self, pod: Pod, ip: str | None, *, detach: bool) -> list[str]:
        container, spec = pod.container, pod.template["spec"]
        context = spec.get("securityContext", {})
        args = ["run", "--name", self.container_name(pod.name), "--network", self.network, "--hostname", pod.name]
        args += ["--label", f"cctest.prefix={self.prefix}"]
        if ip:
            args += ["--ip", ip]
        for alias in self.aliases(pod):
            args += ["--network-alias", alias]
        if "runAsUser" in context:
            args += ["--user", f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}"]
        security = container.get("securityContext", {})
        if security.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        if security.get("capabilities", {}).get("drop") == ["ALL"]:
            args += ["--cap-drop", "ALL"]
        if security.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        memory = container.get("resources", {}).get("limits", {}).get("memory")
        if memory:
            args += ["--memory", memory.replace("Mi", "m")]
        if spec.get("shareProcessNamespace"):
            args.append("--init")
        if spec.get("restartPolicy", "Always") == "Always":
            args += ["--restart", "always"]
        if pod.name in self.published:
            container_port, host_port = self.published[pod.name]
            args += ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
        for name, value in self.env(pod).items():
            args += ["--env", f"{name}={value}"]
        args += self.mounts(pod)
        for mount in self.extra_mounts.get(pod.name, ()):
            args += ["-v", mount]
        command = list(container.get("command", []))
        if command:
            args += ["--entrypoint", command[0]]
        args += ["-d"] if detach else []
        return [*args, container["image"], *command[1:], *container.get("args", [])]

    # --------------------------------------------------------------------------------------------- actions

    def start(self, pod: Pod, ip: str | None = None) -> None:
        docker(*self.run_args(pod, ip, detach=True))

    def run_to_completion(self, pod: Pod, *, timeout: float) -> subprocess.CompletedProcess[str]:
        """A Job's pod: run it, wait for it to exit, keep nothing."""
        args = self.run_args(pod, None, detach=False)
        args.insert(1, "--rm")
        return docker(*args, timeout=timeout, check=False)

    def delete(self, pods: Sequence[Pod]) -> None:
        """Pods deleted as Kubernetes does: SIGTERM, up to terminationGracePeriodSeconds, then gone (volumes
        kept). Redis writes its AOF on SIGTERM; a SIGKILL could drop the last second of writes."""
        grace = max(pod.template["spec"].get("terminationGracePeriodSeconds", 30) for pod in pods)
        names = [self.container_name(pod.name) for pod in pods]
        docker("stop", "--time", str(grace), *names, check=False, timeout=grace + 60)
        docker("rm", "-f", *names, check=False, timeout=60)

    def remove(self, pod: str, *, volumes: bool = False) -> None:
        """A pod lost without notice (its node died), and with `volumes` its PVCs too."""
        docker("rm", "-f", self.container_name(pod), check=False)
        if volumes:
            for item in docker("volume", "ls", "-q", "--filter", f"name={self.prefix}-").stdout.split():
                if item.endswith(f"-{pod}"):
                    docker("volume", "rm", "-f", item, check=False)

    def probe(self, pod: Pod, kind: str) -> bool:
        """Run the pod's `readinessProbe` / `livenessProbe` / `startupProbe` exec command once."""
        command = pod.container[kind]["exec"]["command"]
        timeout = pod.container[kind].get("timeoutSeconds", 1) + 5
        found = docker("exec", self.container_name(pod.name), *command, timeout=timeout, check=False)
        return found.returncode == 0

    def ip(self, pod: str) -> str:
        template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        return docker("inspect", "-f", template, self.container_name(pod)).stdout.strip()

    def clean(self) -> None:
        """Everything of this prefix: containers, volumes, the network."""
        containers = docker("ps", "-aq", "--filter", f"label=cctest.prefix={self.prefix}").stdout.split()
        if containers:
            docker("rm", "-f", *containers, check=False, timeout=120)
        volumes = docker("volume", "ls", "-q", "--filter", f"name={self.prefix}-").stdout.split()
        if volumes:
            docker("volume", "rm", "-f", *volumes, check=False)
        docker("network", "rm", self.network, check=False)

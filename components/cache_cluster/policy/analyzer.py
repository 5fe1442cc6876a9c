"""Start a Python policy pack as the Pulumi engine does and call its Analyzer service over gRPC.

The engine (sdk/go/common/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer) runs the shim
`pulumi-analyzer-policy-python <engine address> .` in the pack's directory, which is
`python -u -m pulumi.policy <engine address> .`; the pack prints the port it serves on as its first stdout line.
The engine then calls Handshake (optional), ConfigureStack, Configure (policy config), GetAnalyzerInfo, Analyze
for each resource (its inputs) and AnalyzeStack once (every resource, with parents and dependencies).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ..errors import CacheClusterError
from .capture import Captured

START_DEADLINE_SECONDS = 60.0
CALL_DEADLINE_SECONDS = 60.0
# The pack never calls the engine back for these calls; the shim's argument is passed as the engine passes it.
ENGINE_ADDRESS = "127.0.0.1:0"
LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_VALUES = {name: value for value, name in LEVEL_NAMES.items()}


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    message: str

    @property
    def resource(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else "<stack>"


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(values), struct)
    return struct


def _options(resource: Captured) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        parent=resource.parent, additionalSecretOutputs=resource.additional_secret_outputs
    )


def analyze_request(resource: Captured) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        properties=_struct(resource.properties),
        options=_options(resource),
    )


def analyze_stack_request(resources: Sequence[Captured]) -> analyzer_pb2.AnalyzeStackRequest:
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=resource.type,
                name=resource.name,
                urn=resource.urn,
                properties=_struct(resource.properties),
                options=_options(resource),
                parent=resource.parent,
                dependencies=resource.dependencies,
                propertyDependencies={
                    key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                    for key, urns in resource.property_dependencies.items()
                },
            )
            for resource in resources
        ]
    )


def violations(response: analyzer_pb2.AnalyzeResponse) -> list[Violation]:
    return [
        Violation(
            diagnostic.policyName,
            LEVEL_NAMES.get(diagnostic.enforcementLevel, "unknown"),
            diagnostic.urn,
            diagnostic.message,
        )
        for diagnostic in response.diagnostics
    ]


class Pack:
    """A running policy pack and a gRPC client to it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def handshake(self, pack_dir: Path) -> None:
        """The engine's first call; a pack that does not implement it is fine (the engine falls back too)."""
        directory = str(pack_dir.resolve())
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=ENGINE_ADDRESS, root_directory=directory, program_directory=directory
        )
        try:
            self.stub.Handshake(request, timeout=CALL_DEADLINE_SECONDS)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        info: analyzer_pb2.AnalyzerInfo = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_DEADLINE_SECONDS)
        return info

    def configure(self, stack: str, project: str, policy_config: Mapping[str, Any] | None = None) -> None:
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project=project, dry_run=True),
            timeout=CALL_DEADLINE_SECONDS,
        )
        if policy_config:
            request = analyzer_pb2.ConfigureAnalyzerRequest()
            for name, value in policy_config.items():
                config = analyzer_pb2.PolicyConfig()
                if isinstance(value, str):
                    config.enforcementLevel = LEVEL_VALUES[value]
                else:
                    config.enforcementLevel = LEVEL_VALUES[value.get("enforcementLevel", "mandatory")]
                    json_format.ParseDict(
                        {k: v for k, v in value.items() if k != "enforcementLevel"}, config.properties
                    )
                request.policyConfig[name].CopyFrom(config)
            self.stub.Configure(request, timeout=CALL_DEADLINE_SECONDS)

    def analyze(self, resource: Captured) -> list[Violation]:
        # The engine pins a resource policy's diagnostics to the resource analyzed; the pack leaves urn empty.
        found = violations(self.stub.Analyze(analyze_request(resource), timeout=CALL_DEADLINE_SECONDS))
        return [Violation(v.policy, v.level, v.urn or resource.urn, v.message) for v in found]

    def analyze_stack(self, resources: Sequence[Captured]) -> list[Violation]:
        return violations(self.stub.AnalyzeStack(analyze_stack_request(resources), timeout=CALL_DEADLINE_SECONDS))

    def check(self, resources: Sequence[Captured]) -> list[Violation]:
        """What `pulumi preview --policy-pack` asks: every resource, then the stack."""
        found = [violation for resource in resources for violation in self.analyze(resource)]
        return found + self.analyze_stack(resources)


def _read_port(process: subprocess.Popen[bytes], pack_dir: Path) -> int:
    """The first stdout line, as the engine reads it; a deadline, and the pack's stderr when it fails."""
    line: list[bytes] = []
    reader = threading.Thread(
        target=lambda: line.append(process.stdout.readline() if process.stdout else b""), daemon=True
    )
    reader.start()
    reader.join(START_DEADLINE_SECONDS)
    text = line[0].decode().strip() if line else ""
    if not text.isdigit():
        process.kill()
        _, stderr = process.communicate(timeout=10)
        waited = "" if line else f" within {START_DEADLINE_SECONDS:g} s"
        raise CacheClusterError(
            f"the policy pack in {pack_dir} did not print its port{waited}; its output:\n"
            + (stderr.decode(errors="replace").strip() or text or "(nothing)")
            + "\nfix: install the pack's requirements (pip install -r policies/requirements.txt)"
        )
    return int(text)


@contextmanager
def running_pack(pack_dir: Path, python: str = sys.executable) -> Iterator[Pack]:
    """Start the pack in `pack_dir` as the engine's Python shim does; stop it on exit."""
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise CacheClusterError(
            f"{pack_dir} holds no PulumiPolicy.yaml; fix: pass --pack with the policy pack's directory"
        )
    process = subprocess.Popen(
        [python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, "."],
        cwd=pack_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        pack = Pack(process, _read_port(process, pack_dir))
        pack.handshake(pack_dir)
        try:
            yield pack
        finally:
            pack.channel.close()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

"""Pulumi under mocks, recording every resource registration (pulumi.runtime.set_mocks, as Pulumi documents).

`MockResourceArgs` carries neither the parent nor the dependencies, so the monitor records them from the
RegisterResource request itself. Inputs arrive as the engine would see them: a secret value is wrapped in
Pulumi's secret signature, and the wrapper is pushed up to the top-level property that holds it; `secret`
lists those properties and `inputs` holds the unwrapped values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

PROJECT = "cache-cluster"
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
COMMAND = "command:local:Command"
DOCKER_PROVIDER = "pulumi:providers:docker"
COMPONENT = "cache-cluster:index:DockerCacheCluster"
GENERATED_PASSWORD = "GeneratedByMocks0123456789abcdef"  # 32 letters and digits, as RandomPassword makes them
TLS_PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
TLS_SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
TLS_CERT_REQUEST = "tls:index/certRequest:CertRequest"
TLS_LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
# What the mocks answer for pulumi-tls's computed outputs: recognisable text naming the resource.
TLS_OUTPUTS = {
    TLS_PRIVATE_KEY: ("private_key_pem", "MOCK PRIVATE KEY of {name}"),
    TLS_SELF_SIGNED: ("cert_pem", "MOCK CERTIFICATE of {name}"),
    TLS_CERT_REQUEST: ("cert_request_pem", "MOCK REQUEST of {name}"),
    TLS_LOCALLY_SIGNED: ("cert_pem", "MOCK CERTIFICATE of {name}"),
}


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    secret: set[str]
    outputs: dict[str, Any] = field(default_factory=dict)
    urn: str = ""
    id: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    provider: str = ""  # the provider reference (`urn::id`) the engine would use, "" for the default provider

    def carries(self, text: str) -> set[str]:
        """Top-level inputs whose value contains `text` anywhere."""
        return {key for key, value in self.inputs.items() if text in json.dumps(value, default=str)}


def _unwrap(value: Any) -> Any:
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = {key: _unwrap(value) for key, value in args.inputs.items()}
        secret = {key for key, value in args.inputs.items() if rpc.is_rpc_secret(value)}
        outputs = dict(args.inputs)
        if args.typ == REMOTE_IMAGE:
            outputs["image_id"] = "sha256:" + hashlib.sha256(inputs["name"].encode()).hexdigest()
        if args.typ == RANDOM_PASSWORD:
            outputs["result"] = GENERATED_PASSWORD
        if args.typ in TLS_OUTPUTS:
            output, text = TLS_OUTPUTS[args.typ]
            outputs[output] = text.format(name=args.name)
        self.resources.append(Registered(args.typ, args.name, inputs, secret, outputs))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """Adds what MockResourceArgs leaves out (URN, parent, dependencies, options) to the mocks' records."""

    mocks: RecordingMocks

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            # Registrations may run on several threads: find this one's record by its (unique) type and name.
            record = next(
                found for found in self.mocks.resources if (found.type, found.name) == (request.type, request.name)
            )
            record.urn, record.id, record.parent = response.urn, response.id, request.parent
            record.dependencies = list(request.dependencies)
            record.additional_secret_outputs = list(request.additionalSecretOutputs)
            record.delete_before_replace = request.deleteBeforeReplace
            record.retain_on_delete = request.retainOnDelete
            record.provider = request.provider
        return response


def install(stack: str = "dev", project: str = PROJECT) -> RecordingMocks:
    """Fresh mocks for one test: every registration from now on is recorded in the returned object."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=RecordingMonitor(mocks))
    return mocks


def of_type(mocks: RecordingMocks, type_: str) -> list[Registered]:
    return [resource for resource in mocks.resources if resource.type == type_]

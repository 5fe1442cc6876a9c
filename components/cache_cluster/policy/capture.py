"""Run a stack program under Pulumi's mocks and keep every resource as the engine would hand it to an analyzer.

The monitor records each RegisterResource request as sent: `object` holds the inputs already in wire shape
(the providers' camelCase names, secrets wrapped in Pulumi's secret signature), with the parent, dependencies and
property dependencies beside it. That is what the engine marshals for Analyze / AnalyzeStack (KeepSecrets), so
the pack sees what it would see under `pulumi preview`. Outputs the providers would compute are filled the way
the unit tests' mocks fill them (an image ID per image, a stand-in for a generated password).
"""

from __future__ import annotations

import hashlib
import json
import runpy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor

from ..errors import CacheClusterError

REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
# What a generated password stands for under mocks: letters and digits, as RandomPassword(special=False) makes them.
STAND_IN_PASSWORD = "PolicyCheckStandIn0123456789abcd"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Captured:
    """One resource as the engine sends it to an analyzer (properties in wire shape)."""

    type: str
    name: str
    urn: str
    properties: dict[str, Any]
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)


TLS_STAND_INS = {
    "tls:index/privateKey:PrivateKey": ("private_key_pem", "-----BEGIN PRIVATE KEY-----\nstand-in\n"),
    "tls:index/selfSignedCert:SelfSignedCert": ("cert_pem", "-----BEGIN CERTIFICATE-----\nstand-in\n"),
    "tls:index/certRequest:CertRequest": ("cert_request_pem", "-----BEGIN CERTIFICATE REQUEST-----\nstand-in\n"),
    "tls:index/locallySignedCert:LocallySignedCert": ("cert_pem", "-----BEGIN CERTIFICATE-----\nstand-in\n"),
}


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == REMOTE_IMAGE:
            outputs["image_id"] = "sha256:" + hashlib.sha256(str(args.inputs.get("name")).encode()).hexdigest()
        if args.typ == RANDOM_PASSWORD:
            outputs["result"] = STAND_IN_PASSWORD
        if args.typ in TLS_STAND_INS:  # pulumi-tls's computed PEM (tls.enabled), as text of the right kind
            output, text = TLS_STAND_INS[args.typ]
            outputs[output] = text
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _CapturingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[Captured] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != STACK_TYPE:
            record = Captured(
                type=request.type,
                name=request.name,
                urn=response.urn,
                properties=json_format.MessageToDict(request.object),
                parent=request.parent,
                dependencies=list(request.dependencies),
                property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
                additional_secret_outputs=list(request.additionalSecretOutputs),
            )
            with self._lock:
                self.captured.append(record)
        return response


def capture_program(
    program: Path, *, project: str, stack: str, config: Mapping[str, str], secret_keys: list[str]
) -> list[Captured]:
    """Run `program` (a Pulumi Python program file or directory) under mocks; return its resources in order."""
    mocks = _Mocks()
    monitor = _CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    target = program / "__main__.py" if program.is_dir() else program

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> None:
        runpy.run_path(str(target), run_name="__main__")

    try:
        run()
    except pulumi.RunError as error:
        raise CacheClusterError(f"the stack program {target} refused its input:\n{error}") from None
    finally:
        pulumi.runtime.set_all_config({}, [])
    return monitor.captured


def _engine_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def stack_config(
    stack_file: Path, project: str, declared: Mapping[str, Any] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: the project's declared defaults (Pulumi.yaml `config:`), then
    Pulumi.<stack>.yaml over them; keys namespaced by the project, objects as JSON, secret keys listed.

    A `secure:` value cannot be decrypted here; it is replaced by a stand-in of the right shape, still secret.
    """
    import yaml

    def full(key: str) -> str:
        return key if ":" in key else f"{project}:{key}"

    config: dict[str, str] = {
        full(key): _engine_value(declaration["default"])
        for key, declaration in (declared or {}).items()
        if isinstance(declaration, Mapping) and "default" in declaration
    }
    secret_keys: list[str] = []
    data = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    for key, value in (data.get("config") or {}).items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            config[full(key)] = STAND_IN_PASSWORD
            secret_keys.append(full(key))
        else:
            config[full(key)] = _engine_value(value)
    return config, secret_keys

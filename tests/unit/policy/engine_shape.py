"""What the policy tests share: where the pack is, the engine's secret signature, a stack captured under mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cache_cluster.policy.capture import Captured, capture_program, stack_config

ROOT = Path(__file__).resolve().parents[3]
PACK_DIR = ROOT / "policies"
# sdk/go/common/resource/properties.go: the key that marks a special value, and the value that means "secret".
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def secret(value: Any) -> dict[str, Any]:
    """`value` marked secret, as the engine marshals it for an analyzer (KeepSecrets)."""
    return {SECRET_SIG[0]: SECRET_SIG[1], "value": value}


def capture_stack(stack: str) -> list[Captured]:
    """The resources infra/__main__.py declares for Pulumi.<stack>.yaml, in the engine's shape."""
    config, secret_keys = stack_config(ROOT / f"Pulumi.{stack}.yaml", "cache-cluster")
    return capture_program(ROOT / "infra", project="cache-cluster", stack=stack, config=config, secret_keys=secret_keys)

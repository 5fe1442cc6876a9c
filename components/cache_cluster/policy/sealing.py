"""Keep the engine's secret marks visible to the rules.

The engine sends an analyzer every secret as `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
"value": ...}` (MarshalProperties with KeepSecrets). pulumi-policy's Python servicer unwraps those marks in Analyze
and AnalyzeStack before a policy sees the properties (`deserialize_properties` without `proxy_secrets`), so a rule
could not tell a secret from plain text. The pack's policies need exactly that ("the password is a secret"), so
the servicer's deserializer is replaced by one that turns each secret into `Sealed(value)`; everything else
(assets, archives) is left to the SDK's own code. A value not known during preview becomes `UNKNOWN`, which the
rules skip (the SDK would instead stop the whole policy at the first unknown it meets). Installed when the pack
module is imported.
"""

from __future__ import annotations

from typing import Any

import pulumi_policy.deserialize as sdk_deserialize
import pulumi_policy.policy as sdk_policy
import pulumi_policy.proxy as sdk_proxy

from .resources import UNKNOWN, Sealed

# What the engine sends for a value not known yet (a preview before the resource it comes from exists).
UNKNOWN_SENTINELS = frozenset(
    getattr(sdk_proxy, name) for name in dir(sdk_proxy) if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
)


def _deserialize(value: Any) -> Any:
    if isinstance(value, list):
        return [_deserialize(item) for item in value]
    if isinstance(value, dict):
        signature = value.get(sdk_deserialize.SPECIAL_SIG_KEY)
        if signature == sdk_deserialize.SPECIAL_SECRET_SIG:
            return Sealed(_deserialize(value.get("value")))
        if signature is not None:
            return sdk_deserialize._deserialize_property(value)
        return {key: _deserialize(item) for key, item in value.items()}
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return UNKNOWN
    return value


def deserialize_keeping_secrets(props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
    if proxy_secrets:  # Remediate's path: the SDK's own secret proxies, untouched
        return sdk_deserialize.deserialize_properties(props, proxy_secrets=True)
    return {key: _deserialize(item) for key, item in props.items()}


def install() -> None:
    if not hasattr(sdk_policy, "deserialize_properties"):
        raise RuntimeError(
            "pulumi-policy no longer deserializes through pulumi_policy.policy.deserialize_properties: "
            "the cache-cluster pack cannot see secret marks; pin pulumi-policy to a version it supports"
        )
    sdk_policy.deserialize_properties = deserialize_keeping_secrets

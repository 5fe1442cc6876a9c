"""What every Pulumi target shares: the deploy-time input error, passwords, and the spec handed to the hook.

A password arrives in one of three ways: a Pulumi input (checked where its value is known), the spec (already
checked by the model), or nowhere (generated with pulumi-random). Whichever way, it leaves as a secret Output.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_random as random
from pydantic import ValidationError

from .. import acl
from ..acl import SecretKind
from ..errors import CacheClusterError, Problem, problems_from_validation
from ..plan import DeploymentPlan
from ..spec import Auth, ClusterSpec
from ..spec import spec_json as spec_json  # the hook's spec, importable from here as before

GENERATED_PASSWORD_LENGTH = 32


class DeployInputError(CacheClusterError, pulumi.RunError):
    """Bad input found while deploying: Pulumi prints a RunError's text and exits, without a traceback."""

    def __str__(self) -> str:
        return self.render()


def checked_password(value: str, field: str = "password") -> str:
    """The spec's password rules, for a password that arrives as a Pulumi input rather than in the spec."""
    try:
        Auth.model_validate({"password": value})
    except ValidationError as error:
        # The rule's own messages, pinned to the input (the value itself is never shown).
        problems = [Problem(field, problem.message) for problem in problems_from_validation(error)]
        raise DeployInputError(f"{field} is not acceptable", problems) from None
    return value


def generated_password(resource_name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    # Letters and digits only: the spec's password rule allows nothing that needs quoting anywhere.
    generated = random.RandomPassword(resource_name, length=GENERATED_PASSWORD_LENGTH, special=False, opts=opts)
    return pulumi.Output.secret(generated.result)


def cluster_password(
    name: str, spec: ClusterSpec, given: pulumi.Input[str] | None, opts: pulumi.ResourceOptions
) -> pulumi.Output[str]:
    """The shared password: given, else the spec's, else generated; always a secret."""
    if given is not None:
        # Checked where the value is known; a RunError ends `pulumi up` with the message alone.
        return pulumi.Output.secret(pulumi.Output.from_input(given).apply(checked_password))
    if spec.auth.password is not None:
        return pulumi.Output.secret(spec.auth.password.get_secret_value())
    return generated_password(f"{name}-password", opts)


def acl_passwords(
    name: str, spec: ClusterSpec, given: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> dict[str, pulumi.Output[str]]:
    """One secret password per declared ACL user: given (and checked), else generated."""
    declared = [user.name for user in spec.auth.acl_users]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployInputError(
            f"acl_passwords names users {unknown} that spec.auth.acl_users does not declare; "
            f"fix: declare them, or remove their passwords (declared: {declared})"
        )
    return _given_or_generated(declared, given, "acl_passwords", lambda user: f"{name}-acl-{user}-password", opts)


def internal_passwords(
    name: str, spec: ClusterSpec, given: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> dict[str, pulumi.Output[str]]:
    """The passwords of the built-in users other than the application's (admin, exporter, replication,
    sentinel): given (and checked), else generated; always secrets."""
    kinds = [kind for kind in acl.password_kinds(spec) if kind != "password" and not kind.startswith("acl:")]
    unknown = sorted(set(given) - set(kinds))
    if unknown:
        raise DeployInputError(
            f"internal_passwords names users {unknown} this deployment does not have; fix: use only {kinds}"
        )
    return _given_or_generated(kinds, given, "internal_passwords", lambda kind: f"{name}-{kind}-password", opts)


def _given_or_generated(
    keys: Sequence[str],
    given: Mapping[str, pulumi.Input[str]],
    argument: str,
    resource_name: Callable[[str], str],
    opts: pulumi.ResourceOptions,
) -> dict[str, pulumi.Output[str]]:
    """A secret password per key: given (checked, and named `argument[key]` in errors), else generated."""
    passwords: dict[str, pulumi.Output[str]] = {}
    for key in keys:
        if key in given:
            field = f"{argument}[{key!r}]"
            checked = pulumi.Output.from_input(given[key]).apply(functools.partial(checked_password, field=field))
            passwords[key] = pulumi.Output.secret(checked)
        else:
            passwords[key] = generated_password(resource_name(key), opts)
    return passwords


def secret_values(
    password: pulumi.Output[str],
    acl_users: Mapping[str, pulumi.Output[str]],
    internal: Mapping[str, pulumi.Output[str]] | None = None,
) -> dict[str, pulumi.Output[str]]:
    """Every password by its kind, as acl.py, ServicePlan.secret_files and the contract name them."""
    return {"password": password} | dict(internal or {}) | {f"acl:{user}": value for user, value in acl_users.items()}


def secret_file_contents(
    kinds: Sequence[str], passwords: Mapping[str, pulumi.Output[str]], exporter_targets: Sequence[str]
) -> dict[str, pulumi.Output[str]]:
    """What each secret file holds (acl.secret_contents), as secret Outputs."""
    contents: dict[str, pulumi.Output[str]] = {}
    for kind in kinds:
        if kind == acl.EXPORTER_MAP:
            content = passwords[acl.EXPORTER_USER].apply(
                functools.partial(acl.exporter_password_map, tuple(exporter_targets))
            )
        else:
            content = passwords[kind]
        contents[kind] = pulumi.Output.secret(content)
    return contents


def deployment_secret_files(
    deployment: DeploymentPlan, passwords: Mapping[str, pulumi.Output[str]]
) -> dict[SecretKind, pulumi.Output[str]]:
    """Every secret file any container of the deployment mounts, by kind, as secret Outputs."""
    kinds = list(dict.fromkeys(kind for service in deployment.services for kind in service.secret_files.values()))
    return secret_file_contents(kinds, passwords, deployment.exporter_targets)

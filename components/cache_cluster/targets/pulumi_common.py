"""What every Pulumi target shares: the deploy-time input error, passwords, and the spec handed to the hook.

A password arrives in one of three ways: a Pulumi input (checked where its value is known), the spec (already
checked by the model), or nowhere (generated with pulumi-random). Whichever way, it leaves as a secret Output.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import pulumi
import pulumi_random as random
from pydantic import ValidationError

from ..errors import CacheClusterError, Problem, problems_from_validation
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
    passwords: dict[str, pulumi.Output[str]] = {}
    for user in declared:
        if user in given:
            field = f"acl_passwords[{user!r}]"
            checked = pulumi.Output.from_input(given[user]).apply(functools.partial(checked_password, field=field))
            passwords[user] = pulumi.Output.secret(checked)
        else:
            passwords[user] = generated_password(f"{name}-acl-{user}-password", opts)
    return passwords


def secret_values(
    password: pulumi.Output[str], acl: Mapping[str, pulumi.Output[str]]
) -> dict[str, pulumi.Output[str]]:
    """Every secret by its kind, as ServicePlan.secret_env and the contract name them ("password", "acl:<user>")."""
    return {"password": password} | {f"acl:{user}": value for user, value in acl.items()}

"""The catalog's rules as pulumi-policy Policies; `policies/__main__.py` builds the PolicyPack from them by name.

Importing this module keeps secret marks visible to the rules (sealing.install): the pack sees the engine's
`Sealed` values, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import _DictProxy, _ListProxy

from . import sealing
from .catalog import BY_NAME, RULES, Rule
from .resources import Resource
from .rules import Stack

sealing.install()

PACK_NAME = "cache-cluster"
LEVELS = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY}


def plain(value: Any) -> Any:
    """The SDK's unknown-checking proxies -> dicts and lists (sealing.py has made unknowns `UNKNOWN` already)."""
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _resource(args: Any) -> Resource:
    """A pulumi-policy resource (ResourceValidationArgs or PolicyResource) as the rules' Resource."""
    property_dependencies = getattr(args, "property_dependencies", None) or {}
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        parent=args.parent.urn if getattr(args, "parent", None) is not None else "",
        dependencies=tuple(dependency.urn for dependency in getattr(args, "dependencies", None) or []),
        property_dependencies={key: tuple(dep.urn for dep in deps) for key, deps in property_dependencies.items()},
    )


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    return (
        PolicyConfigSchema(properties={key: dict(schema) for key, schema in rule.config.items()})
        if rule.config
        else None
    )


def _described(rule: Rule) -> dict[str, Any]:
    """What every policy carries, whatever it validates: name, description, level, config schema, remediation."""
    return {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": LEVELS[rule.level],
        "config_schema": _schema(rule),
        "remediation_steps": rule.remediation,
    }


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = _resource(args)
        if rule.applies_to(resource):
            for problem in rule.check(resource, rule.settings(args.get_config())):
                report(rule.message(problem), None)

    return ResourceValidationPolicy(validate=validate, **_described(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = (_resource(resource) for resource in args.resources)
        stack = Stack(tuple(resource for resource in resources if rule.applies_to(resource)))
        for problem, urn in rule.check(stack, rule.settings(args.get_config())):
            report(rule.message(problem), urn or None)

    return StackValidationPolicy(validate=validate, **_described(rule))


def policy(name: str) -> ResourceValidationPolicy | StackValidationPolicy:
    rule = BY_NAME[name]
    return _stack_policy(rule) if rule.stack else _resource_policy(rule)


RULE_NAMES = tuple(rule.name for rule in RULES)

"""User-facing errors: which field, what was wrong, what to do. Never a secret's value, never a traceback."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:  # pydantic is imported by whoever validates; the CLI's start-up does not need it
    from pydantic import BaseModel, ValidationError

SECRET_FIELD_WORDS = ("password", "secret", "token")
# spec.field_error() prefixes a whole-model rule's message with the field it concerns: "[field] message".
_PINNED_FIELD = re.compile(r"^\[(?P<field>[A-Za-z0-9_.]+)\] (?P<message>.*)$", re.DOTALL)

# Hints for pydantic's own error types, which carry no advice of their own.
_GENERIC_FIXES = {
    "extra_forbidden": "remove it or correct its spelling",
    "missing": "add it",
    "int_parsing": "give a whole number",
    "int_type": "give a whole number",
    "int_from_float": "give a whole number",
    "bool_parsing": "give true or false",
    "bool_type": "give true or false",
    "string_type": "give a string",
    "greater_than_equal": "raise it",
    "less_than_equal": "lower it",
    "string_pattern_mismatch": "match the pattern shown",
    "literal_error": "use one of the values shown",
    "model_type": "give a mapping of fields",
    "model_attributes_type": "give a mapping of fields",
    "tuple_type": "give a list",
    "dict_type": "give a mapping",
}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        shown = f" (got {self.value})" if self.value is not None else ""
        return f"{self.path or '<root>'}: {self.message}{shown}"


class CacheClusterError(Exception):
    """An error caused by the user's input or environment; printed without a traceback."""

    def __init__(self, summary: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(summary)
        self.summary = summary
        self.problems = tuple(problems)

    def render(self) -> str:
        lines = [f"error: {self.summary}"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def _is_secret_path(path: str) -> bool:
    # Anything under `auth` may hold a password typed in the wrong shape (`auth: <password>`, rules as a list).
    parts = path.lower().split(".")
    return "auth" in parts or any(word in path.lower() for word in SECRET_FIELD_WORDS)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], location: Sequence[str]) -> type[BaseModel] | None:
    """The model whose fields live at `location` (list indexes skipped), or None when there is none."""
    current = model
    for part in location:
        if part.isdigit():
            continue
        field = current.model_fields.get(part)
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            return None
        current = nested
    return current


def _unknown_field_fix(model: type[BaseModel] | None, location: Sequence[str]) -> str:
    fix = _GENERIC_FIXES["extra_forbidden"]
    owner = _model_at(model, location[:-1]) if model is not None and location else None
    if owner is None:
        return fix
    fields = list(owner.model_fields)
    close = difflib.get_close_matches(location[-1], fields, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"{fix}{guess} (fields here: {', '.join(fields)})"


def _show_value(path: str, value: Any) -> str | None:
    if _is_secret_path(path):
        return None
    if isinstance(value, dict):
        return None
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation(
    error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[Problem]:
    """One Problem per pydantic error; `model` (the validated model) lets unknown fields list the known ones."""
    problems = []
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        path = ".".join(([prefix] if prefix else []) + location)
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
            pinned = _PINNED_FIELD.match(message)
            if pinned is not None:
                path = ".".join([part for part in (prefix, *location) if part] + [pinned.group("field")])
                message = pinned.group("message")
        elif item["type"] == "extra_forbidden":
            message = f"{message}; fix: {_unknown_field_fix(model, location)}"
        elif item["type"] in _GENERIC_FIXES:
            message = f"{message}; fix: {_GENERIC_FIXES[item['type']]}"
        # Our own messages already name the offending value; pydantic's do not.
        value = None if "fix:" in item["msg"] else _show_value(path, item.get("input"))
        if item["type"] == "extra_forbidden":
            value = None
        problems.append(Problem(path=path, message=message, value=value))
    return problems

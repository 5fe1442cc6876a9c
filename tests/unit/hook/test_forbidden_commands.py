"""The hook and the CLI never send CLUSTER RESET, FLUSHALL or FLUSHDB, and never touch nodes.conf.

The scan reads the code, not the prose: every string the code uses (alone, concatenated, as the words of one
call, or as the items of one list / tuple, in any case and spacing) and every attribute or name, so
`call(c, "CLUSTER", "RESET")`, `execute_command("cluster  reset")`, `c.cluster("reset")`, `("FLUSHALL",)` and
`c.flushall()` are all caught, while a docstring or comment that says "never resets" is not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import cache_cluster

PACKAGE = Path(cache_cluster.__file__).resolve().parent
# Whole words only: CONFIG RESETSTAT or a "flushall_count" variable are not the commands.
FORBIDDEN_WORDS = re.compile(r"(?<![a-z_])(cluster reset|flushall|flushdb|nodes\.conf)(?![a-z_])")
FORBIDDEN_NAMES = frozenset({"flushall", "flushdb", "cluster_reset"})


def scanned_sources() -> list[Path]:
    paths = list((PACKAGE / "hook").rglob("*.py"))
    for entry in PACKAGE.glob("cli*"):
        paths += sorted(entry.rglob("*.py")) if entry.is_dir() else [entry]
    return sorted(path for path in paths if path.suffix == ".py")


def _text(node: ast.AST) -> str | None:
    """The string an expression always has: a constant, or constants joined with +."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def forbidden_uses(source: str) -> list[str]:
    """Every forbidden command or file name the code in `source` spells out, as `line N: words`."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        candidates: list[str] = []
        if isinstance(node, (ast.Attribute, ast.Name)):
            candidates.append(_name(node))
        if isinstance(node, ast.Call):
            # The method's name and its string arguments as one command line: cluster("reset") is CLUSTER RESET.
            candidates.append(" ".join([_name(node.func), *(_text(arg) or "" for arg in node.args)]))
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            candidates.append(" ".join(_text(item) or "" for item in node.elts))
        elif id(node) not in docstrings and (text := _text(node)) is not None:
            candidates.append(text)
        for candidate in candidates:
            words = " ".join(candidate.lower().split())
            hits = FORBIDDEN_WORDS.findall(words)
            hits += [name for name in FORBIDDEN_NAMES if name == words]
            found += [f"line {getattr(node, 'lineno', '?')}: {hit}" for hit in hits]
    return sorted(set(found))


def test_the_scan_covers_the_hook_and_the_cli() -> None:
    names = {path.relative_to(PACKAGE).as_posix() for path in scanned_sources()}
    assert {"hook/decide.py", "hook/act.py", "hook/run.py", "cli/hook.py", "cli/__init__.py"} <= names


@pytest.mark.parametrize("path", scanned_sources(), ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_never_resets_flushes_or_touches_nodes_conf(path: Path) -> None:
    assert forbidden_uses(path.read_text()) == []


@pytest.mark.parametrize(
    "code",
    [
        'call(connection, "CLUSTER", "RESET")',
        'call(pipe, "cluster", "reset", "hard")',
        'connection.execute_command("Cluster  Reset")',
        'connection.execute_command("CLUSTER " + "RESET")',
        'connection.cluster("reset")',
        'command = ("CLUSTER", "RESET")',
        'command = ["flushALL"]',
        'connection.execute_command("FLUSHDB", "ASYNC")',
        "connection.flushall()",
        "client.cluster_reset(soft=False)",
        'os.remove(Path(data) / "nodes.conf")',
    ],
)
def test_the_scan_catches_every_spelling(code: str) -> None:
    assert forbidden_uses(code) != []


@pytest.mark.parametrize(
    "code",
    [
        '"""The hook never sends CLUSTER RESET."""',
        "# never CLUSTER RESET\nx = 1",
        'message = "emptied and reset by a person (the hook never resets a node)"',
        'call(connection, "CONFIG", "RESETSTAT")',
        "flushall_seen = 0",
        "sys.stdout.flush()",
    ],
)
def test_prose_and_harmless_commands_pass(code: str) -> None:
    assert forbidden_uses(code) == []

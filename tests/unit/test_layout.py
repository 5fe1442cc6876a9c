"""The package's import graph: layers import downward only and nothing imports in a circle.

spec/plan/... (the pure core) <- targets (renderings) ; core <- hook ; core <- policy (the pack's rules) ;
hook, core <- drills ; all <- cli. The CLI's command modules never import the CLI's root (the root registers
them), `import cache_cluster.cli` stays light, and the hook's commands in a pipeline load neither OpenTelemetry
nor rich (they run as subprocesses whose start-up counts).
Every import counts, also those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "components" / "cache_cluster"
PACKAGE = "cache_cluster"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _resolve(importer: str, path: Path, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        package = importer if path.name == "__init__.py" else importer.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{node.module}" if node.module else package
    names = [f"{base}.{alias.name}" for alias in node.names]
    # `from . import x` names a submodule when there is one, else an attribute of the package itself.
    return [name if name in MODULES else base for name in names]


def imports_of(name: str) -> set[str]:
    path = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(_resolve(name, path, node))
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("targets", "hook", "policy", "drills", "cli") else "core"


def test_the_graph_is_read() -> None:
    assert "cache_cluster.plan" in GRAPH["cache_cluster.targets.compose"]
    assert "cache_cluster.spec" in GRAPH["cache_cluster.plan"]
    assert "cache_cluster.cli.common" in GRAPH["cache_cluster.cli.hook"]
    assert "cache_cluster.cli.hook" in GRAPH["cache_cluster.cli"]


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target):], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


ALLOWED = {
    "core": {"core"},
    "targets": {"core", "targets"},
    "hook": {"core", "hook"},
    # The policy pack's rules read engine-shaped resources: they need the core's names, never a target or the hook.
    "policy": {"core", "policy"},
    "drills": {"core", "hook", "drills"},
    "cli": {"core", "hook", "drills", "targets", "policy", "cli"},
}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_layers_import_downward_only(name: str) -> None:
    upward = sorted(target for target in GRAPH[name] if layer(target) not in ALLOWED[layer(name)])
    assert upward == [], f"{name} ({layer(name)}) imports {upward}"


# A Pulumi target may import its own pure rendering (the Kubernetes component registers the manifests'
# objects); no target imports another target.
OWN_RENDERING = {"cache_cluster.targets.kubernetes": {"cache_cluster.targets.kubernetes_manifests"}}


def test_targets_share_only_pulumi_common() -> None:
    crossing = {
        name: sorted(
            t
            for t in GRAPH[name]
            if layer(t) == "targets"
            and t != "cache_cluster.targets.pulumi_common"
            and t not in OWN_RENDERING.get(name, set())
        )
        for name in GRAPH
        if layer(name) == "targets"
    }
    crossing = {name: targets for name, targets in crossing.items() if targets}
    assert crossing == {}


def test_cli_commands_never_import_the_root() -> None:
    commands = [name for name in GRAPH if name.startswith("cache_cluster.cli.")]
    assert sorted(commands) == [
        "cache_cluster.cli.__main__",
        "cache_cluster.cli.common",
        "cache_cluster.cli.config",
        "cache_cluster.cli.display",
        "cache_cluster.cli.drill",
        "cache_cluster.cli.hook",
        "cache_cluster.cli.policy",
        "cache_cluster.cli.render",
        "cache_cluster.cli.rotate",
        "cache_cluster.cli.startup",
        "cache_cluster.cli.waiting",
    ]
    importing_root = [name for name in commands if "cache_cluster.cli" in GRAPH[name] and not name.endswith("__main__")]
    assert importing_root == []


def test_cli_import_leaves_heavy_libraries_for_the_commands() -> None:
    probe = (
        "import sys, cache_cluster.cli; "
        "print(sorted(m for m in ('pydantic', 'redis', 'rich', 'yaml', 'pulumi') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# Six addresses nothing listens on (ports below 1024 on this host): every connection is refused at once.
NOBODY = ",".join(f"127.0.0.1:{port}" for port in range(1, 7))
# What the hook's commands need, and what they leave out: OpenTelemetry (cli/startup.py), rich on a pipe
# (cli/common.note, cli/waiting.py), the alert rules and dashboard (plan imports them only for a Prometheus
# service), urllib.request (validate imports it only to check an exporter).
NEEDED = ("pydantic", "redis", "yaml")
KEPT_OUT = ("opentelemetry", "rich", "cache_cluster.monitoring.rules", "cache_cluster.monitoring.dashboard",
            "urllib.request")
WATCHED = NEEDED + KEPT_OUT


@dataclass(frozen=True)
class Probe:
    loaded: list[str]  # which of WATCHED were imported when the process exited
    frozen: bool  # whether the exit skipped the final collection (gc.freeze)
    stderr: str


def run_probed(*args: str) -> Probe:
    """`cache-cluster ARGS` through the CLI's main() in a fresh interpreter, stdout and stderr pipes as in a
    pipeline, and no variable telling rich to treat them as a terminal."""
    probe = (
        "import atexit, gc, json, sys\n"
        "def report():\n"
        f"    loaded = [m for m in {WATCHED!r} if m in sys.modules]\n"
        "    sys.stderr.write('PROBE ' + json.dumps([loaded, gc.get_freeze_count() > 0]) + '\\n')\n"
        "atexit.register(report)\n"
        "from cache_cluster.cli import main\n"
        f"sys.argv = ['cache-cluster', *{list(args)!r}]\n"
        "main()\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["REDIS_ADMIN_PASSWORD"] = "layout-probe-password-1"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    reports = [line for line in done.stderr.splitlines() if line.startswith("PROBE ")]
    assert reports, done.stderr
    loaded, frozen = json.loads(reports[-1].removeprefix("PROBE "))
    return Probe(loaded, frozen, done.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["init", "--nodes", NOBODY, "--timeout", "0.3", "--json"],
        ["validate", "--nodes", NOBODY, "--timeout", "0.3", "--json"],
        ["status", "--nodes", NOBODY, "--timeout", "0.3", "--json"],
    ],
    ids=["init", "validate", "status"],
)
def test_hook_commands_in_a_pipeline_leave_out_what_they_do_not_use(args: list[str]) -> None:
    probe = run_probed(*args)
    assert probe.loaded == list(NEEDED), probe.stderr
    # The exit skips the final collection (cli/startup.skip_collection_at_exit).
    assert probe.frozen is True
    if args[0] != "status":  # status does not wait, so it shows no progress
        assert "0/6 ready; waiting for 127.0.0.1:1 (connection refused at 127.0.0.1:1)" in probe.stderr


def test_a_table_report_draws_with_rich_after_the_run() -> None:
    probe = run_probed("init", "--nodes", NOBODY, "--timeout", "0.3")
    assert probe.loaded == [*NEEDED, "rich"], probe.stderr
    assert "0/6 ready; waiting for 127.0.0.1:1 (connection refused at 127.0.0.1:1)" in probe.stderr


def test_help_loads_none_of_them() -> None:
    probe = run_probed("--help")
    assert probe.loaded == [], probe.stderr


@pytest.mark.parametrize("package", ["cache_cluster", "cache_cluster.monitoring"])
def test_lazy_packages_export_every_name_they_list(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cache_cluster.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    for command in ("check-config", "env", "init", "validate", "status", "drill", "render", "policy-check"):
        assert f"  {command} " in done.stdout

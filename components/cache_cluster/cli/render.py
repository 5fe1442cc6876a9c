"""`cache-cluster render ...`: generated files."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..environment import SECRETS_STATE_DIR
from ..errors import CacheClusterError
from .common import ProjectDir, SpecFile, StackOption, resolve_spec, spec_source, typer_app

app = typer_app("render", "Render generated files from a cluster spec.")

# At most this many diff lines are printed by --check; the rest is summarised.
MAX_DIFF_LINES = 60


def _relative(path: Path, start: Path) -> str:
    """`path` relative to `start`, in POSIX form (stable in the generated header wherever it is run from)."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


@app.command("compose")
def render_compose_command(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the Compose file here instead of to stdout.")
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 with a diff when --output is missing or stale."),
    ] = False,
) -> None:
    """Render the Compose v2 file (docker-compose.cache-cluster.yml) for a cluster spec."""
    from ..plan import plan
    from ..targets.compose import DEFAULT_OUTPUT, compose_yaml

    if check and output is None:
        raise CacheClusterError("--check needs --output: the file to compare with")
    spec = resolve_spec(file, stack, project_dir)
    source_path = spec_source(file, stack, project_dir)
    if spec.target == "kubernetes":
        raise CacheClusterError(
            f"{source_path} has target 'kubernetes': its nodes share one port and are named by cluster DNS, which "
            "a Compose file cannot give them; fix: use `cache-cluster render kubernetes`, or a spec with "
            "target: docker"
        )
    deployment = plan(spec)
    base = output.parent if output is not None else Path(".")
    text = compose_yaml(
        deployment,
        source=_relative(source_path, base),
        output=output.name if output is not None else DEFAULT_OUTPUT,
    )
    if output is None:
        sys.stdout.write(text)
        return
    if check:
        source = _relative(source_path, Path("."))
        if not _check(output, text, source, f"cache-cluster render compose {source} --output {output}"):
            raise typer.Exit(1)
        return
    _write(output, text)
    typer.echo(f"wrote {output} ({deployment.spec.name}: {len(deployment.services)} services)", err=True)


@app.command("monitoring")
def render_monitoring_command(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Write prometheus.yml, the rules and the dashboard here.")
    ] = Path("monitoring"),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 with a diff when a file is missing or stale.")
    ] = False,
) -> None:
    """Render the monitoring files (prometheus.yml, cache-cluster.rules.yml, dashboard.json) for a cluster spec."""
    from ..monitoring import monitoring_files
    from ..monitoring.files import regenerate_command

    spec = resolve_spec(file, stack, project_dir)
    source = _relative(spec_source(file, stack, project_dir), Path("."))
    directory = _relative(output_dir, Path("."))
    files = monitoring_files(spec, source=source, output_dir=directory)
    if check:
        regenerate = regenerate_command(source, directory)
        fresh = [_check(output_dir / name, text, source, regenerate) for name, text in files.items()]
        if not all(fresh):
            raise typer.Exit(1)
        return
    for name, text in files.items():
        _write(output_dir / name, text)
    typer.echo(f"wrote {', '.join(files)} to {directory} ({spec.name})", err=True)


def _write(output: Path, text: str) -> None:
    """Replace `output` whole: a reader never sees half a file."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(output)


def _check(output: Path, expected: str, source: str, regenerate: str) -> bool:
    """Whether `output` holds `expected`; if not, say so with a diff and the command that fixes it."""
    try:
        current = output.read_text(encoding="utf-8")
    except FileNotFoundError:
        typer.echo(f"{output} does not exist; fix: run `{regenerate}`", err=True)
        return False
    if current == expected:
        typer.echo(f"{output} is up to date", err=True)
        return True
    diff = list(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{output} (checked in)",
            tofile=f"{output} (rendered from {source})",
        )
    )
    shown = "".join(diff[:MAX_DIFF_LINES])
    if len(diff) > MAX_DIFF_LINES:
        shown += f"... {len(diff) - MAX_DIFF_LINES} more diff lines\n"
    typer.echo(f"{output} is stale: it differs from what {source} renders; fix: run `{regenerate}`", err=True)
    typer.echo(shown, err=True, nl=False)
    return False


@app.command("secrets")
def render_secrets_command(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the secret files are kept (created 0700; files 0600).")
    ] = Path(SECRETS_STATE_DIR),
) -> None:
    """Write the deployment's secret files (a missing password is generated) and print `export` lines that read
    them, for `eval` before `docker-compose up`. The values are never printed: the lines only name the files.

    A password already set in the environment (REDIS_PASSWORD, REDIS_ADMIN_PASSWORD, ...) is used as it is (and
    written to its file, so the directory holds every secret: a Kubernetes secretGenerator reads them all).
    """
    from .. import acl
    from ..loader import password_from_env
    from ..plan import plan

    deployment = plan(resolve_spec(file, stack, project_dir))
    spec = deployment.spec
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    passwords: dict[str, str] = {}
    lines: list[str] = []
    generated = 0
    for kind in acl.password_kinds(spec):
        variable = acl.secret_env(kind, spec)
        # The environment alone (not the fallback to the secret files): the files are this command's own.
        from_env = password_from_env(dict(os.environ), required=False, variable=variable)
        path = directory / acl.secret_name(kind, spec)
        if from_env is not None:
            # Written too: the directory is then complete (a Kubernetes secretGenerator reads every file).
            passwords[kind] = from_env
            if not path.exists() or path.read_text(encoding="utf-8").strip() != from_env:
                _write_private(path, from_env)
            continue
        if not path.exists():
            _write_private(path, _new_password())
            generated += 1
        value = path.read_text(encoding="utf-8").strip()
        passwords[kind] = password_from_env({variable: value}, variable=variable) or ""
        lines.append(_export_from(variable, path))
    if spec.exporter.enabled:
        # Derived from the exporter's password: rewritten every time, so it always matches it.
        kind = acl.EXPORTER_MAP
        path = directory / acl.secret_name(kind, spec)
        _write_private(path, acl.secret_contents([kind], passwords, deployment.exporter_targets)[kind])
        lines.append(_export_from(acl.secret_env(kind, spec), path))
    sys.stdout.write("".join(line + "\n" for line in lines))
    typer.echo(f"secrets: {len(lines)} files in {directory} ({generated} generated; values not printed)", err=True)


def _new_password() -> str:
    import secrets
    import string

    # Letters and digits only: valid in redis.conf, shells and URLs without quoting.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)


def _export_from(variable: str, path: Path) -> str:
    import shlex

    return f'export {variable}="$(cat {shlex.quote(str(path))})"'


@app.command("kubernetes")
def render_kubernetes_command(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the manifests into.")] = Path(
        "kubernetes"
    ),
    existing_secret: Annotated[
        str | None,
        typer.Option(
            "--existing-secret",
            help="Use this existing Secret (a key per secret file: redis-password, redis-admin-password, ...) "
            "instead of a secretGenerator reading the files in secrets/.",
        ),
    ] = None,
    hook_image: Annotated[
        str | None,
        typer.Option(
            "--hook-image",
            help="The hook Job's image (default: $CACHE_CLUSTER_HOOK_IMAGE, else the spec's images.hook).",
        ),
    ] = None,
    namespace: Annotated[
        bool, typer.Option("--namespace/--no-namespace", help="Include the Namespace object.")
    ] = True,
    node_zones: Annotated[
        bool,
        typer.Option(
            "--node-zones/--no-node-zones",
            help="Let the hook Job read its nodes' zones (a read-only ClusterRole on nodes).",
        ),
    ] = True,
) -> None:
    """Render the Kubernetes manifests and a kustomization.yaml (kubectl apply -k, Argo CD, Flux).

    No secret value is written: the Secret comes from a secretGenerator reading the files in secrets/
    (git-ignored; `cache-cluster render secrets SPEC --dir <output>/secrets` writes them), or from an existing
    Secret (--existing-secret). With monitoring.prometheus_operator on in the
    spec, a ServiceMonitor and a PrometheusRule too.
    """
    from ..plan import plan
    from ..targets.kubernetes_manifests import KubernetesOptions, render_files

    spec = resolve_spec(file, stack, project_dir)
    if spec.target != "kubernetes":
        raise CacheClusterError(
            f"{spec_source(file, stack, project_dir)} has target {spec.target!r}; fix: set target: kubernetes "
            "in the spec (the Kubernetes manifests use the cluster's DNS names and one port per role)"
        )
    options = KubernetesOptions(
        hook_image=hook_image or os.environ.get("CACHE_CLUSTER_HOOK_IMAGE") or None,
        secret_name=existing_secret,
        create_namespace=namespace,
        node_zones=node_zones,
    )
    source = _relative(spec_source(file, stack, project_dir), output)
    files = render_files(plan(spec), options, source=source, generate_secret=existing_secret is None)
    output.mkdir(parents=True, exist_ok=True)
    stale = [
        path
        for path in output.glob("*.yaml")
        if path.name not in files and path.read_text(encoding="utf-8").startswith("# Rendered by cache-cluster")
    ]
    for path in stale:
        path.unlink()
    for name, text in files.items():
        _write(output / name, text)
    removed = f", removed {len(stale)} stale" if stale else ""
    typer.echo(f"wrote {len(files)} files to {output}{removed} ({spec.name}: kubectl apply -k {output})", err=True)

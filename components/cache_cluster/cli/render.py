"""`cache-cluster render ...`: generated files."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..spec import ClusterSpec

from ..environment import SECRETS_STATE_DIR, TLS_STATE_DIR, TLS_STATE_FILES
from ..errors import CacheClusterError
from .common import ProjectDir, SpecFile, StackOption, resolve_spec, spec_source, typer_app, write_private

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
    tls_directory: Annotated[
        Path, typer.Option("--tls-dir", help="With tls.enabled: where the CA and certificates are kept.")
    ] = Path(TLS_STATE_DIR),
) -> None:
    """Write the deployment's secret files (a missing password is generated) and print `export` lines that read
    them, for `eval` before `docker-compose up`. The values are never printed: the lines only name the files.

    A password already set in the environment (REDIS_PASSWORD, REDIS_ADMIN_PASSWORD, ...) is used as it is (and
    written to its file, so the directory holds every secret: a Kubernetes secretGenerator reads them all).
    With tls.enabled, the CA and certificates are made too (as `render tls-certs` does) and exported as well.
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
                write_private(path, from_env)
            continue
        if not path.exists():
            write_private(path, _new_password())
            generated += 1
        value = path.read_text(encoding="utf-8").strip()
        passwords[kind] = password_from_env({variable: value}, variable=variable) or ""
        lines.append(_export_from(variable, path))
    if spec.tls.enabled:
        # The TLS files Compose copies in like the passwords (PEM text in the variables `secrets:` names).
        ensure_tls_files(spec, tls_directory)
        services = [*deployment.services, *([deployment.init.service] if deployment.init is not None else [])]
        used = dict.fromkeys(kind for service in services for kind in service.secret_files.values())
        for kind in (kind for kind in TLS_STATE_FILES if kind in used):
            kept = tls_directory / TLS_STATE_FILES[kind]
            lines.append(_export_from(acl.secret_env(kind, spec), kept))
            if spec.target == "kubernetes" and spec.tls.cert_secret is None:
                # Beside the passwords, under its Secret key: the kustomization's secretGenerator reads them all.
                write_private(directory / acl.secret_name(kind, spec), kept.read_text(encoding="utf-8"))
    if spec.exporter.enabled:
        # Derived from the exporter's password: rewritten every time, so it always matches it.
        kind = acl.EXPORTER_MAP
        path = directory / acl.secret_name(kind, spec)
        write_private(path, acl.secret_contents([kind], passwords, deployment.exporter_targets)[kind])
        lines.append(_export_from(acl.secret_env(kind, spec), path))
    sys.stdout.write("".join(line + "\n" for line in lines))
    typer.echo(f"secrets: {len(lines)} files in {directory} ({generated} generated; values not printed)", err=True)


CA_KEY_FILE = "ca.key"


@app.command("tls-certs")
def render_tls_certs_command(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the CA and certificates are kept (created 0700; files 0600).")
    ] = Path(TLS_STATE_DIR),
) -> None:
    """Make the CA, the server certificate (every server's name, localhost, 127.0.0.1) and the client certificate
    for a Compose stack with tls.enabled. Files already there are kept; the server certificate is issued again
    (by the same CA) when the spec names a server it does not cover or it expires within a week.

    Files: ca.crt, ca.key, server.crt, server.key, client.crt, client.key. `make up` runs this for you.
    """
    spec = resolve_spec(file, stack, project_dir)
    if not spec.tls.enabled:
        raise CacheClusterError(
            f"{spec_source(file, stack, project_dir)} has tls.enabled: false; fix: set tls.enabled: true first"
        )
    made = ensure_tls_files(spec, directory)
    kept = "all kept" if not made else "made " + ", ".join(made)
    typer.echo(f"tls: {directory} ({kept}; keys 0600)", err=True)


def ensure_tls_files(spec: ClusterSpec, directory: Path) -> list[str]:
    """Create what is missing (or stale) of the CA and the two certificates; returns the files written."""
    try:
        from .. import certs
    except ImportError:
        raise CacheClusterError(
            "making TLS certificates needs the `cryptography` package; fix: pip install 'cache-cluster[certs]'"
        ) from None
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    files = {kind: directory / name for kind, name in TLS_STATE_FILES.items()}
    ca_cert, ca_key = files["tls-ca"], directory / CA_KEY_FILE
    made: list[str] = []
    if not (ca_cert.exists() and ca_key.exists()):
        ca = certs.new_ca(spec)
        write_private(ca_key, ca.key_pem)
        write_private(ca_cert, ca.cert_pem)
        made += [ca_cert.name, ca_key.name]
        # A new CA: what the old one signed is no longer trusted.
        for kind in ("tls-server-cert", "tls-client-cert"):
            files[kind].unlink(missing_ok=True)
    ca = certs.Issued(ca_cert.read_text(encoding="utf-8"), ca_key.read_text(encoding="utf-8"))
    server, client = files["tls-server-cert"], files["tls-client-cert"]
    if not (
        server.exists()
        and files["tls-server-key"].exists()
        and certs.server_certificate_is_current(server.read_text(encoding="utf-8"), spec)
    ):
        issued = certs.server_certificate(ca, spec)
        write_private(files["tls-server-key"], issued.key_pem)
        write_private(server, issued.cert_pem)
        made += [server.name, files["tls-server-key"].name]
    if not (client.exists() and files["tls-client-key"].exists()) or certs.expires_within(
        client.read_text(encoding="utf-8"), days=7
    ):
        issued = certs.client_certificate(ca, spec)
        write_private(files["tls-client-key"], issued.key_pem)
        write_private(client, issued.cert_pem)
        made += [client.name, files["tls-client-key"].name]
    return made


def _new_password() -> str:
    import secrets
    import string

    # Letters and digits only: valid in redis.conf, shells and URLs without quoting.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


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

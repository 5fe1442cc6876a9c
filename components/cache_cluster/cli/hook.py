"""`cache-cluster init | validate | status`: the post-deploy hook's commands.

Exit codes: 0 healthy, 1 unhealthy / validation failed, 2 user error, 3 refused (unsafe to act),
4 timeout waiting. The report goes to stdout (a table, or JSON with --json); progress goes to stderr.
The three commands take the same options, declared once in `HookOptions`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..acl import ADMIN_USER
from ..environment import ADMIN_PASSWORD_ENV, TLS_ENV, TLS_STATE_DIR, TLS_STATE_FILES
from ..errors import CacheClusterError
from .common import ProjectDir, SpecFile, StackOption, note, out, resolve_spec, write_private
from .startup import import_redis_without_telemetry

if TYPE_CHECKING:
    from ..hook.endpoints import Targets
    from ..hook.report import Report
    from ..spec import ClusterSpec
    from ..tls import ClientFiles


class Via(str, Enum):
    direct = "direct"
    published = "published"


class DomainSource(str, Enum):
    kubernetes = "kubernetes"


NodesOption = Annotated[
    str | None,
    typer.Option(
        "--nodes",
        help="Comma-separated host:port (or host:port/failure-domain) of the cluster nodes, instead of the "
        "spec's. The fallback tier, sentinels and exporter are checked only when a spec (FILE / --stack) is "
        "given as well.",
    ),
]
MastersOption = Annotated[int | None, typer.Option("--masters", help="With --nodes: masters (default: the spec's).")]
ReplicasOption = Annotated[
    int | None, typer.Option("--replicas", help="With --nodes: replicas per master (default: the spec's).")
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file", help=f"Read the admin user's password from this file instead of {ADMIN_PASSWORD_ENV}."
    ),
]
UserOption = Annotated[
    str,
    typer.Option(
        "--user",
        help="The ACL user to sign in as (the deployment's admin user); '' signs in with the password alone.",
    ),
]
ViaOption = Annotated[
    Via,
    typer.Option(
        "--via",
        help="direct: dial the announced name:port (inside the Docker network / Kubernetes); published: dial "
        "127.0.0.1:port, the Docker-published ports on this host.",
    ),
]
AddressMapOption = Annotated[
    str | None,
    typer.Option("--address-map", help="name:port=host:port,... to dial instead of the announced addresses."),
]
DomainsOption = Annotated[
    DomainSource | None,
    typer.Option(
        "--failure-domains",
        help="kubernetes: read which Kubernetes node (and zone) each cluster node's pod runs on from the API "
        "(the hook Job's ServiceAccount), so replicas go to another node or zone than their master.",
    ),
]
TlsCaCert = Annotated[
    Path | None,
    typer.Option(
        "--tls-ca-cert",
        help=f"Dial over TLS, trusting this CA (default with tls.enabled: the PEM in $REDIS_TLS_CA, else "
        f"{TLS_STATE_DIR}/ca.crt).",
    ),
]
TlsCert = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert",
        help=f"The client certificate to present over TLS (default with tls.enabled: {TLS_STATE_DIR}/client.crt).",
    ),
]
TlsKey = Annotated[
    Path | None,
    typer.Option(
        "--tls-key", help=f"The client certificate's key (default with tls.enabled: {TLS_STATE_DIR}/client.key)."
    ),
]
WaitTimeout = Annotated[float, typer.Option("--timeout", min=0.1, help="Deadline in seconds for the whole run.")]
StatusTimeout = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Connection timeout in seconds (status never waits).")
]
ReportJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON (docs/hook-report.md).")]
PreferSpecMasters = Annotated[
    bool,
    typer.Option(
        "--prefer-spec-masters",
        help="init: where failovers swapped roles, make the spec's masters masters again with CLUSTER FAILOVER "
        "(coordinated, no data movement).",
    ),
]
NotForThisCommand = Annotated[bool, typer.Option("--prefer-spec-masters", hidden=True)]


@dataclasses.dataclass(frozen=True)
class HookOptions:
    """Every option of init / validate / status: where the servers are, how to reach them, how to report."""

    file: SpecFile = None
    stack: StackOption = None
    project_dir: ProjectDir = Path(".")
    nodes: NodesOption = None
    masters: MastersOption = None
    replicas: ReplicasOption = None
    password_file: PasswordFile = None
    user: UserOption = ADMIN_USER
    via: ViaOption = Via.direct
    address_map: AddressMapOption = None
    failure_domains: DomainsOption = None
    tls_ca_cert: TlsCaCert = None
    tls_cert: TlsCert = None
    tls_key: TlsKey = None
    timeout: WaitTimeout = 120.0
    as_json: ReportJson = False
    prefer_spec_masters: PreferSpecMasters = False

    def targets(self) -> Targets:
        from ..hook.endpoints import AddressMap, parse_node_list, targets_from_nodes, targets_from_spec
        from ..spec import ClusterSpec

        explicit = AddressMap.parse(self.address_map) if self.address_map else None
        if self.nodes is None:
            if self.masters is not None or self.replicas is not None:
                raise CacheClusterError(
                    "--masters / --replicas go with --nodes; fix: change the spec's topology instead"
                )
            own = resolve_spec(self.file, self.stack, self.project_dir)
            return targets_from_spec(
                own,
                via=self.via.value,
                address_map=explicit,
                failure_domains=self._domains(own),
                username=self.user or None,
                tls=self.tls_files(own),
            )
        if self.failure_domains is not None:
            raise CacheClusterError(
                "--failure-domains reads the domains of the spec's nodes; fix: give them in --nodes as "
                "host:port/domain instead"
            )
        given_spec = self.file is not None or self.stack is not None
        spec = resolve_spec(self.file, self.stack, self.project_dir) if given_spec else None
        topology = (spec or ClusterSpec()).topology
        mapping = explicit
        if mapping is None and self.via is Via.published:
            # Without a spec there are no service names to map: published ports are the ones given.
            mapping = AddressMap()
        return targets_from_nodes(
            parse_node_list(self.nodes),
            masters=topology.masters if self.masters is None else self.masters,
            replicas_per_master=topology.replicas_per_master if self.replicas is None else self.replicas,
            address_map=mapping,
            spec=spec,
            username=self.user or None,
            tls=self.tls_files(spec),
        )

    def tls_files(self, spec: ClusterSpec | None) -> ClientFiles | None:
        """The TLS options, else the spec's: with tls.enabled, the files `render tls-certs` keeps here."""
        from ..tls import ClientFiles

        if self.tls_ca_cert is None and self.tls_cert is None and self.tls_key is None:
            if spec is None or not spec.tls.enabled:
                return None
            directory = _tls_files_from_environment() or Path(TLS_STATE_DIR)
            with_cert = spec.tls.client_certificates != "none"
            files = ClientFiles(
                ca=str(directory / TLS_STATE_FILES["tls-ca"]),
                cert=str(directory / TLS_STATE_FILES["tls-client-cert"]) if with_cert else None,
                key=str(directory / TLS_STATE_FILES["tls-client-key"]) if with_cert else None,
            )
            fix = "run `cache-cluster render tls-certs SPEC` (make up does), or pass --tls-ca-cert/--tls-cert/--tls-key"
        else:
            if self.tls_ca_cert is None or (self.tls_cert is None) != (self.tls_key is None):
                raise CacheClusterError(
                    "--tls-cert and --tls-key go together, and with --tls-ca-cert; fix: pass --tls-ca-cert, and "
                    "both or neither of --tls-cert / --tls-key"
                )
            files = ClientFiles(
                ca=str(self.tls_ca_cert),
                cert=None if self.tls_cert is None else str(self.tls_cert),
                key=None if self.tls_key is None else str(self.tls_key),
            )
            fix = "check the path"
        for path in filter(None, (files.ca, files.cert, files.key)):
            if not Path(path).is_file():
                raise CacheClusterError(f"the TLS file {path} does not exist; fix: {fix}")
        return files

    def _domains(self, spec: ClusterSpec) -> dict[str, str] | None:
        if self.failure_domains is None:
            return None
        from ..hook.kubernetes_domains import discover_in_cluster

        found = discover_in_cluster(spec)
        _log(found.note)
        return dict(found.by_pod)

    def password(self) -> str:
        from ..loader import password_from_env

        if self.password_file is None:
            password = password_from_env(variable=ADMIN_PASSWORD_ENV)
            assert password is not None
            return password
        try:
            text = self.password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise CacheClusterError(f"cannot read --password-file {self.password_file}: {error.strerror}") from None
        password = password_from_env({ADMIN_PASSWORD_ENV: text}, variable=ADMIN_PASSWORD_ENV)
        if password is None:
            raise CacheClusterError(f"--password-file {self.password_file} is empty; fix: write the password into it")
        return password


def _tls_files_from_environment() -> Path | None:
    """REDIS_TLS_CA (and REDIS_TLS_CLIENT_CERT / _KEY), PEM text as the Pulumi Docker target passes them to the
    hook: written to a private temporary directory (0700, files 0600) removed when the process exits."""
    import atexit
    import os
    import shutil
    import tempfile

    wanted = ("tls-ca", "tls-client-cert", "tls-client-key")
    if not os.environ.get(TLS_ENV["tls-ca"]):
        return None
    directory = Path(tempfile.mkdtemp(prefix="cache-cluster-tls-"))
    atexit.register(shutil.rmtree, directory, True)
    for kind in wanted:
        text = os.environ.get(TLS_ENV[kind])
        if text:
            write_private(directory / TLS_STATE_FILES[kind], text if text.endswith("\n") else text + "\n")
    return directory


def with_hook_options(**overrides: Any) -> Callable[[Callable[[HookOptions], None]], Callable[..., None]]:
    """Expose `command(options)` to typer as a command taking each HookOptions field as an option.

    typer reads a command's options from its signature, so the wrapper gets one built from the dataclass's
    fields; `overrides` replaces a field's annotation (and default) for one command, e.g. status's timeout.
    """
    hints = typing.get_type_hints(HookOptions, include_extras=True)
    overridden = {name: typing.get_type_hints(_Overrides, include_extras=True)[name] for name in overrides}

    def decorate(command: Callable[[HookOptions], None]) -> Callable[..., None]:
        parameters = [
            inspect.Parameter(
                field.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=overrides.get(field.name, field.default),
                annotation=overridden.get(field.name, hints[field.name]),
            )
            for field in dataclasses.fields(HookOptions)
        ]

        @functools.wraps(command)
        def wrapper(**values: Any) -> None:
            import_redis_without_telemetry()  # first: every module of the hook package imports redis-py
            command(HookOptions(**values))

        wrapper.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        del wrapper.__wrapped__  # typer must see the options, not `options`
        return wrapper

    return decorate


class _Overrides:
    """Per-command replacements of a HookOptions field's annotation (with_hook_options picks them by name)."""

    timeout: StatusTimeout
    prefer_spec_masters: NotForThisCommand


def _emit(report: Report, as_json: bool, password: str) -> None:
    if as_json:
        sys.stdout.write(report.to_json(password) + "\n")
        sys.stdout.flush()
    else:
        from .display import print_report

        print_report(report, out(), password)
    raise typer.Exit(report.exit_code)


def _run_waiting(runner: Callable[..., Report], options: HookOptions) -> None:
    """Run a command that waits for the servers (init, validate) with the progress display, then report."""
    from .waiting import WaitDisplay

    targets = options.targets()
    password = options.password()
    with WaitDisplay(len(targets.servers)) as display:
        report = runner(targets, password, timeout=options.timeout, on_progress=display)
    _emit(report, options.as_json, password)


def _log(line: str) -> None:
    note(line, style="dim")


@with_hook_options()
def init(options: HookOptions) -> None:
    """Wait for every server, create or heal the cluster when that is safe, wait until fully ready, validate.

    Exit codes: 0 healthy, 1 unhealthy, 2 user error, 3 refused (unsafe to act), 4 timeout.
    """
    from ..hook.run import run_init

    _run_waiting(functools.partial(run_init, log=_log, prefer_spec_masters=options.prefer_spec_masters), options)


@with_hook_options(prefer_spec_masters=False)
def validate(options: HookOptions) -> None:
    """Wait for every server, then check the deployment against the spec (writes only probe keys it deletes).

    Exit codes: 0 healthy, 1 validation failed, 2 user error, 4 timeout.
    """
    from ..hook.run import run_validate

    _run_waiting(run_validate, options)


@with_hook_options(timeout=5.0, prefer_spec_masters=False)
def status(options: HookOptions) -> None:
    """Show the cluster's state and the read-only checks. Changes nothing, writes nothing.

    Exit codes: 0 healthy, 1 unhealthy, 2 user error.
    """
    from ..hook.run import run_status

    targets = options.targets()
    password = options.password()
    report = run_status(targets, password, timeout=options.timeout)
    _emit(report, options.as_json, password)

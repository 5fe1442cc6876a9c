"""`cache-cluster rotate-password`: a password's new value beside the old on every server and link, then alone.

Exit codes: 0 done and proven (the user signs in with the new password everywhere), 1 a server failed (the
message says which; re-running is safe), 2 bad input.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CacheClusterError
from .common import ProjectDir, SpecFile, StackOption, err, out
from .hook import AddressMapOption, HookOptions, PasswordFile, ReportJson, StatusTimeout, Via, ViaOption
from .startup import import_redis_without_telemetry

NEW_PASSWORD_ENV = "REDIS_NEW_PASSWORD"


class Phase(str, Enum):
    add = "add"
    finish = "finish"


SECRET_HELP = (
    "Which password: password (the app user's, and default's), admin, exporter, replication, sentinel, or "
    "acl:<user> for a user of spec.auth.acl_users."
)


def rotate_password(
    file: SpecFile = None,
    stack: StackOption = None,
    project_dir: ProjectDir = Path("."),
    secret: Annotated[str, typer.Option("--secret", help=SECRET_HELP)] = "password",
    phase: Annotated[
        Phase,
        typer.Option(
            "--phase",
            help="add: the new password beside the old on every server, and the replica / sentinel links "
            "switched to it; finish: the new one alone (run it once the secret files, the exporter and the clients "
            "use the new one).",
        ),
    ] = Phase.add,
    new_password_file: Annotated[
        Path | None,
        typer.Option("--new-password-file", help=f"The new password; default: the variable {NEW_PASSWORD_ENV}."),
    ] = None,
    password_file: PasswordFile = None,
    via: ViaOption = Via.direct,
    address_map: AddressMapOption = None,
    timeout: StatusTimeout = 5.0,
    as_json: ReportJson = False,
) -> None:
    """Rotate a password without downtime: --phase add, switch the secret files and clients, --phase finish.

    Exit codes: 0 done, 1 a server failed (re-run: it is safe), 2 bad input.
    """
    import_redis_without_telemetry()
    from ..hook.rotate import rotate, scope_of
    from ..loader import password_from_env

    options = HookOptions(
        file=file, stack=stack, project_dir=project_dir, password_file=password_file, via=via, address_map=address_map
    )
    targets = options.targets()
    scope = scope_of(secret, targets)  # an unknown secret is bad input: refused before any server is contacted
    admin_password = options.password()
    if new_password_file is None:
        new_password = password_from_env(variable=NEW_PASSWORD_ENV)
    else:
        try:
            text = new_password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise CacheClusterError(f"cannot read --new-password-file {new_password_file}: {error.strerror}") from None
        new_password = password_from_env({NEW_PASSWORD_ENV: text}, variable=NEW_PASSWORD_ENV)
    assert new_password is not None
    result = rotate(targets, admin_password, kind=secret, new_password=new_password, phase=phase.value,
                    timeout=timeout)
    summary = (
        f"{phase.value}: {', '.join(scope.users)} on {len(result.changed)} of {len(scope.servers)} servers, "
        f"{len(result.links)} links switched, in {result.seconds * 1000:.0f} ms"
    )
    if as_json:
        document = {
            "phase": phase.value, "secret": secret, "users": list(scope.users), "changed": result.changed,
            "links": result.links, "problems": result.problems,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        out().print(summary, markup=False, highlight=False)
        for problem in result.problems:
            err().print(f"  - {problem}", markup=False, highlight=False)
    raise typer.Exit(0 if result.ok else 1)

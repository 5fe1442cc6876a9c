"""The `cache-cluster` command: the root builds the app from the command modules, which never import it back.

Commands are thin: load the spec, call pure code or the hook, print. Help is plain text (`rich_markup_mode`
None): typer's rich help costs ~80 ms of start-up, more than the rest of `--help` together.
"""

from __future__ import annotations

from ..errors import CacheClusterError
from . import config, drill, hook, policy, render, rotate
from .common import typer_app
from .startup import skip_collection_at_exit

app = typer_app(
    "cache-cluster", "Declare, run and initialize a Redis Cluster with sentinels, an exporter and fallback tiers."
)
app.command("check-config")(config.check_config)
app.command("env")(config.env)
app.command("init")(hook.init)
app.command("validate")(hook.validate)
app.command("status")(hook.status)
app.command("rotate-password")(rotate.rotate_password)
app.command("drill")(drill.drill)
app.add_typer(render.app, name="render")
app.command("policy-check")(policy.policy_check)


def main() -> None:
    try:
        app()
    except CacheClusterError as error:
        from .common import err

        err().print(error.render(), markup=False, highlight=False)
        raise SystemExit(2) from None
    finally:
        skip_collection_at_exit()

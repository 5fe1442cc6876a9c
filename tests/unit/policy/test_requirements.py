"""policies/requirements.txt installs only the package's policy extra: the pack must not need a target's SDK."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.policy.engine_shape import PACK_DIR


def test_the_pack_imports_nothing_beyond_the_policy_extra() -> None:
    probe = (
        "import runpy, sys, pulumi_policy\n"
        "pulumi_policy.PolicyPack = lambda **kwargs: None  # build the policies, do not serve them\n"
        f"runpy.run_path({str(PACK_DIR / '__main__.py')!r}, run_name='__main__')\n"
        "heavy = ('pulumi_docker', 'pulumi_kubernetes', 'pulumi_random', 'pulumi_command', 'redis', 'rich', 'typer')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_requirements_name_the_package_with_the_policy_extra() -> None:
    lines = [line for line in (PACK_DIR / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == ["..[policy]"]

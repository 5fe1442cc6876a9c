"""`make mutation`: mutmut on the hook's decision code, the replica / slot placement and the spec's rules.

Prints one line per module, `<module>: <killed>/<total> (<NN>%)` (a mutant that makes the tests hang counts as
killed; one no test reaches counts as survived), then the surviving mutants' names (`mutmut show NAME` in
.mutation/ prints the change). Not part of `make test`.

mutmut 3 finds a package only under ./ or src/ and names modules after file paths, while this repository keeps
the package under components/. So the run happens in a staging tree, .mutation/: src/cache_cluster (a copy of
components/cache_cluster), the unit tests [tool.mutmut] selects, and pyproject.toml. Hypothesis runs its
`mutation` profile there (fewer examples, fixed seed; tests/unit/hook/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / ".mutation"
MODULES = {
    "hook/decide.py": "cache_cluster.hook.decide",
    "placement.py": "cache_cluster.placement",
    "spec.py": "cache_cluster.spec",
}
TEST_FILES = ["tests/__init__.py", "tests/conftest.py", "tests/unit/__init__.py", "tests/unit/clirun.py",
              "tests/unit/test_plan.py", "tests/unit/test_spec_errors.py"]
KILLED = {"killed", "timeout"}


def stage() -> None:
    shutil.rmtree(STAGE, ignore_errors=True)
    shutil.copytree(ROOT / "components" / "cache_cluster", STAGE / "src" / "cache_cluster",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "unit" / "hook", STAGE / "tests" / "unit" / "hook",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in TEST_FILES:
        (STAGE / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, STAGE / name)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, STAGE / name)
    # Example stack files some spec tests read.
    for stack in ROOT.glob("Pulumi*.yaml"):
        shutil.copy2(stack, STAGE / stack.name)
    if (ROOT / "examples").is_dir():
        shutil.copytree(ROOT / "examples", STAGE / "examples")


def scores() -> tuple[list[str], list[str]]:
    from mutmut.stats import status_by_exit_code

    lines, survivors = [], []
    for path, module in MODULES.items():
        meta = json.loads((STAGE / "mutants" / "src" / "cache_cluster" / f"{path}.meta").read_text())
        statuses = {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}
        killed = sum(status in KILLED for status in statuses.values())
        total = len(statuses)
        lines.append(f"{module}: {killed}/{total} ({100 * killed // max(total, 1)}%)")
        survivors += sorted(f"{name} ({status})" for name, status in statuses.items() if status not in KILLED)
    return lines, survivors


def main() -> int:
    started = time.monotonic()
    stage()
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation", "CI": ""}
    log = STAGE / "mutmut.log"
    print(f"==> mutmut run in {STAGE.relative_to(ROOT)} (log: {log.relative_to(ROOT)})", flush=True)
    with log.open("w") as output:
        run = subprocess.run([str(mutmut), "run"], cwd=STAGE, env=env, stdout=output, stderr=subprocess.STDOUT,
                             check=False)
    if run.returncode != 0:
        print(log.read_text()[-3000:])
        print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
        return 1
    lines, survivors = scores()
    print(f"==> {len(survivors)} surviving mutant(s) (cd .mutation && mutmut show NAME):")
    for survivor in survivors:
        print(f"    {survivor}")
    for line in lines:
        print(line)
    print(f"==> {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

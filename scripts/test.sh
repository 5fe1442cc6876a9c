#!/usr/bin/env bash
# Every check the project has: ruff, mypy --strict, and the three test tiers (unit, integration, e2e).
# `make test` runs this after installing the Python environment, the Debian packages and starting dockerd.
# In CI (CI=true) no tier may skip for a missing service: tests/conftest.py turns such skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
export PATH="$PWD/$venv/bin:$PATH"

echo "==> ruff"
ruff check components infra tests bench policies
echo "==> mypy --strict"
mypy --strict components/cache_cluster
echo "==> images for the e2e tier"
scripts/build-images.sh
echo "==> pytest (unit, integration, e2e)"
set +e
pytest tests "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"

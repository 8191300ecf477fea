#!/usr/bin/env bash
# postCreateCommand of .devcontainer/*/devcontainer.json: runs once in a new training container, as the
# dev user, in the workspace. Everything it needs is in the image (requirements-dev.txt), so it works
# offline.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# devtools from this checkout, editable, as scripts/provision installs it on the host. --no-build-isolation:
# setuptools is in the image, so pip fetches nothing.
pip install --quiet --no-build-isolation -e .

# The git hook (.git/hooks/pre-commit) is shared with the host checkout: on the host it runs the
# pre-commit found on PATH (pip install -r requirements-dev.txt). The hook environments are built on
# first use, from PyPI; `pre-commit install-hooks` builds them ahead.
if git_error="$(git rev-parse --is-inside-work-tree 2>&1 >/dev/null)"; then
  pre-commit install
else
  echo "post-create: skipping 'pre-commit install': ${git_error:-$PWD is not a git work tree}" >&2
fi

echo "post-create: ready. MLflow: ${MLFLOW_TRACKING_URI:-unset}, serving: ${SERVING_URL:-unset}"

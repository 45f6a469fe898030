#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: unit, integration (real Docker)
# and e2e (real vLLM and Docker) layers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -m "unit or integration or e2e" "$@"

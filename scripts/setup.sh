#!/usr/bin/env bash
# Create or refresh the two virtualenvs. Idempotent: each is (re)installed only when its pin file, the
# Python version or its key executable changed/went missing; otherwise this returns in well under a second.
#   .venv       the app (aiohttp, retrieval, rasa-sdk actions, CLI `civic`), from pyproject.toml
#   .venv-rasa  the Rasa 3.6.21 engine, from requirements/engine.txt
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found (Python 3.11 is required)" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
  || { echo "setup: $PYTHON is older than 3.11" >&2; exit 1; }

stamp_of() { { "$PYTHON" --version; sha256sum "$@"; } | sha256sum | cut -c1-16; }

# Run pip, dropping the "Location '…' is ignored" warnings this machine's extra index configuration
# prints for every package it does not mirror; real warnings and errors still reach the terminal.
quiet_pip() {
  local err rc=0
  err=$(mktemp)
  "$@" 2>"$err" || rc=$?
  grep -v -E "^WARNING: Location '[^']*' is ignored" "$err" >&2 || true
  rm -f "$err"
  return "$rc"
}

ensure_venv() {  # dir, stamp, executable that must exist, install-command...
  local dir=$1 want=$2 exe=$3; shift 3
  if [[ -f "$dir/.civic-stamp" && "$(cat "$dir/.civic-stamp")" == "$want" && -x "$dir/bin/$exe" ]]; then
    return 0
  fi
  echo "==> setting up $dir (a few minutes the first time)"
  [[ -x "$dir/bin/python" ]] || "$PYTHON" -m venv "$dir"
  quiet_pip "$dir/bin/pip" install -q --upgrade pip
  quiet_pip "$@"
  [[ -x "$dir/bin/$exe" ]] || { echo "setup: $dir/bin/$exe missing after install" >&2; exit 1; }
  echo "$want" > "$dir/.civic-stamp"
  echo "==> $dir ready"
}

ensure_venv .venv-rasa "$(stamp_of requirements/engine.txt)" rasa \
  .venv-rasa/bin/pip install -q --no-deps --ignore-requires-python -r requirements/engine.txt

ensure_venv .venv "$(stamp_of pyproject.toml)" civic \
  .venv/bin/pip install -q -e '.[dev]'

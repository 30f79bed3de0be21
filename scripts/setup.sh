#!/usr/bin/env bash
# Create or refresh the two virtualenvs. Idempotent: each is rebuilt only when its pin file changed.
#   .venv       the app (aiohttp, retrieval, rasa-sdk actions, CLI `civic`), from pyproject.toml
#   .venv-rasa  the Rasa 3.6.21 engine, from requirements/engine.txt
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

ensure_venv() {  # dir, stamp, install-command...
  local dir=$1 want=$2; shift 2
  if [[ -f "$dir/.civic-stamp" && "$(cat "$dir/.civic-stamp")" == "$want" ]]; then
    return 0
  fi
  echo "==> setting up $dir (this takes a few minutes the first time)"
  [[ -x "$dir/bin/python" ]] || "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip
  "$@"
  echo "$want" > "$dir/.civic-stamp"
}

ensure_venv .venv-rasa "$(stamp_of requirements/engine.txt)" \
  .venv-rasa/bin/pip install -q --no-deps --ignore-requires-python -r requirements/engine.txt

ensure_venv .venv "$(stamp_of pyproject.toml)" \
  .venv/bin/pip install -q -e '.[dev]'

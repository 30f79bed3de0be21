#!/usr/bin/env bash
# Create or refresh the two virtualenvs. Idempotent: each is (re)installed only when its pin file, the
# Python version or its key executable changed/went missing; otherwise this returns in well under a second.
#   .venv       the app (aiohttp, retrieval, rasa-sdk actions, CLI `civic`), from pyproject.toml
#   .venv-rasa  the Rasa 3.6.21 engine, from requirements/engine.txt
# Packages are installed with uv (pinned below; bootstrapped into .venv-tools from PyPI), which builds both
# venvs in about a minute where pip took ~4-6 min (bench/FIRST_ANSWER.md); without it (no uv wheel for this
# platform, CIVIC_SETUP_PIP=1) pip does the same job.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.9

command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found (Python 3.11 is required)" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
  || { echo "setup: $PYTHON is older than 3.11" >&2; exit 1; }

stamp_of() { { "$PYTHON" --version; sha256sum "$@"; } | sha256sum | cut -c1-16; }

# Run pip, dropping the "Location '…' is ignored" warnings this machine's extra index configuration
# prints for every package it does not mirror; real warnings and errors still reach the terminal.
quiet() {
  local err rc=0
  err=$(mktemp)
  "$@" 2>"$err" || rc=$?
  grep -v -E "^WARNING: Location '[^']*' is ignored" "$err" >&2 || true
  rm -f "$err"
  return "$rc"
}

# uv, in a venv of its own (it is a single binary inside a wheel); "" when it cannot be had
uv_bin() {
  [[ -n "${CIVIC_SETUP_PIP:-}" ]] && return 0
  local tools=.venv-tools
  if [[ ! -x "$tools/bin/uv" || "$("$tools/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
    { [[ -x "$tools/bin/pip" ]] || "$PYTHON" -m venv "$tools"; } >/dev/null 2>&1 || return 0
    quiet "$tools/bin/pip" install -q "uv==$UV_VERSION" >/dev/null 2>&1 || return 0
  fi
  echo "$tools/bin/uv"
}
UV=$(uv_bin)
# uv does not read pip's configuration: the local wheel folder (the CPU build of torch) is passed on
export UV_FIND_LINKS=${UV_FIND_LINKS:-${PIP_FIND_LINKS:-}}
[[ -n "$UV_FIND_LINKS" ]] || unset UV_FIND_LINKS

ensure_venv() {  # dir, stamp, executable that must exist, then the install arguments (after "--")
  local dir=$1 want=$2 exe=$3; shift 4
  if [[ -f "$dir/.civic-stamp" && "$(cat "$dir/.civic-stamp")" == "$want" && -x "$dir/bin/$exe" ]]; then
    return 0
  fi
  local started=$SECONDS
  echo "==> setting up $dir (${UV:+uv, }about a minute the first time)"
  if [[ -n "$UV" ]]; then
    [[ -x "$dir/bin/python" ]] || "$UV" venv -q --python "$PYTHON" "$dir"
    quiet "$UV" pip install -q --python "$dir/bin/python" "$@"
  else
    [[ -x "$dir/bin/python" ]] || "$PYTHON" -m venv "$dir"
    quiet "$dir/bin/pip" install -q --upgrade pip
    quiet "$dir/bin/pip" install -q "$@"
  fi
  [[ -x "$dir/bin/$exe" ]] || { echo "setup: $dir/bin/$exe missing after install" >&2; exit 1; }
  echo "$want" > "$dir/.civic-stamp"
  echo "==> $dir ready in $((SECONDS - started)) s"
}

if [[ -n "$UV" ]]; then
  ensure_venv .venv-rasa "$(stamp_of requirements/engine.txt)" rasa -- \
    --no-deps -r requirements/engine.txt
else
  ensure_venv .venv-rasa "$(stamp_of requirements/engine.txt)" rasa -- \
    --no-deps --ignore-requires-python -r requirements/engine.txt
fi

ensure_venv .venv "$(stamp_of pyproject.toml)" civic -- -e '.[dev]'

"""Start Rasa with its secret kept off the command line: ``python -m engine.launch run …`` inside
``.venv-rasa``.

``rasa run --auth-token=…`` would put the engine token into ``/proc/<pid>/cmdline``, which every local user
can read (``ps``).  The supervisor (civic/supervisor.py) instead passes the token in the environment
variable ``CIVIC_RASA_AUTH_TOKEN``; this module removes it from the environment, adds ``--auth-token`` to
the arguments inside the process (``sys.argv``, which ``/proc`` does not show) and calls Rasa's own
``main``.

It also masks personal data in every log record the engine writes (core/pii.py :func:`mask_log_records`):
Rasa logs the citizen's text at DEBUG, Sanic its access lines, our channel (engine/channel.py) its own.
"""

from __future__ import annotations

import os
import sys

from core.pii import mask_log_records

TOKEN_ENV = "CIVIC_RASA_AUTH_TOKEN"


def rasa_argv(args: list[str], token: str) -> list[str]:
    """``rasa`` + ``args``, with ``--auth-token`` added for ``run`` when there is a token."""
    argv = ["rasa", *args]
    if token and args[:1] == ["run"]:
        argv.append(f"--auth-token={token}")
    return argv


def main(args: list[str] | None = None) -> None:
    token = os.environ.pop(TOKEN_ENV, "")
    mask_log_records()
    sys.argv = rasa_argv(list(sys.argv[1:] if args is None else args), token)
    from rasa.__main__ import main as rasa_main  # the engine's virtualenv only

    rasa_main()


if __name__ == "__main__":
    main()
